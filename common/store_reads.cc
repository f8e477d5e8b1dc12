#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/store_internal.h"

namespace hpo {

using nlohmann::json;
using namespace store_internal;  // NOLINT(build/namespaces)

namespace {

constexpr const char* kStudyColumns =
    "SELECT id, name, spec, spec_hash, algorithm, metric, mode, state, "
    "created_at, updated_at, elapsed_s FROM studies ";

}  // namespace

std::vector<StudyRow> Store::Studies() {
  Statement st(this, (std::string(kStudyColumns) + "ORDER BY id").c_str());
  std::vector<StudyRow> out;
  while (st.Step()) {
    StudyRow s;
    s.id = st.Int(0);
    s.name = st.Text(1);
    s.spec = st.Text(2);
    s.spec_hash = st.Text(3);
    s.algorithm = st.Text(4);
    s.metric = st.Text(5);
    s.mode = st.Text(6);
    s.state = st.Text(7);
    s.created_at = st.Real(8);
    s.updated_at = st.Real(9);
    s.elapsed_s = st.Real(10);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<StudyRow> Store::FindStudy(const std::string& name) {
  for (StudyRow& s : Studies()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

std::vector<TrialRow> Store::Trials(int64_t study, const std::string& state) {
  Statement st(this,
               "SELECT number, state, params, bracket, rung, epochs, "
               "attempts, value, best_value, checkpoint, checkpoint_epoch, "
               "error, worker, updated_at FROM trials WHERE study_id = ? "
               "AND (? = '' OR state = ?) ORDER BY number");
  st.Bind(study).Bind(state).Bind(state);
  std::vector<TrialRow> out;
  while (st.Step()) {
    TrialRow t;
    t.number = st.Int(0);
    t.state = TrialStateFromString(st.Text(1)).value_or(TrialState::kQueued);
    t.params = st.Json(2);
    t.bracket = static_cast<int>(st.Int(3));
    t.rung = static_cast<int>(st.Int(4));
    t.epochs = static_cast<int>(st.Int(5));
    t.attempts = static_cast<int>(st.Int(6));
    t.value = st.OptReal(7);
    t.best_value = st.OptReal(8);
    t.checkpoint = st.Text(9);
    t.checkpoint_epoch = static_cast<int>(st.Int(10));
    t.error = st.Text(11);
    t.worker = st.Text(12);
    t.updated_at = st.Real(13);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<MetricRow> Store::Metrics(int64_t study, int64_t trial) {
  Statement st(this,
               "SELECT trial, epoch, attempt_id, all_metrics, objective, "
               "recorded_at FROM metrics WHERE study_id = ? AND (? < 0 OR "
               "trial = ?) ORDER BY trial, epoch");
  st.Bind(study).Bind(trial).Bind(trial);
  std::vector<MetricRow> out;
  while (st.Step()) {
    MetricRow m;
    m.trial = st.Int(0);
    m.epoch = static_cast<int>(st.Int(1));
    m.attempt_id = st.Int(2);
    m.metrics = st.Json(3);
    m.objective = st.OptReal(4);
    m.recorded_at = st.Real(5);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<AttemptRow> Store::Attempts(int64_t study, int64_t trial) {
  Statement st(this,
               "SELECT id, trial, attempt, lease, worker, from_epoch, "
               "to_epoch, state, reason, started_at, ended_at FROM attempts "
               "WHERE study_id = ? AND (? < 0 OR trial = ?) ORDER BY id");
  st.Bind(study).Bind(trial).Bind(trial);
  std::vector<AttemptRow> out;
  while (st.Step()) {
    AttemptRow a;
    a.id = st.Int(0);
    a.trial = st.Int(1);
    a.attempt = static_cast<int>(st.Int(2));
    a.lease = st.Int(3);
    a.worker = st.Text(4);
    a.from_epoch = static_cast<int>(st.Int(5));
    a.to_epoch = static_cast<int>(st.Int(6));
    a.state = st.Text(7);
    a.reason = st.Text(8);
    a.started_at = st.Real(9);
    a.ended_at = st.OptReal(10);
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> Store::Events(int64_t study) {
  Statement st(this,
               "SELECT event FROM events WHERE study_id = ? ORDER BY seq");
  st.Bind(study);
  std::vector<std::string> out;
  while (st.Step()) out.push_back(st.Text(0));
  return out;
}

void Store::PutEvaluation(int64_t study, const EvaluationRow& row) {
  Begin();
  json confusion = row.confusion;
  json classes = row.classes;
  Prepared(kPutEvaluation,
           "INSERT OR REPLACE INTO evaluations(study_id, trial, split, "
           "state, error, checkpoint, epoch, loss, accuracy, track_accuracy, "
           "samples, tracks, metrics, confusion, classes, worker, "
           "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
           "?, ?, ?)")
      .Bind(study)
      .Bind(row.trial)
      .Bind(row.split)
      .Bind(row.state)
      .Bind(row.error)
      .Bind(row.checkpoint)
      .Bind(row.epoch)
      .Bind(row.loss)
      .Bind(row.accuracy)
      .Bind(row.track_accuracy)
      .Bind(row.samples)
      .Bind(row.tracks)
      .Bind(row.metrics.dump())
      .Bind(confusion.dump())
      .Bind(classes.dump())
      .Bind(row.worker)
      .Bind(row.recorded_at)
      .Run();
  ++pending_;
}

std::vector<EvaluationRow> Store::Evaluations(int64_t study) {
  std::vector<EvaluationRow> out;
  if (schema_version() < 2) return out;
  Statement st(this,
               "SELECT trial, split, state, error, checkpoint, epoch, loss, "
               "accuracy, track_accuracy, samples, tracks, metrics, "
               "confusion, classes, worker, recorded_at FROM evaluations "
               "WHERE study_id = ? ORDER BY trial, split");
  st.Bind(study);
  while (st.Step()) {
    EvaluationRow e;
    e.trial = st.Int(0);
    e.split = st.Text(1);
    e.state = st.Text(2);
    e.error = st.Text(3);
    e.checkpoint = st.Text(4);
    e.epoch = static_cast<int>(st.Int(5));
    e.loss = st.OptReal(6);
    e.accuracy = st.OptReal(7);
    e.track_accuracy = st.OptReal(8);
    e.samples = st.Int(9);
    e.tracks = st.Int(10);
    e.metrics = st.Json(11);
    if (!e.metrics.is_object()) e.metrics = json::object();
    json confusion = st.Json(12);
    if (confusion.is_array()) {
      for (const json& r : confusion) {
        std::vector<int64_t> row;
        if (r.is_array()) {
          for (const json& v : r) {
            row.push_back(v.is_number_integer() ? v.get<int64_t>() : 0);
          }
        }
        e.confusion.push_back(std::move(row));
      }
    }
    json classes = st.Json(13);
    if (classes.is_array()) {
      for (const json& c : classes) {
        e.classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
      }
    }
    e.worker = st.Text(14);
    e.recorded_at = st.Real(15);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace hpo
