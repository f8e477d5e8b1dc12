#include "search/sim_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hpo {

using nlohmann::json;

StudySpec ComparisonStudy(const std::string& method,
                          const ComparisonSetup& setup, uint64_t seed) {
  const size_t plus = method.find('+');
  const std::string algorithm = method.substr(0, plus);
  json a = {{"type", algorithm}, {"max_epochs", setup.max_epochs}};
  if (plus != std::string::npos) {
    a["sampler"] = {{"type", method.substr(plus + 1)}};
  }
  int64_t trials = setup.random_trials;
  if (algorithm == "successive_halving" || algorithm == "hyperband" ||
      algorithm == "asha") {
    a["min_epochs"] = 1;
    a["eta"] = setup.eta;
  }
  if (algorithm == "successive_halving") {
    // As many trials as Hyperband's iterations start, in one bracket.
    a["n"] = setup.asha_trials;
    trials = 0;
  }
  if (algorithm == "hyperband") {
    a["iterations"] = setup.hyperband_iterations;
    trials = 0;
  }
  if (algorithm == "asha") trials = setup.asha_trials;
  json study = {
      {"name", "sim_" + algorithm},
      {"seed", seed},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"batch_size",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}},
        {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.6}}},
        {"optimizer",
         {{"type", "choice"}, {"values", {"adam", "sgd", "rmsprop"}}}},
        {"channels",
         {{"type", "choice"},
          {"values",
           {{32, 64, 128, 128}, {64, 64, 128, 128}, {64, 128, 256, 256}}}}}}},
      {"algorithm", a}};
  if (trials > 0) study["budget"] = {{"max_trials", trials}};
  return ParseStudy(study, "sim_" + algorithm + ".json");
}

std::vector<MethodRun> CompareOnSeed(const ComparisonSetup& setup,
                                     uint64_t seed,
                                     const std::vector<std::string>& others) {
  CurveOptions curve_options;
  curve_options.seed = seed;
  curve_options.time_spread = setup.time_spread;
  curve_options.divergence_rate = setup.divergence_rate;
  std::vector<MethodRun> runs;
  std::vector<std::string> algorithms = {"random"};
  algorithms.insert(algorithms.end(), others.begin(), others.end());
  double target = 0;
  for (const std::string& algorithm : algorithms) {
    StudySpec spec = ComparisonStudy(algorithm, setup, seed);
    SyntheticCurves curves(spec.search_space, curve_options);
    auto scheduler = NewScheduler(spec);
    MethodRun run;
    run.algorithm = algorithm;
    run.result = Simulate(*scheduler, curves, spec, SimOptions{setup.workers});
    if (algorithm == "random") target = run.result.best;
    run.reached = run.result.Reach(target, ObjectiveMode::kMax);
    runs.push_back(std::move(run));
  }
  return runs;
}

double ReachRatio(const MethodRun& run, const MethodRun& random, bool in_time) {
  if (!run.reached || random.result.progress.empty()) {
    return std::numeric_limits<double>::infinity();
  }
  const SimPoint& end = random.result.progress.back();
  return in_time ? run.reached->time / end.time
                 : static_cast<double>(run.reached->epochs) / end.epochs;
}

double MedianOf(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace hpo
