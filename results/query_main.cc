// hpo-query: answers questions about the studies in a results database.
//
// The database is opened read-only: hpo-query never writes, never creates a
// file, and can run while hpo-coordinator records a study (the file is in WAL
// mode, so readers and the writer do not block each other). Each command
// turns the store's rows into an Answer: a ResultSet, which is written as a
// table, CSV or JSON (results/result_set.h), and for commands about one
// trial also titled sections for people and one JSON object for programs.
// A new command is a function and one entry in kCommands.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
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
#include "common/store.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "results/db_args.h"
#include "results/result_set.h"

namespace po = boost::program_options;
using nlohmann::ordered_json;

namespace {

using hpo::CheckDatabaseFile;
using hpo::NameList;

constexpr char kUsage[] =
    "Usage: hpo-query --db FILE COMMAND [ARGS] [--study NAME] [--state STATE] "
    "[--format table|csv|json]\n";

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
                    bool exact = false) {
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
Answer ListStudies(Query& query) {
  std::vector<hpo::StudyRow> studies;
  if (query.study.empty()) {
    studies = query.store->Studies();
  } else {
    studies.push_back(ResolveStudy(query));
  }
  hpo::ResultSet out;
  out.columns = {{"name"},   {"state"},  {"algorithm"},  {"sampler"},
                 {"metric"}, {"mode"},   {"trials"},     {"complete"},
                 {"pruned"}, {"failed"}, {"best_value"}, {"elapsed_s"}};
  for (const hpo::StudyRow& study : studies) {
    std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
    int complete = 0, pruned = 0, failed = 0;
    std::optional<double> best;
    for (const hpo::TrialRow& trial : trials) {
      complete += trial.state == hpo::TrialState::kComplete;
      pruned += trial.state == hpo::TrialState::kPruned;
      failed += trial.state == hpo::TrialState::kFailed;
      if (!trial.value) continue;
      if (!best ||
          (study.mode == "max" ? *trial.value > *best : *trial.value < *best)) {
        best = trial.value;
      }
    }
    ordered_json row;
    row["name"] = study.name;
    row["state"] = study.state;
    row["algorithm"] = study.algorithm;
    row["sampler"] = hpo::SamplerSummary(study.spec);
    row["metric"] = study.metric;
    row["mode"] = study.mode;
    row["trials"] = trials.size();
    row["complete"] = complete;
    row["pruned"] = pruned;
    row["failed"] = failed;
    row["best_value"] = OrNull(best);
    row["elapsed_s"] = study.elapsed_s;
    out.rows.push_back(std::move(row));
  }
  return Rows(std::move(out));
}

// `trials`: the trials of one study by number, those in --state only when
// it is given.
// The rows of `trials` (ListTrials and Leaderboard), `rank` first when
// `ranked`.
hpo::ResultSet TrialRows(const std::vector<hpo::TrialRow>& trials,
                         bool ranked) {
  hpo::ResultSet out;
  if (ranked) out.columns.push_back({"rank"});
  for (const char* name : {"number", "state", "value", "best_value", "epochs",
                           "attempts", "bracket", "rung", "worker"}) {
    out.columns.push_back({name});
  }
  out.columns.push_back({"params", /*spread=*/true});
  out.columns.push_back({"error"});
  int64_t rank = 0;
  for (const hpo::TrialRow& trial : trials) {
    ordered_json row;
    if (ranked) row["rank"] = ++rank;
    row["number"] = trial.number;
    row["state"] = hpo::ToString(trial.state);
    row["value"] = OrNull(trial.value);
    row["best_value"] = OrNull(trial.best_value);
    row["epochs"] = trial.epochs;
    row["attempts"] = trial.attempts;
    row["bracket"] = trial.bracket;
    row["rung"] = trial.rung;
    row["worker"] = OrNull(trial.worker);
    // The store keeps parameters as JSON text; a row it could not parse
    // reads as "discarded", which must not reach the output.
    row["params"] = Params(trial);
    row["error"] = OrNull(trial.error);
    out.rows.push_back(std::move(row));
  }
  return out;
}

Answer ListTrials(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  return Rows(TrialRows(query.store->Trials(study.id, query.state), false));
}

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
                               bool or_all = false) {
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
  for (const hpo::RankedTrial& r : hpo::RankTrials(all, study.mode == "max")) {
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
                    {"worker"},   {"checkpoint"}, {"checkpoint_epoch"},
                    {"error"}};
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

// ---------------------------------------------------------------------------
// Per-epoch metrics.

// The metric names in `rows`, in reading order: those that workers report
// (README.md), then any others alphabetically.
std::vector<std::string> MetricNames(const std::vector<hpo::MetricRow>& rows) {
  static const std::vector<std::string> kKnown = {
      "train_loss",         "val_loss",     "val_accuracy",
      "val_track_accuracy", "lr",           "epoch_seconds",
      "samples_per_second", "data_seconds", "val_seconds",
      "cpu_seconds"};
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

// The per-epoch columns of a result set: epoch, attempt, objective, then one
// per metric. A metric whose name a column of the set already has becomes
// "metric_<name>".
class EpochColumns {
 public:
  // Adds the columns for `rows` to `out`.
  EpochColumns(const std::vector<hpo::MetricRow>& rows,
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

  // Sets the cells of `row` for `m`; all null without `m` (a trial that has
  // no epochs yet).
  void Fill(const hpo::MetricRow* m, ordered_json& row) const {
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

 private:
  std::map<int64_t, int> attempts_;
  std::vector<std::pair<std::string, std::string>> metrics_;  // name, column.
};

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
  const hpo::TrialRow* best = hpo::BestTrial(trials, study.mode == "max");
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
          (study.mode == "max" ? "highest " : "lowest ") + study.metric + ")",
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
    base["state"] = hpo::ToString(trial.state);
    base["value"] = OrNull(trial.value);
    base["best_value"] = OrNull(trial.best_value);
    base["epochs"] = trial.epochs;
    base["attempts"] = trial.attempts;
    base["bracket"] = trial.bracket;
    base["rung"] = trial.rung;
    base["worker"] = OrNull(trial.worker);
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

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"studies",
       "studies [--study NAME]",
       "one row per study: state, algorithm, sampler, objective, trial counts, "
       "best "
       "value, time spent",
       0,
       0,
       {"study"},
       ListStudies},
      {"trials",
       "trials [--study NAME] [--state STATE]",
       "the trials of a study: state, objective, epochs, attempts, worker, "
       "parameters, error",
       0,
       0,
       {"study", "state"},
       ListTrials},
      {"leaderboard",
       "leaderboard [--study NAME] [--state STATE]",
       "trials with a value, best first (complete trials first, then by "
       "objective, as the leaderboard view), with their rank",
       0,
       0,
       {"study", "state"},
       Leaderboard},
      {"best",
       "best [--study NAME]",
       "the best trial (complete trials first, then by objective, as the "
       "leaderboard view), its parameters and test-split results with the "
       "confusion matrix; CSV: one row",
       0,
       0,
       {"study"},
       ShowBest},
      {"trial",
       "trial ID [--study NAME]",
       "one trial: fields, parameters, attempts, per-epoch metrics; CSV: "
       "the per-epoch metrics, as curves ID",
       1,
       1,
       {"study"},
       ShowTrial},
      {"curves",
       "curves ID... | all [--study NAME]",
       "per-epoch metrics of trials, one row per (trial, epoch) with a "
       "column per metric, for plotting",
       1,
       -1,
       {"study"},
       ShowCurves},
      {"export",
       "export [--study NAME] [--state STATE]",
       "every trial with its parameters as columns, one row per (trial, "
       "epoch) with its metrics (a trial with no epochs: one row); for "
       "pandas.read_csv",
       0,
       0,
       {"study", "state"},
       Export},
  };
  return kCommands;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const Command& command : Commands()) names.push_back(command.name);
  return names;
}

