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

// " (did you mean "x"?)" when `word` looks like a typo of a candidate.
std::string DidYouMean(const std::string& word,
                       const std::vector<std::string>& candidates) {
  std::string match = hpo::ClosestMatch(word, candidates);
  return match.empty() ? "" : " (did you mean \"" + match + "\"?)";
}

ordered_json OrNull(const std::optional<double>& value) {
  return value ? ordered_json(*value) : ordered_json();
}

ordered_json OrNull(const std::string& text) {
  return text.empty() ? ordered_json() : ordered_json(text);
}

// `value` (read from the store) as an ordered_json; null when the store could
// not parse it.
ordered_json Ordered(const nlohmann::json& value) {
  if (value.is_discarded()) return ordered_json();
  return ordered_json::parse(
      value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ordered_json Params(const hpo::TrialRow& trial) {
  return trial.params.is_object() ? Ordered(trial.params) : ordered_json();
}

void AddTrialFields(const hpo::TrialRow& trial, ordered_json& row) {
  row["state"] = hpo::ToString(trial.state);
  row["value"] = OrNull(trial.value);
  row["best_value"] = OrNull(trial.best_value);
  row["epochs"] = trial.epochs;
  row["attempts"] = trial.attempts;
  row["bracket"] = trial.bracket;
  row["rung"] = trial.rung;
  row["worker"] = OrNull(trial.worker);
}

// "2023-11-14 22:13:20": a Unix time in UTC, for people.
std::string UtcTime(double unix_seconds) {
  std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

hpo::Section Note(const std::string& text) {
  hpo::Section section;
  section.title = text;
  return section;
}

hpo::Section Record(const std::string& title, hpo::ResultSet results,
                    bool exact) {
  hpo::Section section;
  section.title = title;
  section.results = std::move(results);
  section.record = true;
  section.exact = exact;
  return section;
}

hpo::Section Table(const std::string& title, hpo::ResultSet results) {
  hpo::Section section;
  section.title = title;
  section.results = std::move(results);
  return section;
}

Answer Rows(hpo::ResultSet rows) {
  Answer answer;
  answer.rows = std::move(rows);
  return answer;
}

// The study that --study names or, without --study, the only study in the
// database.
hpo::StudyRow ResolveStudy(const Query& query) {
  return hpo::ResolveStudy(*query.store, query.db, query.study);
}

// `studies`: one row per study (only --study's with --study), with the
// counts and best value that the study_summary view also gives. The best
// value is over every trial's last reported objective, as in that view.

}  // namespace query
}  // namespace hpo
