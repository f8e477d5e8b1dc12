// sim_bench: schedulers compared in virtual time on synthetic learning curves.
//
// For each seed, random search runs first; its final best validation accuracy
// is the target. Then successive halving, Hyperband, ASHA and median stopping
// run on the same curves and sampler. Printed per method (means over seeds):
// trials, epochs trained, best value, how often and how soon (in epochs and in
// virtual time, as a fraction of random search's; median over seeds, a seed
// that never matched counting as infinite) it matched random's best, and
// worker utilisation; "first-done" is when the method's first trial reached
// max_epochs (the earliest it could match anything), as a fraction of the
// epochs random search needed for its best. A second table does the same for
// the learning samplers (BOHB, Hyperband and ASHA with TPE, random with TPE)
// against their blind versions. A third varies epoch-time spread to compare
// worker utilisation of synchronous Hyperband and ASHA. All on synthetic
// learning curves (search/synthetic_curves.h), in virtual time.
//
// Reproduce: build/bench/sim_bench [--seeds 20] [--workers 8] [--budget 1]
// (--budget K: K times the trials of random search and ASHA and K times
// Hyperband's iterations)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "search/sim_comparison.h"

namespace {

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? std::nan("") : s / v.size();
}

struct Figures {
  std::vector<double> trials, epochs, best, utilisation, makespan;
  std::vector<double> epoch_ratio, time_ratio;  // +inf: never reached.
  std::vector<double> first_ratio;  // First max_epochs trial, x random.
  int reached = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;
  int budget = 1;
  hpo::ComparisonSetup setup;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) seeds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers"))
      setup.workers = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--budget")) budget = std::atoi(argv[i + 1]);
  }
  if (budget < 1) budget = 1;
  setup.random_trials *= budget;
  setup.hyperband_iterations *= budget;
  setup.asha_trials *= budget;
  std::printf(
      "sim_bench: %d seeds, %d workers, max_epochs %d, eta %d, "
      "epoch-time spread %.2f, divergence %.2f; on synthetic learning "
      "curves\n",
      seeds, setup.workers, setup.max_epochs, setup.eta, setup.time_spread,
      setup.divergence_rate);
  std::printf(
      "reproduce: build/bench/sim_bench --seeds %d --workers %d --budget "
      "%d\n\n",
      seeds, setup.workers, budget);

  std::vector<std::string> order = {"random", "successive_halving", "hyperband",
                                    "asha", "median"};
  const std::vector<std::string> learned = {
      "random",         "hyperband",     "asha",      "random+tpe",
      "hyperband+bohb", "hyperband+tpe", "asha+bohb", "asha+tpe"};
  order.insert(order.end(), learned.begin() + 3, learned.end());
  std::vector<std::string> methods(order.begin() + 1, order.end());
  std::map<std::string, Figures> figures;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::vector<hpo::MethodRun> runs = hpo::CompareOnSeed(setup, seed, methods);
    const hpo::SimResult& random = runs[0].result;
    for (const hpo::MethodRun& run : runs) {
      Figures& f = figures[run.algorithm];
      f.trials.push_back(run.result.trials);
      f.epochs.push_back(run.result.epochs);
      f.best.push_back(run.result.best);
      f.utilisation.push_back(run.result.utilisation);
      f.makespan.push_back(run.result.makespan / random.makespan);
      f.reached += run.reached.has_value();
      f.epoch_ratio.push_back(hpo::ReachRatio(run, runs[0], false));
      f.time_ratio.push_back(hpo::ReachRatio(run, runs[0], true));
      f.first_ratio.push_back(
          run.result.progress.empty() || random.progress.empty()
              ? INFINITY
              : static_cast<double>(run.result.progress.front().epochs) /
                    random.progress.back().epochs);
    }
  }
  std::printf("%-19s %7s %8s %8s %9s %12s %12s %10s %9s %6s\n", "algorithm",
              "trials", "epochs", "best", "reached", "epochs-to", "time-to",
              "first-done", "makespan", "util");
  std::printf("%-19s %7s %8s %8s %9s %12s %12s %10s %9s %6s\n", "", "", "", "",
              "random's", "random's best", "random's best", "epochs", "", "");
  std::printf("%-19s %7s %8s %8s %9s %12s %12s %10s %9s %6s\n", "", "mean",
              "mean", "mean", "best", "(median x)", "(median x)", "(median x)",
              "(x rand)", "");
  for (const std::string& name : order) {
    if (name == "random+tpe") {
      std::printf("learning samplers (same budgets, same curves):\n");
    }
    const Figures& f = figures[name];
    std::printf(
        "%-19s %7.1f %8.0f %8.4f %6d/%-2d %12.2f %12.2f %10.2f %9.2f "
        "%5.0f%%\n",
        name.c_str(), Mean(f.trials), Mean(f.epochs), Mean(f.best), f.reached,
        seeds, hpo::MedianOf(f.epoch_ratio), hpo::MedianOf(f.time_ratio),
        hpo::MedianOf(f.first_ratio), Mean(f.makespan),
        100 * Mean(f.utilisation));
  }

  std::printf(
      "\nworker utilisation as epoch times vary (%d seeds, %d workers)\n"
      "  budget: %lld trials each (successive halving: one bracket of %lld;\n"
      "  hyperband: %d iterations); makespan in virtual seconds\n",
      seeds, setup.workers, static_cast<long long>(setup.asha_trials),
      static_cast<long long>(setup.asha_trials), setup.hyperband_iterations);
  std::printf("%-7s %9s %9s %9s %10s %10s %10s\n", "spread", "sh util",
              "hb util", "asha util", "sh time", "hb time", "asha time");
  for (double spread : {0.0, 0.5, 1.0}) {
    hpo::ComparisonSetup s = setup;
    s.time_spread = spread;
    std::vector<double> util[3], time[3];
    for (int seed = 1; seed <= seeds; ++seed) {
      std::vector<hpo::MethodRun> runs = hpo::CompareOnSeed(
          s, seed, {"successive_halving", "hyperband", "asha"});
      for (int a = 0; a < 3; ++a) {
        util[a].push_back(runs[a + 1].result.utilisation);
        time[a].push_back(runs[a + 1].result.makespan);
      }
    }
    std::printf("%-7.1f %8.0f%% %8.0f%% %8.0f%% %9.0fs %9.0fs %9.0fs\n", spread,
                100 * Mean(util[0]), 100 * Mean(util[1]), 100 * Mean(util[2]),
                Mean(time[0]), Mean(time[1]), Mean(time[2]));
  }

  const double horizon = 150;
  std::printf(
      "\nsteady state: %.0f virtual seconds, no trial budget (%d seeds, %d "
      "workers)\n",
      horizon, seeds, setup.workers);
  std::printf("%-7s %9s %9s %9s %9s %9s %9s\n", "spread", "hb util",
              "asha util", "hb best", "asha best", "hb done", "asha done");
  for (double spread : {0.0, 0.5, 1.0}) {
    hpo::ComparisonSetup s = setup;
    s.time_spread = spread;
    s.hyperband_iterations = 1000;
    s.asha_trials = 1000000;
    hpo::CurveOptions curve_options;
    curve_options.time_spread = spread;
    curve_options.divergence_rate = setup.divergence_rate;
    hpo::SimOptions options;
    options.workers = setup.workers;
    options.time_limit = horizon;
    std::vector<double> util[2], best[2], done[2];
    for (int seed = 1; seed <= seeds; ++seed) {
      curve_options.seed = seed;
      int a = 0;
      for (const char* algorithm : {"hyperband", "asha"}) {
        hpo::StudySpec spec = hpo::ComparisonStudy(algorithm, s, seed);
        hpo::SyntheticCurves curves(spec.search_space, curve_options);
        auto scheduler = hpo::NewScheduler(spec);
        hpo::SimResult r = hpo::Simulate(*scheduler, curves, spec, options);
        util[a].push_back(r.utilisation);
        best[a].push_back(std::isnan(r.best) ? 0 : r.best);
        done[a].push_back(r.completed);
        ++a;
      }
    }
    std::printf("%-7.1f %8.0f%% %8.0f%% %9.4f %9.4f %9.1f %9.1f\n", spread,
                100 * Mean(util[0]), 100 * Mean(util[1]), Mean(best[0]),
                Mean(best[1]), Mean(done[0]), Mean(done[1]));
  }
  return 0;
}
