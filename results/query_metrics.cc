#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json_util.h"
#include "common/leaderboard.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "results/db_args.h"
#include "results/query_commands.h"

namespace hpo {
namespace query {

using hpo::CheckDatabaseFile;
using hpo::NameList;

// ---------------------------------------------------------------------------
// Per-epoch metrics.

// The metric names in `rows`, in reading order: those that workers report
// (README.md), then any others alphabetically.
std::vector<std::string> MetricNames(const std::vector<hpo::MetricRow>& rows) {
  static const std::vector<std::string> kKnown = {
      "train_loss",     "val_loss",    "val_accuracy",  "val_track_accuracy",
      "val_track_loss", "lr",          "epoch_seconds", "samples_per_second",
      "data_seconds",   "val_seconds", "cpu_seconds"};
  std::set<std::string> present;
  for (const hpo::MetricRow& row : rows) {
    if (!row.metrics.is_object()) continue;
    for (const auto& item : row.metrics.items()) present.insert(item.key());
  }
  std::vector<std::string> names;
  for (const std::string& name : kKnown) {
    if (present.erase(name)) names.push_back(name);
  }
  names.insert(names.end(), present.begin(), present.end());
  return names;
}

// Maps attempt ids (MetricRow::attempt_id) to attempt numbers.
std::map<int64_t, int> AttemptNumbers(
    const std::vector<hpo::AttemptRow>& attempts) {
  std::map<int64_t, int> numbers;
  for (const hpo::AttemptRow& attempt : attempts) {
    numbers[attempt.id] = attempt.attempt;
  }
  return numbers;
}

EpochColumns::EpochColumns(const std::vector<hpo::MetricRow>& rows,
                           std::map<int64_t, int> attempts, hpo::ResultSet& out)
    : attempts_(std::move(attempts)) {
  std::set<std::string> taken;
  for (const hpo::ResultColumn& column : out.columns) {
    taken.insert(column.name);
  }
  for (const char* name : {"epoch", "attempt", "objective"}) {
    out.columns.push_back({name});
    taken.insert(name);
  }
  for (const std::string& name : MetricNames(rows)) {
    std::string column = taken.count(name) ? "metric_" + name : name;
    metrics_.emplace_back(name, column);
    out.columns.push_back({column});
  }
}

void EpochColumns::Fill(const hpo::MetricRow* m, ordered_json& row) const {
  row["epoch"] = m ? ordered_json(m->epoch) : ordered_json();
  row["attempt"] = ordered_json();
  if (m != nullptr) {
    auto it = attempts_.find(m->attempt_id);
    if (it != attempts_.end()) row["attempt"] = it->second;
  }
  row["objective"] = m ? OrNull(m->objective) : ordered_json();
  for (const auto& [name, column] : metrics_) {
    row[column] = ordered_json();
    if (m == nullptr || !m->metrics.is_object()) continue;
    auto it = m->metrics.find(name);
    if (it != m->metrics.end()) row[column] = Ordered(*it);
  }
}

// The tidy form of learning curves: one row per (trial, epoch), with the
// trial, the epoch, its attempt, the objective and a column per metric.
hpo::ResultSet Curves(const std::vector<hpo::MetricRow>& rows,
                      const std::vector<hpo::AttemptRow>& attempts) {
  hpo::ResultSet out;
  out.columns = {{"trial"}};
  EpochColumns columns(rows, AttemptNumbers(attempts), out);
  for (const hpo::MetricRow& m : rows) {
    ordered_json row;
    row["trial"] = m.trial;
    columns.Fill(&m, row);
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace query
}  // namespace hpo
