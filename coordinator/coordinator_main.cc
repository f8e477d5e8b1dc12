// hpo-coordinator: runs a study. This build plans studies (--plan); the
// service loop that dispatches trials to workers comes with the coordinator
// (ZeroMQ transport and SQLite store).
#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "common/error.h"
#include "common/study_spec.h"
#include "search/scheduler.h"

namespace po = boost::program_options;

namespace {

constexpr char kUsage[] =
    "Usage: hpo-coordinator --study FILE.json [--db results.db] "
    "[--bind tcp://*:5555] [--resume] [--plan]\n";

// Tells the user when the trial budget changes the plan.
void WarnAboutBudget(const nlohmann::ordered_json& plan) {
  if (!plan.contains("budget_cut")) return;
  const auto& cut = plan["budget_cut"];
  std::cerr << "hpo-coordinator: warning: budget.max_trials ("
            << cut["max_trials"] << ") cuts this plan from "
            << cut["trials_without_budget"]
            << " trials; the schedule shown is what will run\n";
}

int Main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "study", po::value<std::string>(), "study file (JSON), required")(
      "db", po::value<std::string>()->default_value("hpo.db"),
      "SQLite results database")(
      "bind", po::value<std::string>()->default_value("tcp://*:5555"),
      "ZeroMQ endpoint that workers connect to")(
      "resume", "continue a study recorded in --db")(
      "plan", "print the schedule as JSON and exit");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw hpo::BadInput("hpo-coordinator: " + std::string(e.what()) +
                        " (see --help)");
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\nPlans and runs a hyperparameter study.\n\n"
              << options;
    return 0;
  }
  if (!vm.count("study")) {
    throw hpo::BadInput(
        "hpo-coordinator: --study FILE.json is required (see --help)");
  }
  hpo::StudySpec spec = hpo::LoadStudyFile(vm["study"].as<std::string>());
  std::unique_ptr<hpo::Scheduler> scheduler = hpo::NewScheduler(spec);
  if (vm.count("plan")) {
    nlohmann::ordered_json plan = scheduler->Plan();
    WarnAboutBudget(plan);
    std::cout << plan.dump() << "\n";
    return 0;
  }
  throw hpo::RuntimeFailure(
      "running a study needs the coordinator service, which this build does "
      "not have yet; use --plan to check the schedule of " +
      vm["study"].as<std::string>());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const hpo::Error& e) {
    std::cerr << (e.kind() == hpo::ErrorKind::kBadInput ? ""
                                                        : "hpo-coordinator: ")
              << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "hpo-coordinator: internal error: " << e.what() << "\n";
    return 1;
  }
}
