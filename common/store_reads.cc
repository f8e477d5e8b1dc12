// The store's reads (hpo-query, hpo-report, a resume): each table's rows
// through one column table (store_internal.h's Column and Select).
#include "common/error.h"
#include "common/store_internal.h"

namespace hpo {

using nlohmann::json;
using namespace store_internal;  // NOLINT(build/namespaces)

namespace {

const std::vector<Column<StudyRow>>& StudyColumns() {
  static const std::vector<Column<StudyRow>> columns = {
      {"id", &StudyRow::id},
      {"name", &StudyRow::name},
      {"spec", &StudyRow::spec},
      {"spec_hash", &StudyRow::spec_hash},
      {"algorithm", &StudyRow::algorithm},
      {"metric", &StudyRow::metric},
      {"mode", &StudyRow::mode},
      {"state", &StudyRow::state},
      {"created_at", &StudyRow::created_at},
      {"updated_at", &StudyRow::updated_at},
      {"elapsed_s", &StudyRow::elapsed_s},
  };
  return columns;
}

const std::vector<Column<TrialRow>>& TrialColumns() {
  static const std::vector<Column<TrialRow>> columns = {
      {"number", &TrialRow::number},
      {"state",
       [](Store::Statement& st, int col, TrialRow& t) {
         t.state =
             TrialStateFromString(st.Text(col)).value_or(TrialState::kQueued);
       }},
      {"params", &TrialRow::params},
      {"bracket", &TrialRow::bracket},
      {"rung", &TrialRow::rung},
      {"epochs", &TrialRow::epochs},
      {"attempts", &TrialRow::attempts},
      {"value", &TrialRow::value},
      {"best_value", &TrialRow::best_value},
      {"checkpoint", &TrialRow::checkpoint},
      {"checkpoint_epoch", &TrialRow::checkpoint_epoch},
      {"error", &TrialRow::error},
      {"worker", &TrialRow::worker},
      {"updated_at", &TrialRow::updated_at},
  };
  return columns;
}

// TrialColumns() and, from version 4 on, the best epoch's checkpoint.
const std::vector<Column<TrialRow>>& TrialColumns(int version) {
  static const std::vector<Column<TrialRow>> with_best = [] {
    std::vector<Column<TrialRow>> columns = TrialColumns();
    columns.push_back({"best_checkpoint", &TrialRow::best_checkpoint});
    columns.push_back(
        {"best_checkpoint_epoch", &TrialRow::best_checkpoint_epoch});
    return columns;
  }();
  return version >= 4 ? with_best : TrialColumns();
}

const std::vector<Column<MetricRow>>& MetricColumns() {
  static const std::vector<Column<MetricRow>> columns = {
      {"trial", &MetricRow::trial},
      {"epoch", &MetricRow::epoch},
      {"attempt_id", &MetricRow::attempt_id},
      {"all_metrics", &MetricRow::metrics},
      {"objective", &MetricRow::objective},
      {"recorded_at", &MetricRow::recorded_at},
  };
  return columns;
}

const std::vector<Column<AttemptRow>>& AttemptColumns() {
  static const std::vector<Column<AttemptRow>> columns = {
      {"id", &AttemptRow::id},
      {"trial", &AttemptRow::trial},
      {"attempt", &AttemptRow::attempt},
      {"lease", &AttemptRow::lease},
      {"worker", &AttemptRow::worker},
      {"from_epoch", &AttemptRow::from_epoch},
      {"to_epoch", &AttemptRow::to_epoch},
      {"state", &AttemptRow::state},
      {"reason", &AttemptRow::reason},
      {"started_at", &AttemptRow::started_at},
      {"ended_at", &AttemptRow::ended_at},
  };
  return columns;
}

// confusion[true][predicted] from its JSON text; what is not an integer
// reads as 0.
void ReadConfusion(Store::Statement& st, int col, EvaluationRow& e) {
  const json confusion = st.Json(col);
  if (!confusion.is_array()) return;
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

void ReadClasses(Store::Statement& st, int col, EvaluationRow& e) {
  const json classes = st.Json(col);
  if (!classes.is_array()) return;
  for (const json& c : classes) {
    e.classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  }
}

const std::vector<Column<EvaluationRow>>& EvaluationColumns() {
  static const std::vector<Column<EvaluationRow>> columns = {
      {"trial", &EvaluationRow::trial},
      {"split", &EvaluationRow::split},
      {"state", &EvaluationRow::state},
      {"error", &EvaluationRow::error},
      {"checkpoint", &EvaluationRow::checkpoint},
      {"epoch", &EvaluationRow::epoch},
      {"loss", &EvaluationRow::loss},
      {"accuracy", &EvaluationRow::accuracy},
      {"track_accuracy", &EvaluationRow::track_accuracy},
      {"samples", &EvaluationRow::samples},
      {"tracks", &EvaluationRow::tracks},
      {"metrics",
       [](Store::Statement& st, int col, EvaluationRow& e) {
         e.metrics = st.Json(col);
         if (!e.metrics.is_object()) e.metrics = json::object();
       }},
      {"confusion", ReadConfusion},
      {"classes", ReadClasses},
      {"worker", &EvaluationRow::worker},
      {"recorded_at", &EvaluationRow::recorded_at},
  };
  return columns;
}

// A JSON object column; what is not an object (damaged text) reads as {}.
json ObjectAt(Store::Statement& st, int col) {
  json value = st.Json(col);
  return value.is_object() ? value : json::object();
}

const std::vector<Column<ExploitRow>>& ExploitColumns() {
  static const std::vector<Column<ExploitRow>> columns = {
      {"trial", &ExploitRow::trial},
      {"epoch", &ExploitRow::epoch},
      {"parent", &ExploitRow::parent},
      {"parent_epoch", &ExploitRow::parent_epoch},
      {"old_params", [](Store::Statement& st, int col,
                        ExploitRow& x) { x.old_params = ObjectAt(st, col); }},
      {"new_params", [](Store::Statement& st, int col,
                        ExploitRow& x) { x.new_params = ObjectAt(st, col); }},
      {"recorded_at", &ExploitRow::recorded_at},
  };
  return columns;
}

const std::vector<Column<CheckpointRow>>& CheckpointColumns() {
  static const std::vector<Column<CheckpointRow>> columns = {
      {"trial", &CheckpointRow::trial},
      {"epoch", &CheckpointRow::epoch},
      {"path", &CheckpointRow::path},
  };
  return columns;
}

}  // namespace

std::vector<StudyRow> Store::Studies() {
  return Select(this, StudyColumns(), "FROM studies ORDER BY id");
}

std::optional<StudyRow> Store::FindStudy(const std::string& name) {
  for (StudyRow& s : Studies()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

std::vector<TrialRow> Store::Trials(int64_t study, const std::string& state) {
  return Select(this, TrialColumns(schema_version()),
                "FROM trials WHERE study_id = ? AND (? = '' OR state = ?) "
                "ORDER BY number",
                study, state, state);
}

std::vector<MetricRow> Store::Metrics(int64_t study, int64_t trial) {
  return Select(this, MetricColumns(),
                "FROM metrics WHERE study_id = ? AND (? < 0 OR trial = ?) "
                "ORDER BY trial, epoch",
                study, trial, trial);
}

std::vector<AttemptRow> Store::Attempts(int64_t study, int64_t trial) {
  return Select(this, AttemptColumns(),
                "FROM attempts WHERE study_id = ? AND (? < 0 OR trial = ?) "
                "ORDER BY id",
                study, trial, trial);
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
  if (schema_version() < 2) return {};
  return Select(this, EvaluationColumns(),
                "FROM evaluations WHERE study_id = ? ORDER BY trial, split",
                study);
}

std::vector<ExploitRow> Store::Exploits(int64_t study) {
  if (schema_version() < 3) return {};
  return Select(this, ExploitColumns(),
                "FROM exploits WHERE study_id = ? ORDER BY trial, epoch",
                study);
}

std::vector<CheckpointRow> Store::Checkpoints(int64_t study) {
  if (schema_version() < 3) return {};
  return Select(this, CheckpointColumns(),
                "FROM checkpoints WHERE study_id = ? ORDER BY trial, epoch",
                study);
}

}  // namespace hpo
