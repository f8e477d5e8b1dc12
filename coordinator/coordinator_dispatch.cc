// Dispatch and leases: the next job, assignments, attempts that end, fail
// or are lost, retries, and the batched writes of trial state.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/json_util.h"
#include "coordinator/coordinator.h"

namespace hpo {

using nlohmann::json;

bool Coordinator::MarkDataError(const std::string& identity,
                                const std::string& reason) {
  Worker& worker = workers_.at(identity);
  if (!worker.data_error) {
    worker.data_error = true;
    ++data_error_workers_;
  }
  const bool elsewhere =
      data_error_workers_ < static_cast<int>(workers_.size());
  log_("worker " + worker.name + " cannot read this study's data (" + reason +
       "); " +
       (elsewhere ? "it gets no more of its jobs while other workers can, "
                    "and the job is retried on another"
                  : "no connected worker can, so the job fails"));
  return elsewhere;
}

bool Coordinator::PassedOver(const Worker& worker) const {
  return worker.data_error &&
         data_error_workers_ < static_cast<int>(workers_.size());
}

std::optional<Job> Coordinator::NextJob() {
  if (!queue_.empty()) {
    Job job = queue_.front();
    queue_.pop_front();
    return job;
  }
  if (scheduler_done_ || finished_) return std::nullopt;
  Decision d = scheduler_->NextJob();
  if (d.type == Decision::Type::kWait) return std::nullopt;  // Not recorded.
  RecordEvent({SchedulerEvent::Type::kNextJob, -1, 0, 0});
  SaveStateChanges();
  if (d.type == Decision::Type::kDone) {
    scheduler_done_ = true;
    return std::nullopt;
  }
  return d.job;
}

void Coordinator::DispatchAll() {
  ForgetCheckpoints();
  DispatchEvaluation();
  bool progress = true;
  while (progress && !finished_) {
    progress = false;
    for (auto& [identity, worker] : workers_) {
      if (static_cast<int>(worker.leases.size()) >= worker.slots) continue;
      if (PassedOver(worker)) continue;
      std::optional<Job> job = NextJob();
      if (!job) return;
      Assign(identity, worker, *job);
      progress = true;
    }
  }
}

void Coordinator::Assign(const std::string& identity, Worker& worker,
                         const Job& job) {
  TrialInfo& info = trials_.at(job.trial);
  const int64_t lease = NewLease();
  ++info.row.attempts;
  info.row.worker = worker.name;
  info.lease = lease;
  AttemptRow row;
  row.trial = job.trial;
  row.attempt = info.row.attempts;
  row.lease = lease;
  row.worker = worker.name;
  row.from_epoch = job.from_epoch;
  row.to_epoch = job.to_epoch;
  row.state = "running";
  row.started_at = clock_.WallTime();
  Attempt a;
  a.trial = job.trial;
  a.row_id = store_.AddAttempt(study_id_, row);
  a.identity = identity;
  a.from_epoch = a.epoch = job.from_epoch;
  a.to_epoch = job.to_epoch;
  a.last_activity = clock_.Now();
  attempts_.emplace(lease, a);
  worker.leases.insert(lease);
  SetTrialState(info, TrialState::kRunning);
  SaveTrial(info);
  std::optional<std::string> checkpoint = CheckpointFor(job);
  if (!checkpoint && job.source >= 0) {
    log_("trial " + std::to_string(job.trial) + " copies trial " +
         std::to_string(job.source) + " after epoch " +
         std::to_string(job.from_epoch) +
         ", which left no checkpoint: it continues with the new parameters "
         "only");
  }
  Send(identity,
       AssignMessage({lease, job.trial, static_cast<int>(info.row.attempts),
                      spec_.name, job.params, job.from_epoch, job.to_epoch,
                      checkpoint,
                      spec_.keep_best ? info.row.best_value : std::nullopt}));
}

std::optional<std::string> Coordinator::CheckpointFor(const Job& job) const {
  if (job.from_epoch <= 0) return std::nullopt;
  if (shared_checkpoints_) {
    const int64_t source = job.source < 0 ? job.trial : job.source;
    auto it = shared_.find({source, job.from_epoch});
    if (it != shared_.end()) return it->second;
    if (job.source >= 0) return std::nullopt;
  }
  const TrialInfo& info = trials_.at(job.trial);
  if (info.row.checkpoint_epoch == job.from_epoch &&
      !info.row.checkpoint.empty()) {
    return info.row.checkpoint;
  }
  return std::nullopt;
}

void Coordinator::EndAttempt(int64_t lease, const std::string& state,
                             const std::string& reason) {
  auto it = attempts_.find(lease);
  if (it == attempts_.end()) return;
  store_.EndAttempt(it->second.row_id, state, reason, clock_.WallTime());
  auto w = workers_.find(it->second.identity);
  if (w != workers_.end()) w->second.leases.erase(lease);
  auto t = trials_.find(it->second.trial);
  if (t != trials_.end() && t->second.lease == lease) t->second.lease = 0;
  attempts_.erase(it);
}

void Coordinator::RetryOrFail(int64_t trial, const std::string& reason,
                              bool counts) {
  TrialInfo& info = trials_.at(trial);
  info.failures += counts;
  if (info.failures >= spec_.execution.max_attempts) {
    FailTrial(trial, reason + " (after " + std::to_string(info.failures) +
                         " attempts; execution.max_attempts is " +
                         std::to_string(spec_.execution.max_attempts) + ")");
  } else {
    Requeue(trial);
  }
}

void Coordinator::Requeue(int64_t trial) {
  RecordEvent({SchedulerEvent::Type::kRestart, trial, 0, 0});
  scheduler_->OnRestart(trial);
  const TrialRecord& record = scheduler_->trials().at(trial);
  const int from = record.job.from_epoch;
  TrialInfo& info = trials_[trial];
  if (info.row.number != trial) {  // Not yet in the database.
    info.row.number = trial;
    info.row.params = record.params;
  }
  info.values.resize(static_cast<size_t>(from));
  info.row.epochs = from;
  info.row.value.reset();
  info.row.best_value.reset();
  for (double v : info.values) {
    if (!std::isfinite(v)) continue;
    info.row.value = v;
    if (!info.row.best_value ||
        scheduler_->Score(v) < scheduler_->Score(*info.row.best_value)) {
      info.row.best_value = v;
    }
  }
  store_.DeleteMetricsAfter(study_id_, trial, from);
  SetTrialState(info, TrialState::kQueued);
  SaveTrial(info);
  queue_.push_back(record.job);
}

void Coordinator::FailTrial(int64_t trial, const std::string& reason) {
  TrialInfo& info = trials_.at(trial);
  info.row.error = reason;
  RecordEvent({SchedulerEvent::Type::kFailed, trial, 0, 0});
  scheduler_->OnFailed(trial);
  SaveStateChanges();
  if (shared_checkpoints_) SweepSharedCheckpoints();
  SaveTrial(info);
}

void Coordinator::LoseWorker(const std::string& identity,
                             const std::string& why, bool counts) {
  auto it = workers_.find(identity);
  if (it == workers_.end()) return;
  Worker worker = std::move(it->second);
  data_error_workers_ -= worker.data_error;
  workers_.erase(it);
  store_.UpdateWorker(worker.id, counts ? "lost" : "left", clock_.WallTime());
  log_("worker " + worker.name + (counts ? " lost: " : " ") + why +
       (worker.leases.empty()
            ? ""
            : "; retrying its " + std::to_string(worker.leases.size()) +
                  " trial(s) elsewhere"));
  if (evaluation_ && evaluation_->RunsOn(identity)) {
    EvaluationFailed("error", "worker " + worker.name + " lost: " + why,
                     counts);
  }
  for (int64_t lease : worker.leases) {
    auto a = attempts_.find(lease);
    if (a == attempts_.end()) continue;
    const int64_t trial = a->second.trial;
    store_.EndAttempt(a->second.row_id, counts ? "lost" : "interrupted", why,
                      clock_.WallTime());
    attempts_.erase(a);
    TrialInfo& info = trials_.at(trial);
    info.lease = 0;
    SetTrialState(info, TrialState::kLost);
    RetryOrFail(trial, "worker " + worker.name + " lost: " + why, counts);
  }
  DispatchAll();
}

void Coordinator::RecordEvent(const SchedulerEvent& event) {
  store_.AddEvent(study_id_, next_event_++, event.ToJson().dump());
}

void Coordinator::SaveStateChanges() {
  for (const StateChange& change : scheduler_->TakeStateChanges()) {
    const TrialRecord& record = scheduler_->trials().at(change.trial);
    TrialInfo& info = trials_[change.trial];
    if (info.row.number != change.trial || info.row.params.empty()) {
      info.row.number = change.trial;
      info.row.params = record.params;
    }
    info.row.bracket = record.bracket;
    info.row.rung = record.rung;
    SetTrialState(info, change.state);
    SaveTrial(info);
    // PBT: a failed member's checkpoints may be another's starting point;
    // SweepSharedCheckpoints() deletes them when nobody needs them.
    if ((change.state == TrialState::kPruned ||
         change.state == TrialState::kFailed) &&
        !info.row.checkpoint.empty() && !shared_checkpoints_) {
      forget_.insert(change.trial);
    }
  }
}

void Coordinator::SetTrialState(TrialInfo& info, TrialState state) {
  if (info.row.state == state && info.row.updated_at != 0) return;
  info.row.state = state;
  store_.AddStateChange(study_id_, info.row.number, state, info.row.epochs,
                        clock_.WallTime());
}

void Coordinator::SaveTrial(TrialInfo& info) {
  info.row.updated_at = clock_.WallTime();
  unsaved_trials_.insert(info.row.number);
}

void Coordinator::Commit() {
  for (int64_t trial : unsaved_trials_) {
    store_.PutTrial(study_id_, trials_.at(trial).row);
  }
  unsaved_trials_.clear();
  store_.Commit();
  if (!uncommitted_forgets_.empty()) {
    forget_paths_.insert(forget_paths_.end(), uncommitted_forgets_.begin(),
                         uncommitted_forgets_.end());
    uncommitted_forgets_.clear();
    ForgetCheckpoints();
  }
}

}  // namespace hpo
