// pbt_bench: population-based training against random search and ASHA on
// the same epoch budget, on synthetic "annealing" learning curves (the
// learning rate that helps most falls as training goes on, so the best
// schedule beats every constant lr: search/synthetic_curves.h, Train()).
// In virtual time, with the simulator (search/simulator.h).
//
// Per seed: PBT trains `population` members to max_epochs (interval 3,
// mutating lr and dropout); random search trains as many trials to
// max_epochs, the same epochs; ASHA (eta 3, min 1 epoch) starts trials until
// that many epochs are spent. Printed: mean best val_accuracy of a trial
// trained to max_epochs, PBT's wins per seed against each, and the mean
// exploits per PBT run. Also on static curves (a pure function of the
// parameters, where a schedule cannot help) as a control.
//
// Reproduce: build/bench/pbt_bench [--seeds 20] [--workers 8]
//            [--population 16] [--max-epochs 27]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "search/scheduler.h"
#include "search/simulator.h"

namespace {

using nlohmann::json;

struct Setup {
  int seeds = 20;
  int workers = 8;
  int population = 16;
  int max_epochs = 27;
};

hpo::StudySpec Study(const std::string& algorithm, const Setup& s,
                     uint64_t seed, bool annealing) {
  json a = {{"type", algorithm}, {"max_epochs", s.max_epochs}};
  json study = {
      {"name", "pbt_bench_" + algorithm},
      {"seed", seed},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer",
       {{"model", "synthetic"},
        {"curves", annealing ? "annealing" : "static"}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.6}}},
        {"optimizer",
         {{"type", "choice"}, {"values", {"adam", "sgd", "rmsprop"}}}}}}};
  if (algorithm == "pbt") {
    a["population"] = s.population;
    a["interval"] = 3;
    a["mutable"] = {"lr", "dropout"};
  } else if (algorithm == "asha") {
    a["min_epochs"] = 1;
    a["eta"] = 3;
    study["budget"] = {{"max_trials", 100000}};
  } else {
    study["budget"] = {{"max_trials", s.population}};
  }
  study["algorithm"] = a;
  return hpo::ParseStudy(study, "pbt_bench.json");
}

struct Run {
  double best = std::nan("");
  int64_t trials = 0;
  int64_t epochs = 0;
  size_t exploits = 0;
};

Run Simulate(const std::string& algorithm, const Setup& s, uint64_t seed,
             bool annealing) {
  hpo::StudySpec spec = Study(algorithm, s, seed, annealing);
  std::unique_ptr<hpo::Scheduler> scheduler = hpo::NewScheduler(spec);
  hpo::SyntheticCurves curves(spec.search_space,
                              hpo::SyntheticTrainerOptions(spec));
  hpo::SimOptions options;
  options.workers = s.workers;
  options.max_epochs_total = static_cast<int64_t>(s.population) * s.max_epochs;
  hpo::SimResult r = hpo::Simulate(*scheduler, curves, spec, options);
  Run run;
  run.best = r.best;
  run.trials = r.trials;
  run.epochs = r.epochs;
  run.exploits = scheduler->TakeExploits().size();
  return run;
}

void Table(const Setup& s, bool annealing) {
  std::printf("\n%s curves, %d seeds, %d workers, %d epochs each:\n",
              annealing ? "annealing" : "static", s.seeds, s.workers,
              s.population * s.max_epochs);
  const char* names[] = {"pbt", "random", "asha"};
  double sum[3] = {0, 0, 0}, trials[3] = {0, 0, 0}, epochs[3] = {0, 0, 0};
  int wins[3] = {0, 0, 0};
  double exploits = 0;
  for (int seed = 1; seed <= s.seeds; ++seed) {
    Run runs[3];
    for (int m = 0; m < 3; ++m) {
      runs[m] = Simulate(names[m], s, static_cast<uint64_t>(seed), annealing);
      sum[m] += runs[m].best;
      trials[m] += runs[m].trials;
      epochs[m] += runs[m].epochs;
    }
    exploits += runs[0].exploits;
    for (int m = 1; m < 3; ++m) wins[m] += runs[0].best > runs[m].best;
  }
  std::printf("  %-8s %8s %8s %10s %s\n", "method", "trials", "epochs",
              "best_acc", "pbt_wins");
  for (int m = 0; m < 3; ++m) {
    char w[32] = "";
    if (m > 0) std::snprintf(w, sizeof w, "%d/%d", wins[m], s.seeds);
    std::printf("  %-8s %8.1f %8.1f %10.4f %s\n", names[m], trials[m] / s.seeds,
                epochs[m] / s.seeds, sum[m] / s.seeds, w);
  }
  std::printf("  pbt exploits per run: %.1f\n", exploits / s.seeds);
}

}  // namespace

int main(int argc, char** argv) {
  Setup s;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) s.seeds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers")) s.workers = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--population"))
      s.population = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--max-epochs"))
      s.max_epochs = std::atoi(argv[i + 1]);
  }
  std::printf(
      "pbt_bench: PBT vs random search and ASHA on the same epoch budget, "
      "synthetic learning curves, virtual time\n");
  Table(s, /*annealing=*/true);
  Table(s, /*annealing=*/false);
  std::printf(
      "\nreproduce: build/bench/pbt_bench --seeds %d --workers %d "
      "--population %d --max-epochs %d\n",
      s.seeds, s.workers, s.population, s.max_epochs);
  return 0;
}
