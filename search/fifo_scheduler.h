// random and grid search: trials train to max_epochs in one job each, in
// trial-number order. The median scheduler adds early stopping on top.
#ifndef HPO_SEARCH_FIFO_SCHEDULER_H_
#define HPO_SEARCH_FIFO_SCHEDULER_H_

#include "search/scheduler.h"

namespace hpo {

class FifoScheduler : public Scheduler {
 public:
  FifoScheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
      : Scheduler(spec, std::move(sampler)) {}

  nlohmann::ordered_json SchedulePlan() const override;

 protected:
  Decision DoNextJob() override;
  void OnJobEnd(TrialRecord& trial) override;
  void OnTrialFailed(TrialRecord& trial) override {}

  // Trials the study will run: the budget, or the grid's size if smaller.
  int64_t PlannedTrials() const;

 private:
  int64_t next_number_ = 0;
  bool exhausted_ = false;
};

}  // namespace hpo

#endif  // HPO_SEARCH_FIFO_SCHEDULER_H_
