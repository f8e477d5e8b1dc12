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

#include "common/command_line.h"
#include "common/error.h"
#include "common/json_util.h"
#include "common/leaderboard.h"
#include "common/store.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "results/db_args.h"
#include "results/db_options.h"
#include "results/query_commands.h"
#include "results/result_set.h"

namespace po = boost::program_options;
using nlohmann::ordered_json;

namespace {

using namespace hpo::query;  // NOLINT(build/namespaces)

using hpo::CheckDatabaseFile;
using hpo::NameList;

constexpr char kUsage[] =
    "Usage: hpo-query --db FILE COMMAND [ARGS] [--study NAME] [--state STATE] "
    "[--format table|csv|json]\n";

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
      {"importance",
       "importance [EPOCH] [--study NAME]",
       "which searched parameters explain the objective (fANOVA over a "
       "random forest, as Optuna's default evaluator), at an epoch budget, "
       "and the largest pairwise interactions; CSV: one row per parameter",
       0,
       1,
       {"study"},
       ShowImportance},
      {"lineage",
       "lineage [--study NAME]",
       "PBT exploits: after which epoch each member took whose checkpoint, "
       "and the parameters that changed; JSON and CSV: the full old and new "
       "parameters",
       0,
       0,
       {"study"},
       ShowLineage},
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
  options.add_options()("help,h", "show this help and exit");
  hpo::AddDbOptions(options);
  options.add_options()(
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
  const po::variables_map vm =
      hpo::ParseCommandLine("hpo-query", argc, argv, all, &positional);
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
