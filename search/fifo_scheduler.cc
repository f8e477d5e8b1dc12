#include "search/fifo_scheduler.h"

#include <algorithm>

#include "search/schedulers.h"

namespace hpo {

Decision FifoScheduler::DoNextJob() {
  if (!exhausted_ && BudgetLeft()) {
    std::optional<Job> job =
        StartTrial(next_number_, 0, 0, spec_.algorithm.max_epochs);
    if (job) {
      ++next_number_;
      return Run(*job);
    }
    exhausted_ = true;
  }
  return AnyRunning() ? Wait() : Done();
}

void FifoScheduler::OnJobEnd(TrialRecord& trial) {
  SetState(trial, TrialState::kComplete);
}

int64_t FifoScheduler::PlannedTrials() const {
  std::optional<int64_t> size = sampler().Size();
  int64_t budget = spec_.budget.max_trials;
  if (!size) return budget;
  return budget > 0 ? std::min(budget, *size) : *size;
}

nlohmann::ordered_json FifoScheduler::SchedulePlan() const {
  nlohmann::ordered_json plan;
  const int64_t trials = PlannedTrials();
  plan["algorithm"] = ToString(spec_.algorithm.type);
  plan["trials"] = trials;
  plan["max_epochs"] = spec_.algorithm.max_epochs;
  if (spec_.algorithm.type == AlgorithmType::kGrid) {
    plan["grid_size"] = sampler().Size().value_or(0);
  }
  plan["total_epochs"] = trials * spec_.algorithm.max_epochs;
  return plan;
}

std::unique_ptr<Scheduler> NewFifoScheduler(const StudySpec& spec,
                                            std::unique_ptr<Sampler> sampler) {
  return std::make_unique<FifoScheduler>(spec, std::move(sampler));
}

}  // namespace hpo
