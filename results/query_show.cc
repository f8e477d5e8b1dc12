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
// Commands about trials.

// "5 trials: 3 queued, 2 running", for a study with no value yet.
std::string StateCounts(const std::vector<hpo::TrialRow>& trials) {
  if (trials.empty()) return "no trials yet";
  std::string out = std::to_string(trials.size()) + " trial" +
                    (trials.size() == 1 ? "" : "s") + ":";
  const char* separator = " ";
  for (hpo::TrialState state :
       {hpo::TrialState::kQueued, hpo::TrialState::kRunning,
        hpo::TrialState::kPaused, hpo::TrialState::kComplete,
        hpo::TrialState::kPruned, hpo::TrialState::kFailed,
        hpo::TrialState::kLost}) {
    auto count = std::count_if(
        trials.begin(), trials.end(),
        [&](const hpo::TrialRow& trial) { return trial.state == state; });
    if (count == 0) continue;
    out += separator + std::to_string(count) + " " + hpo::ToString(state);
    separator = ", ";
  }
  return out;
}

// `best`: the trial that ranks first (BestTrial), with its test-split
// evaluation when there is one. With no value yet it answers so on a line,
// JSON null and a CSV header: a study that has just started is not an error.
Answer ShowBest(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
  Answer out;
  out.rows.columns = {
      {"study"},         {"trial"},         {"state"},
      {"metric"},        {"mode"},          {"value"},
      {"best_value"},    {"epochs"},        {"attempts"},
      {"bracket"},       {"rung"},          {"worker"},
      {"checkpoint"},    {"error"},         {"params", /*spread=*/true},
      {"test_state"},    {"test_error"},    {"test_epoch"},
      {"test_loss"},     {"test_accuracy"}, {"test_track_accuracy"},
      {"test_samples"},  {"test_tracks"},   {"test_classes"},
      {"test_confusion"}};
  const hpo::TrialRow* best =
      hpo::BestTrial(trials, study.mode == "max", hpo::KeepsBest(study));
  if (best == nullptr) {
    out.document = ordered_json();
    out.sections.push_back(Note("study " + study.name + ": no trial has a " +
                                study.metric + " value yet (" +
                                StateCounts(trials) + ")"));
    return out;
  }
  std::vector<hpo::EvaluationRow> evaluations =
      query.store->Evaluations(study.id);
  const hpo::EvaluationRow* evaluation =
      FindEvaluation(evaluations, best->number);
  ordered_json document = TrialObject(study, *best);
  document["test"] = evaluation ? TestObject(*evaluation) : ordered_json();

  ordered_json row = TrialObject(study, *best);
  if (evaluation != nullptr) {
    const ordered_json& test = document["test"];
    for (const char* key :
         {"state", "error", "epoch", "loss", "accuracy", "track_accuracy",
          "samples", "tracks", "classes", "confusion"}) {
      row[std::string("test_") + key] = test[key];
    }
  }
  out.rows.rows.push_back(std::move(row));
  out.document = std::move(document);

  out.sections = TrialSections(
      "study " + study.name + ": best trial (complete trials first, then " +
          (study.mode == "max" ? "highest " : "lowest ") + study.metric +
          (hpo::KeepsBest(study) ? " at a trial's best epoch, the weights it "
                                   "keeps)"
                                 : ")"),
      study, *best);
  if (evaluation == nullptr) {
    out.sections.push_back(Note(NoEvaluationNote(evaluations, best->number)));
  } else {
    for (hpo::Section& section : TestSections(*evaluation)) {
      out.sections.push_back(std::move(section));
    }
  }
  return out;
}

