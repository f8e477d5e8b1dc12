#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/store_internal.h"

namespace hpo {

using nlohmann::json;
using namespace store_internal;  // NOLINT(build/namespaces)

int64_t Store::CreateStudy(const StudyRow& s) {
  Begin();
  ++pending_;
  Prepared(kCreateStudy,
           "INSERT INTO studies(name, spec, spec_hash, algorithm, metric, "
           "mode, state, created_at, updated_at, elapsed_s) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(s.name)
      .Bind(s.spec)
      .Bind(s.spec_hash)
      .Bind(s.algorithm)
      .Bind(s.metric)
      .Bind(s.mode)
      .Bind(s.state)
      .Bind(s.created_at)
      .Bind(s.updated_at)
      .Bind(s.elapsed_s)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateStudy(int64_t study, const std::string& state,
                        double elapsed_s, double now) {
  Begin();
  ++pending_;
  Prepared(kUpdateStudy,
           "UPDATE studies SET state = ?, elapsed_s = ?, updated_at = ? "
           "WHERE id = ?")
      .Bind(state)
      .Bind(elapsed_s)
      .Bind(now)
      .Bind(study)
      .Run();
}

void Store::PutTrial(int64_t study, const TrialRow& t) {
  Begin();
  ++pending_;
  Prepared(kPutTrial,
           "INSERT OR REPLACE INTO trials(study_id, number, state, params, "
           "bracket, rung, epochs, attempts, value, best_value, checkpoint, "
           "checkpoint_epoch, error, worker, updated_at, best_checkpoint, "
           "best_checkpoint_epoch) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(t.number)
      .Bind(ToString(t.state))
      .Bind(t.params.dump())
      .Bind(t.bracket)
      .Bind(t.rung)
      .Bind(t.epochs)
      .Bind(t.attempts)
      .Bind(t.value)
      .Bind(t.best_value)
      .Bind(t.checkpoint)
      .Bind(t.checkpoint_epoch)
      .Bind(t.error)
      .Bind(t.worker)
      .Bind(t.updated_at)
      .Bind(t.best_checkpoint)
      .Bind(t.best_checkpoint_epoch)
      .Run();
  // Parameters never change once a trial exists; write them once.
  Statement& has = Prepared(kHasParams,
                            "SELECT 1 FROM trial_params WHERE study_id = ? "
                            "AND trial = ? LIMIT 1");
  has.Bind(study).Bind(t.number);
  bool present = has.Step();
  if (present) has.Reset();
  if (present || !t.params.is_object()) return;
  for (const auto& [name, value] : t.params.items()) {
    Prepared(kPutParam,
             "INSERT OR REPLACE INTO trial_params(study_id, trial, name, "
             "value) VALUES (?, ?, ?, ?)")
        .Bind(study)
        .Bind(t.number)
        .Bind(name)
        .BindJson(value)
        .Run();
  }
}

void Store::AddStateChange(int64_t study, int64_t trial, TrialState state,
                           int epoch, double now) {
  Begin();
  ++pending_;
  Prepared(kStateChange,
           "INSERT INTO state_changes(study_id, trial, state, epoch, at) "
           "VALUES (?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(trial)
      .Bind(ToString(state))
      .Bind(epoch)
      .Bind(now)
      .Run();
}

int64_t Store::AddAttempt(int64_t study, const AttemptRow& a) {
  Begin();
  ++pending_;
  Prepared(kAddAttempt,
           "INSERT INTO attempts(study_id, trial, attempt, lease, worker, "
           "from_epoch, to_epoch, state, reason, started_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(a.trial)
      .Bind(a.attempt)
      .Bind(a.lease)
      .Bind(a.worker)
      .Bind(a.from_epoch)
      .Bind(a.to_epoch)
      .Bind(a.state)
      .Bind(a.reason)
      .Bind(a.started_at)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateAttemptTarget(int64_t attempt_id, int to_epoch) {
  Begin();
  ++pending_;
  Prepared(kAttemptTarget, "UPDATE attempts SET to_epoch = ? WHERE id = ?")
      .Bind(to_epoch)
      .Bind(attempt_id)
      .Run();
}

void Store::EndAttempt(int64_t attempt_id, const std::string& state,
                       const std::string& reason, double now) {
  Begin();
  ++pending_;
  Prepared(kEndAttempt,
           "UPDATE attempts SET state = ?, reason = ?, ended_at = ? "
           "WHERE id = ?")
      .Bind(state)
      .Bind(reason)
      .Bind(now)
      .Bind(attempt_id)
      .Run();
}

void Store::PutMetrics(int64_t study, const MetricRow& row) {
  Begin();
  ++pending_;
  Statement& st = Prepared(
      kPutMetrics,
      "INSERT OR REPLACE INTO metrics(study_id, trial, epoch, attempt_id, "
      "objective, train_loss, val_loss, val_accuracy, val_track_accuracy, "
      "epoch_seconds, samples_per_second, all_metrics, recorded_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.Bind(study)
      .Bind(row.trial)
      .Bind(row.epoch)
      .Bind(row.attempt_id)
      .Bind(row.objective);
  for (const char* name :
       {"train_loss", "val_loss", "val_accuracy", "val_track_accuracy",
        "epoch_seconds", "samples_per_second"}) {
    auto it = row.metrics.find(name);
    if (it != row.metrics.end() && it->is_number()) {
      st.Bind(it->get<double>());
    } else {
      st.BindNull();
    }
  }
  st.Bind(row.metrics.dump()).Bind(row.recorded_at).Run();
}

void Store::DeleteMetricsAfter(int64_t study, int64_t trial, int epoch) {
  Begin();
  ++pending_;
  Prepared(kDeleteMetrics,
           "DELETE FROM metrics WHERE study_id = ? AND trial = ? AND epoch > ?")
      .Bind(study)
      .Bind(trial)
      .Bind(epoch)
      .Run();
  Prepared(
      kDeleteExploits,
      "DELETE FROM exploits WHERE study_id = ? AND trial = ? AND epoch > ?")
      .Bind(study)
      .Bind(trial)
      .Bind(epoch)
      .Run();
}

void Store::AddEvent(int64_t study, int64_t seq,
                     const std::string& event_json) {
  Begin();
  ++pending_;
  Prepared(kAddEvent,
           "INSERT INTO events(study_id, seq, event) VALUES (?, ?, ?)")
      .Bind(study)
      .Bind(seq)
      .Bind(event_json)
      .Run();
}

int64_t Store::AddWorker(const std::string& name, const std::string& host,
                         const json& devices, int slots, int64_t pid,
                         double now) {
  Begin();
  ++pending_;
  Prepared(kAddWorker,
           "INSERT INTO workers(name, host, devices, slots, pid, state, "
           "connected_at, last_seen) VALUES (?, ?, ?, ?, ?, 'connected', ?, ?)")
      .Bind(name)
      .Bind(host)
      .Bind(devices.dump())
      .Bind(slots)
      .Bind(pid)
      .Bind(now)
      .Bind(now)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateWorker(int64_t worker_id, const std::string& state,
                         double now) {
  Begin();
  ++pending_;
  Prepared(kUpdateWorker,
           "UPDATE workers SET state = ?, last_seen = ? WHERE id = ?")
      .Bind(state)
      .Bind(now)
      .Bind(worker_id)
      .Run();
}

json ChangedParams(const json& old_params, const json& new_params) {
  static const json kNone = json::object();
  const json& before = old_params.is_object() ? old_params : kNone;
  const json& after = new_params.is_object() ? new_params : kNone;
  json changed = json::object();
  for (const auto& [name, value] : before.items()) {
    auto it = after.find(name);
    if (it == after.end()) {
      changed[name] = json::array({value, nullptr});
    } else if (*it != value) {
      changed[name] = json::array({value, *it});
    }
  }
  for (const auto& [name, value] : after.items()) {
    if (!before.contains(name)) changed[name] = json::array({nullptr, value});
  }
  return changed;
}

void Store::AddExploit(int64_t study, const ExploitRow& row) {
  Begin();
  ++pending_;
  Prepared(kPutExploit,
           "INSERT OR REPLACE INTO exploits(study_id, trial, epoch, parent, "
           "parent_epoch, old_params, new_params, changed, recorded_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(row.trial)
      .Bind(row.epoch)
      .Bind(row.parent)
      .Bind(row.parent_epoch)
      .Bind(row.old_params.dump())
      .Bind(row.new_params.dump())
      .Bind(ChangedParams(row.old_params, row.new_params).dump())
      .Bind(row.recorded_at)
      .Run();
}

void Store::PutCheckpoint(int64_t study, int64_t trial, int epoch,
                          const std::string& path) {
  Begin();
  ++pending_;
  Prepared(kPutCheckpoint,
           "INSERT OR REPLACE INTO checkpoints(study_id, trial, epoch, path) "
           "VALUES (?, ?, ?, ?)")
      .Bind(study)
      .Bind(trial)
      .Bind(epoch)
      .Bind(path)
      .Run();
}

void Store::DeleteCheckpoint(int64_t study, int64_t trial, int epoch) {
  Begin();
  ++pending_;
  Prepared(kDeleteCheckpoint,
           "DELETE FROM checkpoints WHERE study_id = ? AND trial = ? AND "
           "epoch = ?")
      .Bind(study)
      .Bind(trial)
      .Bind(epoch)
      .Run();
}

}  // namespace hpo