const Command& FindCommand(const std::string& name) {
  for (const Command& command : Commands()) {
    if (name == command.name) return command;
  }
  throw hpo::BadInput("hpo-query: unknown command \"" + name + "\"" +
                      DidYouMean(name, CommandNames()) + "; use one of " +
                      NameList(CommandNames()) + " (see --help)");
}

// "no arguments", "1 argument", "at least 1 argument": what `command` takes.
std::string ArgumentCount(const Command& command) {
  auto count = [](int n) {
    return n == 0   ? std::string("no arguments")
           : n == 1 ? std::string("1 argument")
                    : std::to_string(n) + " arguments";
  };
  if (command.max_arguments < 0) {
    return "at least " + count(command.min_arguments);
  }
  if (command.min_arguments == command.max_arguments) {
    return count(command.min_arguments);
  }
  return count(command.min_arguments) + " to " + count(command.max_arguments);
}

// Throws hpo::Error (bad input) unless --state names a trial state.
void CheckState(const std::string& state) {
  if (hpo::TrialStateFromString(state)) return;
  std::vector<std::string> states;
  for (hpo::TrialState s :
       {hpo::TrialState::kQueued, hpo::TrialState::kRunning,
        hpo::TrialState::kPaused, hpo::TrialState::kComplete,
        hpo::TrialState::kPruned, hpo::TrialState::kFailed,
        hpo::TrialState::kLost}) {
    states.push_back(hpo::ToString(s));
  }
  throw hpo::BadInput("hpo-query: --state " + state + ": unknown state" +
                      DidYouMean(state, states) + "; use one of " +
                      NameList(states));
}

