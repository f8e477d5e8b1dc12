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
// Trials by number.

// Which trial numbers a study has, for messages: "trials 0 to 4", "one
// trial, 0", "45 trials, numbered 0 to 48". `trials` is not empty.
std::string TrialRange(const std::vector<hpo::TrialRow>& trials) {
  int64_t low = trials.front().number, high = low;
  for (const hpo::TrialRow& trial : trials) {
    low = std::min(low, trial.number);
    high = std::max(high, trial.number);
  }
  if (trials.size() == 1) return "one trial, " + std::to_string(low);
  std::string range = std::to_string(low) + " to " + std::to_string(high);
  if (high - low + 1 == static_cast<int64_t>(trials.size())) {
    return "trials " + range;
  }
  return std::to_string(trials.size()) + " trials, numbered " + range;
}

// The trial of `trials` whose number `text` is. Throws hpo::Error (bad
// input) naming the study and its trial numbers when `text` is not a number
// or no trial has it. `or_all` adds "or all" to the advice.
const hpo::TrialRow& FindTrial(const std::string& text,
                               const hpo::StudyRow& study,
                               const std::vector<hpo::TrialRow>& trials,
                               bool or_all) {
  if (trials.empty()) {
    throw hpo::BadInput("hpo-query: study \"" + study.name +
                        "\" has no trials yet, so no trial " + text);
  }
  std::string advice = TrialRange(trials) + " (hpo-query trials --study " +
                       study.name + " lists them" +
                       (or_all ? "; or pass all" : "") + ")";
  int64_t number = 0;
  const char* end = text.data() + text.size();
  auto [last, error] = std::from_chars(text.data(), end, number);
  if (text.empty() || error != std::errc() || last != end) {
    throw hpo::BadInput("hpo-query: trial ID \"" + text +
                        "\" is not an integer; study \"" + study.name +
                        "\" has " + advice);
  }
  for (const hpo::TrialRow& trial : trials) {
    if (trial.number == number) return trial;
  }
  throw hpo::BadInput("hpo-query: study \"" + study.name + "\" has no trial " +
                      text + ", only " + advice);
}

// Trials with a value, best first (the leaderboard view's ranking).
Answer Leaderboard(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  const std::vector<hpo::TrialRow> all =
      query.store->Trials(study.id, query.state);
  std::vector<hpo::TrialRow> trials;
  for (const hpo::RankedTrial& r :
       hpo::RankTrials(all, study.mode == "max", hpo::KeepsBest(study))) {
    trials.push_back(*r.trial);
  }
  return Rows(TrialRows(trials, true));
}

// A trial's own fields (no attempts or epochs), keyed as in the JSON of
// `best` and `trial`.
ordered_json TrialObject(const hpo::StudyRow& study,
                         const hpo::TrialRow& trial) {
  ordered_json object;
  object["study"] = study.name;
  object["trial"] = trial.number;
  object["state"] = hpo::ToString(trial.state);
  object["metric"] = study.metric;
  object["mode"] = study.mode;
  object["value"] = OrNull(trial.value);
  object["best_value"] = OrNull(trial.best_value);
  object["epochs"] = trial.epochs;
  object["attempts"] = trial.attempts;
  object["bracket"] = trial.bracket;
  object["rung"] = trial.rung;
  object["worker"] = OrNull(trial.worker);
  object["checkpoint"] = OrNull(trial.checkpoint);
  object["checkpoint_epoch"] = trial.checkpoint.empty()
                                   ? ordered_json()
                                   : ordered_json(trial.checkpoint_epoch);
  if (!trial.best_checkpoint.empty()) {  // trainer.keep "best".
    object["best_checkpoint"] = trial.best_checkpoint;
    object["best_checkpoint_epoch"] = trial.best_checkpoint_epoch;
  }
  object["error"] = OrNull(trial.error);
  object["params"] = Params(trial);
  return object;
}

// A trial's fields as a record for people, and its parameters as another
// (in full precision: they are what one copies into a study file).
std::vector<hpo::Section> TrialSections(const std::string& title,
                                        const hpo::StudyRow& study,
                                        const hpo::TrialRow& trial) {
  ordered_json object = TrialObject(study, trial);
  object["objective"] = study.metric + " (" + study.mode + ")";
  hpo::ResultSet fields;
  fields.columns = {{"trial"},    {"state"},      {"objective"},
                    {"value"},    {"best_value"}, {"epochs"},
                    {"attempts"}, {"bracket"},    {"rung"},
                    {"worker"},   {"checkpoint"}, {"checkpoint_epoch"}};
  if (object.contains("best_checkpoint")) {  // trainer.keep "best".
    fields.columns.push_back({"best_checkpoint"});
    fields.columns.push_back({"best_checkpoint_epoch"});
  }
  fields.columns.push_back({"error"});
  fields.rows.push_back(std::move(object));
  hpo::ResultSet params;
  ordered_json values = Params(trial);
  if (values.is_object()) {
    for (const auto& item : values.items()) {
      params.columns.push_back({item.key()});
    }
    params.rows.push_back(values);
  }
  std::vector<hpo::Section> sections;
  sections.push_back(Record(title, std::move(fields)));
  if (params.columns.empty()) {
    sections.push_back(Note("parameters: none"));
  } else {
    sections.push_back(Record("parameters", std::move(params), /*exact=*/true));
  }
  return sections;
}

}  // namespace query
}  // namespace hpo