// `trial ID`: one trial's fields, parameters, attempts and epochs (and its
// test-split evaluation when it has one). CSV: its epochs, as `curves ID`.
Answer ShowTrial(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
  const hpo::TrialRow& trial = FindTrial(query.args[0], study, trials);
  std::vector<hpo::AttemptRow> attempts =
      query.store->Attempts(study.id, trial.number);
  std::vector<hpo::MetricRow> metrics =
      query.store->Metrics(study.id, trial.number);
  std::vector<hpo::EvaluationRow> evaluations =
      query.store->Evaluations(study.id);
  const hpo::EvaluationRow* evaluation =
      FindEvaluation(evaluations, trial.number);

  Answer out;
  out.rows = Curves(metrics, attempts);

  ordered_json document = TrialObject(study, trial);
  ordered_json history = ordered_json::array();
  hpo::ResultSet attempt_table;
  attempt_table.columns = {{"attempt"},
                           {"worker"},
                           {"epochs"},
                           {"state"},
                           {"reason"},
                           {"started", false, "started (UTC)"},
                           {"ended", false, "ended (UTC)"}};
  for (const hpo::AttemptRow& a : attempts) {
    ordered_json item;
    item["attempt"] = a.attempt;
    item["worker"] = OrNull(a.worker);
    item["from_epoch"] = a.from_epoch;
    item["to_epoch"] = a.to_epoch;
    item["state"] = a.state;
    item["reason"] = OrNull(a.reason);
    item["started_at"] = a.started_at;
    item["ended_at"] = OrNull(a.ended_at);
    history.push_back(item);
    item["epochs"] =
        std::to_string(a.from_epoch) + "->" + std::to_string(a.to_epoch);
    item["started"] = UtcTime(a.started_at);
    item["ended"] =
        a.ended_at ? ordered_json(UtcTime(*a.ended_at)) : ordered_json();
    attempt_table.rows.push_back(std::move(item));
  }
  document["attempt_history"] = std::move(history);
  ordered_json epochs = ordered_json::array();
  for (const ordered_json& row : out.rows.rows) {
    ordered_json item;
    item["epoch"] = row["epoch"];
    item["attempt"] = row["attempt"];
    item["objective"] = row["objective"];
    epochs.push_back(std::move(item));
  }
  for (size_t i = 0; i < metrics.size(); ++i) {
    epochs[i]["metrics"] = metrics[i].metrics.is_object()
                               ? Ordered(metrics[i].metrics)
                               : ordered_json::object();
  }
  document["epoch_metrics"] = std::move(epochs);
  document["test"] = evaluation ? TestObject(*evaluation) : ordered_json();
  out.document = std::move(document);

  out.sections = TrialSections(
      "study " + study.name + ": trial " + std::to_string(trial.number), study,
      trial);
  out.sections.push_back(Table("attempts", std::move(attempt_table)));
  hpo::ResultSet epoch_table = out.rows;
  epoch_table.columns.erase(epoch_table.columns.begin());  // "trial".
  out.sections.push_back(Table("epochs (objective: " + study.metric + ")",
                               std::move(epoch_table)));
  if (evaluation != nullptr) {
    for (hpo::Section& section : TestSections(*evaluation)) {
      out.sections.push_back(std::move(section));
    }
  }
  return out;
}

// `curves ID... | all`: the per-epoch metrics of the trials named (in that
// order), or of every trial.
Answer ShowCurves(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
  std::vector<hpo::MetricRow> metrics;
  bool all = std::find(query.args.begin(), query.args.end(), "all") !=
             query.args.end();
  if (all && query.args.size() > 1) {
    throw hpo::BadInput(
        "hpo-query: curves takes trial numbers or all, not both; usage: "
        "curves ID... | all [--study NAME]");
  }
  if (all) {
    metrics = query.store->Metrics(study.id, -1);
  } else {
    std::set<int64_t> seen;
    for (const std::string& id : query.args) {
      const hpo::TrialRow& trial = FindTrial(id, study, trials, true);
      if (!seen.insert(trial.number).second) continue;
      for (hpo::MetricRow& m : query.store->Metrics(study.id, trial.number)) {
        metrics.push_back(std::move(m));
      }
    }
  }
  return Rows(Curves(metrics, query.store->Attempts(study.id, -1)));
}

// `export`: every trial (in --state only, when given) with its parameters
// spread into columns, once per epoch it reported, or once with no epoch.
Answer Export(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  std::vector<hpo::TrialRow> trials =
      query.store->Trials(study.id, query.state);
  std::map<int64_t, std::vector<hpo::MetricRow>> by_trial;
  for (const hpo::TrialRow& trial : trials) by_trial[trial.number];
  std::vector<hpo::MetricRow> metrics;
  for (hpo::MetricRow& m : query.store->Metrics(study.id, -1)) {
    auto it = by_trial.find(m.trial);
    if (it == by_trial.end()) continue;
    metrics.push_back(m);
    it->second.push_back(std::move(m));
  }
  hpo::ResultSet out;
  out.columns = {{"study"},    {"trial"},      {"state"},
                 {"value"},    {"best_value"}, {"epochs"},
                 {"attempts"}, {"bracket"},    {"rung"},
                 {"worker"},   {"error"},      {"params", /*spread=*/true}};
  EpochColumns columns(metrics, AttemptNumbers(query.store->Attempts(study.id)),
                       out);
  for (const hpo::TrialRow& trial : trials) {
    ordered_json base;
    base["study"] = study.name;
    base["trial"] = trial.number;
    AddTrialFields(trial, base);
    base["error"] = OrNull(trial.error);
    base["params"] = Params(trial);
    const std::vector<hpo::MetricRow>& epochs = by_trial[trial.number];
    if (epochs.empty()) {
      columns.Fill(nullptr, base);
      out.rows.push_back(std::move(base));
      continue;
    }
    for (const hpo::MetricRow& m : epochs) {
      ordered_json row = base;
      columns.Fill(&m, row);
      out.rows.push_back(std::move(row));
    }
  }
  return Rows(std::move(out));
}

}  // namespace query
}  // namespace hpo