void PrintHelp(const po::options_description& options) {
  std::cout << kUsage
            << "\nReads a results database (read-only; safe while "
               "hpo-coordinator writes to it).\n\nCommands:\n";
  for (const Command& command : Commands()) {
    std::cout << "  " << command.synopsis << "\n      " << command.description
              << "\n";
  }
  std::cout << "\n" << options;
}

int Main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "db", po::value<std::string>(),
      "results database that hpo-coordinator writes (required)")(
      "study", po::value<std::string>(),
      "study name; may be left out when the database holds one study")(
      "state", po::value<std::string>(),
      "trials, export: only trials in this state (queued, running, paused, "
      "complete, pruned, failed or lost)")(
      "format", po::value<std::string>()->default_value("table"),
      "output: table, csv or json");
  po::options_description positional_options;
  positional_options.add_options()("command", po::value<std::string>())(
      "args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(positional_options);
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  // A negative trial number would read as an unknown option.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() > 1 && arg[0] == '-' &&
        arg.find_first_not_of("0123456789", 1) == std::string::npos) {
      throw hpo::BadInput("hpo-query: trial ID " + arg +
                          ": trials are numbered from 0 (hpo-query trials "
                          "lists them)");
    }
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv)
                  .options(all)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw hpo::BadInput("hpo-query: " + std::string(e.what()) +
                        " (see --help)");
  }
  if (vm.count("help")) {
    PrintHelp(options);
    return 0;
  }
  if (!vm.count("command")) {
    throw hpo::BadInput("hpo-query: a command is required: " +
                        NameList(CommandNames()) + " (see --help)");
  }
  const Command& command = FindCommand(vm["command"].as<std::string>());
  Query query;
  if (vm.count("args")) query.args = vm["args"].as<std::vector<std::string>>();
  int arguments = static_cast<int>(query.args.size());
  if (arguments < command.min_arguments ||
      (command.max_arguments >= 0 && arguments > command.max_arguments)) {
    throw hpo::BadInput("hpo-query: " + std::string(command.name) + " takes " +
                        ArgumentCount(command) + ", got " +
                        std::to_string(arguments) +
                        "; usage: " + command.synopsis);
  }
  for (const char* option : {"study", "state"}) {
    bool applies = std::find(command.options.begin(), command.options.end(),
                             option) != command.options.end();
    if (vm.count(option) && !applies) {
      throw hpo::BadInput("hpo-query: --" + std::string(option) +
                          " does not apply to " + command.name +
                          "; usage: " + command.synopsis);
    }
  }
  if (vm.count("study")) query.study = vm["study"].as<std::string>();
  if (vm.count("state")) {
    query.state = vm["state"].as<std::string>();
    CheckState(query.state);
  }
  hpo::OutputFormat format =
      hpo::ParseOutputFormat(vm["format"].as<std::string>());
  query.db = hpo::RequireDbArg(
      "hpo-query", vm.count("db") ? &vm["db"].as<std::string>() : nullptr);
  CheckDatabaseFile(query.db);
  std::unique_ptr<hpo::Store> store =
      hpo::Store::Open(query.db, /*read_only=*/true);
  store->BeginSnapshot();  // Every query of the command sees one state.
  query.store = store.get();
  Answer answer = command.run(query);
  if (format == hpo::OutputFormat::kTable && !answer.sections.empty()) {
    hpo::WriteSections(answer.sections, std::cout);
  } else if (format == hpo::OutputFormat::kJson && answer.document) {
    hpo::WriteJson(*answer.document, std::cout);
  } else {
    hpo::WriteResults(answer.rows, format, std::cout);
  }
  std::cout.flush();
  if (!std::cout) {
    throw hpo::RuntimeFailure(std::string("cannot write the output: ") +
                              std::strerror(errno));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-query", [&] { return Main(argc, argv); });
}
