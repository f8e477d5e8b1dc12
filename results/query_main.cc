// hpo-query: answers questions about the studies in a results database.
//
// The database is opened read-only: hpo-query never writes, never creates a
// file, and can run while hpo-coordinator records a study (the file is in WAL
// mode, so readers and the writer do not block each other). Each command
// turns the store's rows into a ResultSet, which is written as a table, CSV
// or JSON (results/result_set.h). A new command is a function and one entry
// in kCommands.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "common/error.h"
#include "common/json_util.h"
#include "common/store.h"
#include "common/trial_state.h"
#include "results/result_set.h"

namespace po = boost::program_options;
using nlohmann::ordered_json;

namespace {

constexpr char kUsage[] =
    "Usage: hpo-query --db FILE COMMAND [--study NAME] [--state STATE] "
    "[--format table|csv|json]\n";

// What a command works with: the open database and the command line.
struct Query {
  hpo::Store* store = nullptr;
  std::string db;                 // --db, for messages.
  std::string study;              // --study; empty when not given.
  std::string state;              // --state; empty when not given.
  std::vector<std::string> args;  // Positional arguments after COMMAND.
};

struct Command {
  const char* name;
  const char* synopsis;     // COMMAND and its own arguments and options.
  const char* description;  // One line for --help.
  int arguments;            // How many positional arguments it takes.
  std::vector<std::string> options;  // Which of --study and --state apply.
  hpo::ResultSet (*run)(Query& query);
};

// Names for a message: "a, b, c", cut after the first 20.
std::string NameList(const std::vector<std::string>& names) {
  constexpr size_t kMaxNames = 20;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxNames; ++i) {
    out += (i > 0 ? ", " : "") + names[i];
  }
  if (names.size() > kMaxNames) {
    out += " and " + std::to_string(names.size() - kMaxNames) +
           " more (hpo-query studies lists them all)";
  }
  return out;
}

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

// The study that --study names or, without --study, the only study in the
// database. Throws hpo::Error (bad input) listing the studies otherwise.
hpo::StudyRow ResolveStudy(const Query& query) {
  std::vector<hpo::StudyRow> studies = query.store->Studies();
  std::vector<std::string> names;
  for (const hpo::StudyRow& study : studies) {
    if (!query.study.empty() && study.name == query.study) return study;
    names.push_back(study.name);
  }
  if (studies.empty()) {
    throw hpo::BadInput(query.db +
                        ": holds no studies yet; run hpo-coordinator --study "
                        "FILE.json --db " +
                        query.db + " first, or pass another --db");
  }
  if (query.study.empty()) {
    if (studies.size() == 1) return studies[0];
    throw hpo::BadInput(query.db + ": holds " + std::to_string(studies.size()) +
                        " studies (" + NameList(names) +
                        "); pass one with --study NAME");
  }
  throw hpo::BadInput(query.db + ": no study named \"" + query.study + "\"" +
                      DidYouMean(query.study, names) + "; it holds " +
                      NameList(names) + " (pass one of them with --study)");
}

// `studies`: one row per study (only --study's with --study), with the
// counts and best value that the study_summary view also gives. The best
// value is over every trial's last reported objective, as in that view.
hpo::ResultSet ListStudies(Query& query) {
  std::vector<hpo::StudyRow> studies;
  if (query.study.empty()) {
    studies = query.store->Studies();
  } else {
    studies.push_back(ResolveStudy(query));
  }
  hpo::ResultSet out;
  out.columns = {{"name"},   {"state"},      {"algorithm"}, {"metric"},
                 {"mode"},   {"trials"},     {"complete"},  {"pruned"},
                 {"failed"}, {"best_value"}, {"elapsed_s"}};
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
  return out;
}

// `trials`: the trials of one study by number, those in --state only when
// it is given.
hpo::ResultSet ListTrials(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  hpo::ResultSet out;
  out.columns = {{"number"},  {"state"},
                 {"value"},   {"best_value"},
                 {"epochs"},  {"attempts"},
                 {"bracket"}, {"rung"},
                 {"worker"},  {"params", /*spread=*/true},
                 {"error"}};
  for (const hpo::TrialRow& trial :
       query.store->Trials(study.id, query.state)) {
    ordered_json row;
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
    row["params"] = trial.params.is_object()
                        ? ordered_json::parse(trial.params.dump())
                        : ordered_json();
    row["error"] = OrNull(trial.error);
    out.rows.push_back(std::move(row));
  }
  return out;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"studies",
       "studies [--study NAME]",
       "one row per study: state, algorithm, objective, trial counts, best "
       "value, time spent",
       0,
       {"study"},
       ListStudies},
      {"trials",
       "trials [--study NAME] [--state STATE]",
       "the trials of a study: state, objective, epochs, attempts, worker, "
       "parameters, error",
       0,
       {"study", "state"},
       ListTrials},
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

// Throws hpo::Error (bad input) unless `db` is an existing, non-empty file.
// Checked here so that a mistyped path gets a plain message, and so that
// nothing can create the file.
void CheckDatabaseFile(const std::string& db) {
  std::error_code error;
  std::filesystem::file_status status = std::filesystem::status(db, error);
  if (!std::filesystem::exists(status)) {
    throw hpo::BadInput(db +
                        ": no such file; pass the --db that hpo-coordinator "
                        "wrote (hpo.db unless its --db said otherwise)");
  }
  if (std::filesystem::is_directory(status)) {
    throw hpo::BadInput(db +
                        ": is a directory; pass the results database file "
                        "with --db");
  }
  if (std::filesystem::is_regular_file(status) &&
      std::filesystem::file_size(db, error) == 0 && !error) {
    throw hpo::BadInput(db +
                        ": empty file, not an hpo results database; pass the "
                        "--db that hpo-coordinator wrote");
  }
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
      "trials: only those in this state (queued, running, paused, complete, "
      "pruned, failed or lost)")(
      "format", po::value<std::string>()->default_value("table"),
      "output: table, csv or json");
  po::options_description positional_options;
  positional_options.add_options()("command", po::value<std::string>())(
      "args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(positional_options);
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
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
  if (static_cast<int>(query.args.size()) != command.arguments) {
    throw hpo::BadInput(
        "hpo-query: " + std::string(command.name) + " takes " +
        std::to_string(command.arguments) + " argument(s), got " +
        std::to_string(query.args.size()) + "; usage: " + command.synopsis);
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
  if (!vm.count("db") || vm["db"].as<std::string>().empty()) {
    throw hpo::BadInput(
        "hpo-query: --db FILE is required: the results database that "
        "hpo-coordinator writes (see --help)");
  }
  query.db = vm["db"].as<std::string>();
  CheckDatabaseFile(query.db);
  std::unique_ptr<hpo::Store> store =
      hpo::Store::Open(query.db, /*read_only=*/true);
  query.store = store.get();
  hpo::ResultSet results = command.run(query);
  hpo::WriteResults(results, format, std::cout);
  std::cout.flush();
  if (!std::cout) {
    throw hpo::RuntimeFailure(std::string("cannot write the output: ") +
                              std::strerror(errno));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const hpo::Error& e) {
    std::cerr << (e.kind() == hpo::ErrorKind::kBadInput ? "" : "hpo-query: ")
              << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "hpo-query: internal error: " << e.what() << "\n";
    return 1;
  }
}
