// Median stopping, after Golovin et al. 2017 ("Google Vizier"): after a
// warm-up, a trial stops when its best value so far is worse than the median
// of the completed trials' best values so far at the same epoch. (Vizier
// compares running averages of the objective; best-so-far values are less
// sensitive to a noisy epoch and are what Optuna's MedianPruner users expect
// from "best value".)
//
// Each epoch keeps a sorted list of the completed trials' best-so-far
// scores, so a decision costs O(1) and a completion O(epochs * log trials),
// not a scan of every trial's history.
#include <algorithm>

#include "search/fifo_scheduler.h"
#include "search/schedulers.h"

namespace hpo {
namespace {

class MedianScheduler : public FifoScheduler {
 public:
  MedianScheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
      : FifoScheduler(spec, std::move(sampler)),
        best_at_epoch_(static_cast<size_t>(spec.algorithm.max_epochs)) {}

  nlohmann::ordered_json SchedulePlan() const override {
    nlohmann::ordered_json plan;
    const int64_t trials = PlannedTrials();
    plan["algorithm"] = "median";
    plan["trials"] = trials;
    plan["max_epochs"] = spec_.algorithm.max_epochs;
    plan["warmup_epochs"] = spec_.algorithm.warmup_epochs;
    plan["min_trials"] = spec_.algorithm.min_trials;
    plan["max_total_epochs"] = trials * spec_.algorithm.max_epochs;
    return plan;
  }

 protected:
  bool ShouldPrune(const TrialRecord& trial, int epoch) override {
    if (epoch <= spec_.algorithm.warmup_epochs) return false;
    const std::vector<double>& completed =
        best_at_epoch_[static_cast<size_t>(epoch - 1)];
    if (static_cast<int>(completed.size()) < spec_.algorithm.min_trials) {
      return false;
    }
    const size_t n = completed.size();
    const double median = n % 2 == 1
                              ? completed[n / 2]
                              : 0.5 * (completed[n / 2 - 1] + completed[n / 2]);
    return BestSoFar(trial, epoch) > median;
  }

  void OnJobEnd(TrialRecord& trial) override {
    FifoScheduler::OnJobEnd(trial);
    for (int e = 1; e <= trial.epochs && e <= spec_.algorithm.max_epochs; ++e) {
      std::vector<double>& list = best_at_epoch_[static_cast<size_t>(e - 1)];
      double best = BestSoFar(trial, e);
      list.insert(std::upper_bound(list.begin(), list.end(), best), best);
    }
  }

 private:
  static double BestSoFar(const TrialRecord& trial, int epoch) {
    return *std::min_element(trial.score.begin(), trial.score.begin() + epoch);
  }

  // best_at_epoch_[e - 1]: sorted best-so-far scores at epoch e of the
  // completed trials.
  std::vector<std::vector<double>> best_at_epoch_;
};

}  // namespace

std::unique_ptr<Scheduler> NewMedianScheduler(
    const StudySpec& spec, std::unique_ptr<Sampler> sampler) {
  return std::make_unique<MedianScheduler>(spec, std::move(sampler));
}

}  // namespace hpo
