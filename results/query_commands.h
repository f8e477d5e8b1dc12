// hpo-query's commands, one file per group behind the command table of
// query_main.cc: query_studies.cc (studies, trials), query_trials.cc (trials
// by number, the leaderboard), query_metrics.cc (per-epoch metrics),
// query_evaluations.cc (test-split evaluations), query_show.cc (best, trial,
// curves, export), query_lineage.cc (PBT exploits), query_importance.cc
// (parameter importance); query_common.cc holds what they share.
#ifndef HPO_RESULTS_QUERY_COMMANDS_H_
#define HPO_RESULTS_QUERY_COMMANDS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/store.h"
#include "results/result_set.h"

namespace hpo {
namespace query {

using nlohmann::ordered_json;

// What a command works with: the open database and the command line.
struct Query {
  hpo::Store* store = nullptr;
  std::string db;                 // --db, for messages.
  std::string study;              // --study; empty when not given.
  std::string state;              // --state; empty when not given.
  std::vector<std::string> args;  // Positional arguments after COMMAND.
};

// What a command answers. CSV writes `rows`; a table writes `sections` when
// there are any, else `rows`; JSON writes `document` when it is set, else
// `rows` as an array of objects.
struct Answer {
  hpo::ResultSet rows;
  std::vector<hpo::Section> sections;
  std::optional<ordered_json> document;
};

struct Command {
  const char* name;
  const char* synopsis;     // COMMAND and its own arguments and options.
  const char* description;  // One line for --help.
  int min_arguments;        // Positional arguments it takes: at least,
  int max_arguments;        // and at most (-1: no limit).
  std::vector<std::string> options;  // Which of --study and --state apply.
  Answer (*run)(Query& query);
};

// " (did you mean "x"?)" when `word` looks like a typo of a candidate.
std::string DidYouMean(const std::string& word,
                       const std::vector<std::string>& candidates);

ordered_json OrNull(const std::optional<double>& value);

ordered_json OrNull(const std::string& text);

// `value` (read from the store) as an ordered_json; null when the store could
// not parse it.
ordered_json Ordered(const nlohmann::json& value);

ordered_json Params(const hpo::TrialRow& trial);

// Adds a trial's state, value, best_value, epochs, attempts, bracket, rung
// and worker to `row`, in that order (the run that `trials` and `curves`
// rows share).
void AddTrialFields(const hpo::TrialRow& trial, ordered_json& row);

// "2023-11-14 22:13:20": a Unix time in UTC, for people.
std::string UtcTime(double unix_seconds);

hpo::Section Note(const std::string& text);

hpo::Section Record(const std::string& title, hpo::ResultSet results,
                    bool exact = false);

hpo::Section Table(const std::string& title, hpo::ResultSet results);

Answer Rows(hpo::ResultSet rows);

// The study that --study names or, without --study, the only study in the
// database.
hpo::StudyRow ResolveStudy(const Query& query);

Answer ListStudies(Query& query);

// `trials`: the trials of one study by number, those in --state only when
// it is given.
// The rows of `trials` (ListTrials and Leaderboard), `rank` first when
// `ranked`.
hpo::ResultSet TrialRows(const std::vector<hpo::TrialRow>& trials, bool ranked);

Answer ListTrials(Query& query);

// The trial of `trials` whose number `text` is. Throws hpo::Error (bad
// input) naming the study and its trial numbers when `text` is not a number
// or no trial has it. `or_all` adds "or all" to the advice.
const hpo::TrialRow& FindTrial(const std::string& text,
                               const hpo::StudyRow& study,
                               const std::vector<hpo::TrialRow>& trials,
                               bool or_all = false);

// Trials with a value, best first (the leaderboard view's ranking).
Answer Leaderboard(Query& query);

// A trial's own fields (no attempts or epochs), keyed as in the JSON of
// `best` and `trial`.
ordered_json TrialObject(const hpo::StudyRow& study,
                         const hpo::TrialRow& trial);

// A trial's fields as a record for people, and its parameters as another
// (in full precision: they are what one copies into a study file).
std::vector<hpo::Section> TrialSections(const std::string& title,
                                        const hpo::StudyRow& study,
                                        const hpo::TrialRow& trial);

// Maps attempt ids (MetricRow::attempt_id) to attempt numbers.
std::map<int64_t, int> AttemptNumbers(
    const std::vector<hpo::AttemptRow>& attempts);

// The tidy form of learning curves: one row per (trial, epoch), with the
// trial, the epoch, its attempt, the objective and a column per metric.
hpo::ResultSet Curves(const std::vector<hpo::MetricRow>& rows,
                      const std::vector<hpo::AttemptRow>& attempts);

const hpo::EvaluationRow* FindEvaluation(
    const std::vector<hpo::EvaluationRow>& evaluations, int64_t trial);

// The evaluation as the "test" object of the JSON answers.
ordered_json TestObject(const hpo::EvaluationRow& e);

// The evaluation for people: its figures as a record, then the confusion
// matrix as a grid with the class names along both sides and each class's
// recall.
std::vector<hpo::Section> TestSections(const hpo::EvaluationRow& e);

// What the table of `best` says when its trial has no evaluation.
std::string NoEvaluationNote(const std::vector<hpo::EvaluationRow>& evaluations,
                             int64_t trial);

// `best`: the trial that ranks first (BestTrial), with its test-split
// evaluation when there is one. With no value yet it answers so on a line,
// JSON null and a CSV header: a study that has just started is not an error.
Answer ShowBest(Query& query);

// `trial ID`: one trial's fields, parameters, attempts and epochs (and its
// test-split evaluation when it has one). CSV: its epochs, as `curves ID`.
Answer ShowTrial(Query& query);

// `curves ID... | all`: the per-epoch metrics of the trials named (in that
// order), or of every trial.
Answer ShowCurves(Query& query);

// `importance [EPOCH]`: the parameters' fANOVA importance
// (results/study_importance.h) and the largest pairwise interactions.
Answer ShowImportance(Query& query);

// `export`: every trial (in --state only, when given) with its parameters
// spread into columns, once per epoch it reported, or once with no epoch.
Answer Export(Query& query);

// `lineage`: the study's PBT exploits by trial, then epoch: for people the
// parameters that changed ("lr 0.01->0.012"), for programs the full old and
// new parameters too. A study with none is an answer (a line saying why, an
// empty array, a CSV header), not an error.
Answer ShowLineage(Query& query);

// The per-epoch columns of a result set: epoch, attempt, objective, then one
// per metric. A metric whose name a column of the set already has becomes
// "metric_<name>".
class EpochColumns {
 public:
  // Adds the columns for `rows` to `out`.
  EpochColumns(const std::vector<hpo::MetricRow>& rows,
               std::map<int64_t, int> attempts, hpo::ResultSet& out);

  // Sets the cells of `row` for `m`; all null without `m` (a trial that has
  // no epochs yet).
  void Fill(const hpo::MetricRow* m, ordered_json& row) const;

 private:
  std::map<int64_t, int> attempts_;
  std::vector<std::pair<std::string, std::string>> metrics_;  // name, column.
};

}  // namespace query
}  // namespace hpo

#endif  // HPO_RESULTS_QUERY_COMMANDS_H_
