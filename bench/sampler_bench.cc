// sampler_bench: hpo's samplers on standard test functions, one trial after
// another (what Optuna's study.optimize does with one process), for
// bench/sampler_bench.sh, which runs Optuna's samplers on the same functions
// in the same run (bench/samplers/optuna_peer.py) and prints the comparison.
//
// Functions (minimised): Branin (global minimum 0.397887), Hartmann-6
// (-3.32237), and "mixed": Hartmann-6 plus a choice kind in {a, b, c} that
// adds {0, 0.3, 0.6} and, for kind c only, a conditional bonus in [0, 1]
// that subtracts 1.2 exp(-((bonus - 0.7) / 0.1)^2) (minimum -3.92237, at kind
// c, bonus 0.7). Search spaces: bench/samplers/functions.json.
//
// Prints one JSON line per seed: {"function", "sampler", "seed", "best",
// "curve" (best so far after each trial), "seconds" (the whole run)}.
//
// Reproduce: build/bench/sampler_bench --function hartmann6 --sampler tpe
//            [--seeds 30] [--trials 100] [--first-seed 0]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "common/study_spec.h"
#include "search/sampler.h"

namespace {

using nlohmann::json;

const char kUsage[] =
    "usage: sampler_bench --function branin|hartmann6|mixed\n"
    "         --sampler random|tpe|tpe_multivariate [--seeds 30]\n"
    "         [--trials 100] [--first-seed 0] [--functions FILE]\n";

double Branin(const json& c) {
  const double x1 = c["x1"], x2 = c["x2"];
  const double b = 5.1 / (4 * M_PI * M_PI), cc = 5 / M_PI, t = 1 / (8 * M_PI);
  const double u = x2 - b * x1 * x1 + cc * x1 - 6;
  return u * u + 10 * (1 - t) * std::cos(x1) + 10;
}

double Hartmann6(const json& c) {
  static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double p[4][6] = {
      {0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
      {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
      {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
      {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double x[6];
  for (int j = 0; j < 6; ++j) x[j] = c["x" + std::to_string(j + 1)];
  double f = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j)
      s += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
    f -= alpha[i] * std::exp(-s);
  }
  return f;
}

double Mixed(const json& c) {
  const std::string kind = c["kind"];
  double f = Hartmann6(c) + (kind == "a" ? 0 : kind == "b" ? 0.3 : 0.6);
  if (kind == "c") {
    const double z = (c["bonus"].get<double>() - 0.7) / 0.1;
    f -= 1.2 * std::exp(-z * z);
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string function, sampler_name,
      functions = "bench/samplers/functions.json";
  int seeds = 30, trials = 100, first_seed = 0;
  hpo::bench::ParseFlagPairs(argc, argv, "sampler_bench", kUsage,
                             [&](const std::string& flag, const char* value) {
                               if (flag == "--function")
                                 function = value;
                               else if (flag == "--sampler")
                                 sampler_name = value;
                               else if (flag == "--functions")
                                 functions = value;
                               else if (flag == "--seeds")
                                 seeds = std::atoi(value);
                               else if (flag == "--trials")
                                 trials = std::atoi(value);
                               else if (flag == "--first-seed")
                                 first_seed = std::atoi(value);
                               else
                                 return false;
                               return true;
                             });
  double (*f)(const json&) = function == "branin"      ? &Branin
                             : function == "hartmann6" ? &Hartmann6
                             : function == "mixed"     ? &Mixed
                                                       : nullptr;
  if (f == nullptr) {
    hpo::bench::UsageError("sampler_bench", kUsage, "unknown --function");
  }
  json sampler = {{"type", "tpe"}};
  if (sampler_name == "random") {
    sampler = {{"type", "random"}};
  } else if (sampler_name == "tpe_multivariate") {
    sampler["multivariate"] = true;
  } else if (sampler_name != "tpe") {
    hpo::bench::UsageError("sampler_bench", kUsage, "unknown --sampler");
  }
  std::ifstream in(functions);
  if (!in) {
    hpo::bench::UsageError(
        "sampler_bench", kUsage,
        "cannot read " + functions +
            " (run from the source root or give --functions)");
  }
  const json space = json::parse(in)[function];
  for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
    json study = {
        {"name", "bench"},
        {"seed", seed},
        {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
        {"search_space", space},
        {"algorithm",
         {{"type", "random"}, {"max_epochs", 1}, {"sampler", sampler}}},
        {"budget", {{"max_trials", trials}}}};
    const hpo::StudySpec spec = hpo::ParseStudy(study, function + ".json");
    std::unique_ptr<hpo::Sampler> s = hpo::NewSampler(spec);
    hpo::TrialHistory history;
    double best = INFINITY;
    json curve = json::array();
    const auto start = std::chrono::steady_clock::now();
    for (int64_t n = 0; n < trials; ++n) {
      json params = *s->Sample(n, history);
      const double value = f(params);
      best = std::min(best, value);
      curve.push_back(best);
      hpo::TrialRecord t;
      t.number = n;
      t.params = std::move(params);
      t.state = hpo::TrialState::kComplete;
      t.epochs = 1;
      t.score = {value};
      t.job.to_epoch = 1;
      history[n] = std::move(t);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    json line = {{"function", function}, {"sampler", sampler_name},
                 {"seed", seed},         {"best", best},
                 {"curve", curve},       {"seconds", seconds}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
