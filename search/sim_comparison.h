// Random search, successive halving, Hyperband, ASHA and median stopping on
// the same synthetic learning curves, in virtual time: the comparison behind
// bench/sim_bench and the simulator tests.
#ifndef HPO_SEARCH_SIM_COMPARISON_H_
#define HPO_SEARCH_SIM_COMPARISON_H_

#include <optional>
#include <string>
#include <vector>

#include "search/simulator.h"

namespace hpo {

struct ComparisonSetup {
  int workers = 8;
  int max_epochs = 27;
  int eta = 3;
  int64_t random_trials = 64;     // Random search and median stopping.
  int hyperband_iterations = 3;   // 49 trials each for 27/3.
  int64_t asha_trials = 147;      // Same number of trials as Hyperband.
  double time_spread = 0.5;       // Log-normal sigma of epoch times.
  double divergence_rate = 0.05;  // Configurations that diverge.
};

struct MethodRun {
  std::string algorithm;
  SimResult result;
  // When the method first matched random search's final best value.
  std::optional<SimPoint> reached;
};

// The study each method runs: the same search space (learning rate, batch
// size, dropout, optimizer, channel counts) and seed. A method is an
// algorithm, or "algorithm+sampler" ("hyperband+bohb", "asha+tpe").
StudySpec ComparisonStudy(const std::string& method,
                          const ComparisonSetup& setup, uint64_t seed);

// Runs random first (its final best is the target), then the others, all on
// the curves and sampler of `seed`.
std::vector<MethodRun> CompareOnSeed(const ComparisonSetup& setup,
                                     uint64_t seed,
                                     const std::vector<std::string>& others = {
                                         "successive_halving", "hyperband",
                                         "asha", "median"});

// Epochs (or virtual time, with `in_time`) that `run` needed to match random
// search's final best, as a fraction of what random search needed for it;
// +infinity if it never did.
double ReachRatio(const MethodRun& run, const MethodRun& random, bool in_time);

// The median of `values` (+infinity counts as a value, NaN if empty).
double MedianOf(std::vector<double> values);

}  // namespace hpo

#endif  // HPO_SEARCH_SIM_COMPARISON_H_
