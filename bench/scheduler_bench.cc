// scheduler_bench: what a scheduling decision costs as a study grows.
//
// Runs each scheduler through a whole study in the virtual-time simulator
// (8 workers, synthetic curves, max 27 epochs) at two sizes, 1,000 and 10,000
// trials, records its events, then times replaying them into a new scheduler:
// real time per event (worker free, epoch reported, trial failed), scheduler
// work only. The figure to read is the ratio between the sizes: 1.0 means a
// decision costs the same however many trials the study holds (no scan of
// every trial's history per decision, Optuna's weak spot).
//
// Reproduce: build/bench/scheduler_bench
#include <chrono>
#include <cstdio>
#include <string>

#include "search/sim_comparison.h"

namespace {

// Nanoseconds of real time per scheduler event for one whole study.
double NanosPerEvent(const std::string& algorithm, int64_t trials) {
  hpo::ComparisonSetup setup;
  setup.random_trials = trials;
  setup.asha_trials = trials;
  setup.hyperband_iterations = static_cast<int>(trials / 49);
  hpo::StudySpec spec = hpo::ComparisonStudy(algorithm, setup, 1);
  hpo::CurveOptions curve_options;
  curve_options.divergence_rate = setup.divergence_rate;
  hpo::SyntheticCurves curves(spec.search_space, curve_options);
  auto scheduler = hpo::NewScheduler(spec);
  hpo::SimResult r =
      hpo::Simulate(*scheduler, curves, spec, hpo::SimOptions{setup.workers});
  auto replayed = hpo::NewScheduler(spec);
  auto start = std::chrono::steady_clock::now();
  hpo::Replay(*replayed, r.events);
  auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() /
         static_cast<double>(r.events.size());
}

}  // namespace

int main() {
  std::printf(
      "scheduler_bench: real time per scheduler event over a whole study in "
      "the simulator (8 workers, max 27 epochs), replayed\n");
  std::printf("reproduce: build/bench/scheduler_bench\n\n");
  std::printf("%-19s %14s %15s %16s\n", "algorithm", "1k trials", "10k trials",
              "10k / 1k");
  for (const char* algorithm :
       {"random", "successive_halving", "hyperband", "asha", "median"}) {
    double small = NanosPerEvent(algorithm, 1000);
    double large = NanosPerEvent(algorithm, 10000);
    std::printf("%-19s %11.0f ns %12.0f ns %15.2fx\n", algorithm, small, large,
                large / small);
  }
  return 0;
}
