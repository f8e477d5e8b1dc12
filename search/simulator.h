// Drives a scheduler with simulated workers in virtual time over synthetic
// learning curves. Used by tests (scheduler behaviour, replay) and by
// bench/sim_bench (epochs, best value, time to reach it, utilisation).
//
// Each worker asks NextJob() when free, trains its job epoch by epoch (each
// epoch takes the curve's epoch_seconds of virtual time), reports every epoch
// with OnEpoch() and stops when told to; a diverged epoch is reported with
// OnFailed(). A worker told to wait sleeps until another worker's job ends.
#ifndef HPO_SEARCH_SIMULATOR_H_
#define HPO_SEARCH_SIMULATOR_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "search/scheduler.h"
#include "search/synthetic_curves.h"

namespace hpo {

struct SimOptions {
  int workers = 4;
  // Safety net against a scheduler that never finishes.
  int64_t max_epochs_total = 50'000'000;
  // Virtual seconds after which the simulation stops (0: run to the end).
  // Busy time and utilisation then cover [0, time_limit].
  double time_limit = 0;
};

struct SimPoint {
  double time;     // Virtual seconds since the start.
  int64_t epochs;  // Epochs trained by then, over all workers.
  double best;     // Best objective value of a trial trained to max_epochs.
};

struct SimResult {
  int64_t epochs = 0;  // Epochs trained in all.
  int64_t trials = 0;  // Trials started.
  int64_t completed = 0;
  int64_t pruned = 0;
  int64_t failed = 0;
  double best = 0;  // Best final value (NaN if no trial completed).
  int64_t best_trial = -1;
  double makespan = 0;             // Virtual time when the last job ended.
  double busy = 0;                 // Worker-seconds spent training.
  double utilisation = 0;          // busy / (workers * makespan).
  bool stalled = false;            // The scheduler waited with no work running.
  bool cut_short = false;          // Stopped at SimOptions::max_epochs_total.
  std::vector<SimPoint> progress;  // Each improvement of `best`.
  std::vector<SchedulerEvent> events;  // Every event, in order.
  // What each event produced, in order: decisions and verdicts as JSON.
  std::vector<nlohmann::json> outputs;

  // The first point where the best value reached `target` (>= for max, <=
  // for min), or nullopt.
  std::optional<SimPoint> Reach(double target, ObjectiveMode mode) const;
};

SimResult Simulate(Scheduler& scheduler, const SyntheticCurves& curves,
                   const StudySpec& spec, const SimOptions& options);

// JSON form of a decision or verdict, for comparing runs.
nlohmann::json ToJson(const Decision& decision);
nlohmann::json ToJson(Verdict verdict);

}  // namespace hpo

#endif  // HPO_SEARCH_SIMULATOR_H_
