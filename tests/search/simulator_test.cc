#include "search/simulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "search/sim_comparison.h"

namespace hpo {
namespace {

using nlohmann::json;

TEST(SyntheticCurvesTest, PureFunctionOfParametersAndEpoch) {
  StudySpec spec = ComparisonStudy("random", ComparisonSetup{}, 1);
  SyntheticCurves a(spec.search_space, CurveOptions{});
  SyntheticCurves b(spec.search_space, CurveOptions{});
  json params = {{"lr", 1e-3},
                 {"batch_size", 64},
                 {"dropout", 0.2},
                 {"optimizer", "adam"},
                 {"channels", {32, 64, 128, 128}}};
  for (int e = 1; e <= 10; ++e) {
    EXPECT_EQ(a.At(params, e).val_accuracy, b.At(params, e).val_accuracy);
    EXPECT_EQ(a.At(params, e).epoch_seconds, b.At(params, e).epoch_seconds);
  }
  // Curves rise towards their ceiling.
  EXPECT_LT(a.At(params, 1).val_accuracy, a.At(params, 27).val_accuracy + 0.05);
  double q = a.Quality(params);
  EXPECT_GE(q, 0.0);
  EXPECT_LE(q, 1.0);
}

TEST(SyntheticCurvesTest, DivergenceMakesLossesNaN) {
  StudySpec spec = ComparisonStudy("random", ComparisonSetup{}, 1);
  CurveOptions options;
  options.divergence_rate = 1.0;
  SyntheticCurves curves(spec.search_space, options);
  EpochMetrics m = curves.At(json{{"lr", 0.05}}, 3);
  EXPECT_TRUE(m.diverged);
  EXPECT_TRUE(std::isnan(m.Get("val_loss")));
}

TEST(SimulatorTest, SameSeedSameRun) {
  ComparisonSetup setup;
  std::vector<MethodRun> a = CompareOnSeed(setup, 5, {"asha"});
  std::vector<MethodRun> b = CompareOnSeed(setup, 5, {"asha"});
  EXPECT_EQ(a[1].result.epochs, b[1].result.epochs);
  EXPECT_EQ(a[1].result.best, b[1].result.best);
  EXPECT_EQ(a[1].result.makespan, b[1].result.makespan);
}

TEST(SimulatorTest, AccountsForEveryTrialAndEpoch) {
  ComparisonSetup setup;
  for (const MethodRun& run : CompareOnSeed(
           setup, 2, {"successive_halving", "hyperband", "asha", "median"})) {
    const SimResult& r = run.result;
    EXPECT_FALSE(r.stalled) << run.algorithm;
    EXPECT_EQ(r.completed + r.pruned + r.failed, r.trials) << run.algorithm;
    EXPECT_GT(r.completed, 0) << run.algorithm;
    EXPECT_GT(r.utilisation, 0.3) << run.algorithm;
    EXPECT_LE(r.utilisation, 1.0 + 1e-9) << run.algorithm;
  }
}

TEST(SimulatorTest, TimeLimitStopsTheRun) {
  StudySpec spec = ComparisonStudy("asha", ComparisonSetup{}, 1);
  SyntheticCurves curves(spec.search_space, CurveOptions{});
  auto scheduler = NewScheduler(spec);
  SimOptions options;
  options.time_limit = 10;
  SimResult r = Simulate(*scheduler, curves, spec, options);
  EXPECT_EQ(r.makespan, 10);
  EXPECT_FALSE(r.stalled);
  EXPECT_GT(r.utilisation, 0.9);
}

// The claim behind early stopping, on 20 seeds of the same curves: Hyperband
// and ASHA match random search's best value with a fraction of its epochs
// (median over seeds; a seed where a method never matched it counts as
// infinitely many).
TEST(SimulatorTest, EarlyStoppingReachesRandomsBestWithAFractionOfEpochs) {
  ComparisonSetup setup;
  const int seeds = 20;
  std::map<std::string, std::vector<double>> epoch_ratio;
  std::map<std::string, std::vector<double>> time_ratio;
  for (int seed = 1; seed <= seeds; ++seed) {
    std::vector<MethodRun> runs =
        CompareOnSeed(setup, seed, {"hyperband", "asha"});
    for (const MethodRun& run : runs) {
      epoch_ratio[run.algorithm].push_back(ReachRatio(run, runs[0], false));
      time_ratio[run.algorithm].push_back(ReachRatio(run, runs[0], true));
    }
  }
  EXPECT_EQ(MedianOf(epoch_ratio["random"]), 1.0);
  EXPECT_LE(MedianOf(epoch_ratio["hyperband"]), 0.6);
  EXPECT_LE(MedianOf(epoch_ratio["asha"]), 0.5);
  // ASHA gets there sooner than synchronous Hyperband in wall time.
  EXPECT_LT(MedianOf(time_ratio["asha"]), MedianOf(time_ratio["hyperband"]));
}

// ASHA never waits for a rung to fill: with varying epoch times it keeps
// workers busier than synchronous successive halving and finishes the same
// number of trials sooner than synchronous Hyperband.
TEST(SimulatorTest, AshaKeepsWorkersBusierWhenTrialTimesVary) {
  ComparisonSetup setup;
  setup.time_spread = 1.0;
  double sh_util = 0;
  double asha_util = 0;
  double hb_time = 0;
  double asha_time = 0;
  for (int seed = 1; seed <= 10; ++seed) {
    std::vector<MethodRun> runs =
        CompareOnSeed(setup, seed, {"successive_halving", "hyperband", "asha"});
    sh_util += runs[1].result.utilisation;
    hb_time += runs[2].result.makespan;
    asha_util += runs[3].result.utilisation;
    asha_time += runs[3].result.makespan;
  }
  EXPECT_GT(asha_util, sh_util * 1.1);
  EXPECT_LT(asha_time, hb_time * 0.7);
}

}  // namespace
}  // namespace hpo
