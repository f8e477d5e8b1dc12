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
// Test-split evaluations.

const hpo::EvaluationRow* FindEvaluation(
    const std::vector<hpo::EvaluationRow>& evaluations, int64_t trial) {
  for (const hpo::EvaluationRow& e : evaluations) {
    if (e.trial == trial && e.split == "test") return &e;
  }
  return nullptr;
}

// The name of class `i`: its name when the evaluation has one, else its
// label number.
std::string ClassName(const hpo::EvaluationRow& e, size_t i) {
  return i < e.classes.size() ? e.classes[i] : std::to_string(i);
}

// The number of classes of the confusion matrix (which may be ragged or
// disagree with the class names in a damaged row).
size_t ClassCount(const hpo::EvaluationRow& e) {
  size_t n = e.confusion.size();
  for (const auto& row : e.confusion) n = std::max(n, row.size());
  return n;
}

int64_t Count(const hpo::EvaluationRow& e, size_t true_class,
              size_t predicted) {
  if (true_class >= e.confusion.size()) return 0;
  const std::vector<int64_t>& row = e.confusion[true_class];
  return predicted < row.size() ? row[predicted] : 0;
}

// Per-class recall: the share of class i's segments predicted as i; null for
// a class with no segments.
ordered_json Recall(const hpo::EvaluationRow& e) {
  ordered_json recall = ordered_json::array();
  size_t n = ClassCount(e);
  for (size_t i = 0; i < n; ++i) {
    int64_t total = 0;
    for (size_t j = 0; j < n; ++j) total += Count(e, i, j);
    recall.push_back(
        total > 0 ? ordered_json(static_cast<double>(Count(e, i, i)) / total)
                  : ordered_json());
  }
  return recall;
}

// The evaluation as the "test" object of the JSON answers.
ordered_json TestObject(const hpo::EvaluationRow& e) {
  ordered_json test;
  test["split"] = e.split;
  test["state"] = e.state;
  test["error"] = OrNull(e.error);
  test["checkpoint"] = OrNull(e.checkpoint);
  test["epoch"] = e.epoch;
  test["loss"] = OrNull(e.loss);
  test["accuracy"] = OrNull(e.accuracy);
  test["track_accuracy"] = OrNull(e.track_accuracy);
  test["samples"] = e.samples;
  test["tracks"] = e.tracks;
  test["worker"] = OrNull(e.worker);
  test["metrics"] = Ordered(e.metrics);
  ordered_json classes = ordered_json::array();
  for (size_t i = 0; i < ClassCount(e); ++i) classes.push_back(ClassName(e, i));
  test["classes"] = classes;
  test["confusion"] = e.confusion;
  test["recall"] = Recall(e);
  return test;
}

// The evaluation for people: its figures as a record, then the confusion
// matrix as a grid with the class names along both sides and each class's
// recall.
std::vector<hpo::Section> TestSections(const hpo::EvaluationRow& e) {
  std::vector<hpo::Section> sections;
  hpo::ResultSet figures;
  ordered_json test = TestObject(e);
  if (e.state == "failed") {
    figures.columns = {
        {"state"}, {"error"}, {"checkpoint"}, {"epoch"}, {"worker"}};
  } else {
    figures.columns = {{"state"},          {"loss"},    {"accuracy"},
                       {"track_accuracy"}, {"samples"}, {"tracks"},
                       {"checkpoint"},     {"epoch"},   {"worker"}};
  }
  figures.rows.push_back(std::move(test));
  sections.push_back(Record("test split", std::move(figures)));
  size_t n = ClassCount(e);
  if (n == 0) return sections;
  hpo::ResultSet grid;
  grid.columns.push_back({"true", false, "true \\ predicted"});
  for (size_t j = 0; j < n; ++j) {
    grid.columns.push_back({"c" + std::to_string(j), false, ClassName(e, j)});
  }
  grid.columns.push_back({"recall"});
  ordered_json recall = Recall(e);
  for (size_t i = 0; i < n; ++i) {
    ordered_json row;
    row["true"] = ClassName(e, i);
    for (size_t j = 0; j < n; ++j) {
      row["c" + std::to_string(j)] = Count(e, i, j);
    }
    row["recall"] = recall[i];
    grid.rows.push_back(std::move(row));
  }
  sections.push_back(
      Table("confusion matrix (segments; rows: true class, columns: predicted)",
            std::move(grid)));
  return sections;
}

// What the table of `best` says when its trial has no evaluation.
std::string NoEvaluationNote(const std::vector<hpo::EvaluationRow>& evaluations,
                             int64_t trial) {
  for (const hpo::EvaluationRow& e : evaluations) {
    if (e.split != "test") continue;
    return "test split: trial " + std::to_string(e.trial) +
           " was evaluated, not this one (hpo-query trial " +
           std::to_string(e.trial) + " shows it)";
  }
  return "test split: not evaluated (when the search ends, hpo-coordinator "
         "evaluates the best complete trial that has a checkpoint)";
}

}  // namespace query
}  // namespace hpo
