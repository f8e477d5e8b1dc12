// Factories for the individual scheduling algorithms (one file each).
// Users of search/ call NewScheduler() in scheduler.h instead.
#ifndef HPO_SEARCH_SCHEDULERS_H_
#define HPO_SEARCH_SCHEDULERS_H_

#include <memory>

#include "search/scheduler.h"

namespace hpo {

// random and grid: every trial trains to max_epochs in one job.
std::unique_ptr<Scheduler> NewFifoScheduler(const StudySpec& spec,
                                            std::unique_ptr<Sampler> sampler);
// successive_halving (one bracket) and hyperband (all brackets), synchronous.
std::unique_ptr<Scheduler> NewBracketScheduler(
    const StudySpec& spec, std::unique_ptr<Sampler> sampler);
// asha: asynchronous successive halving.
std::unique_ptr<Scheduler> NewAshaScheduler(const StudySpec& spec,
                                            std::unique_ptr<Sampler> sampler);
// median: median stopping rule.
std::unique_ptr<Scheduler> NewMedianScheduler(const StudySpec& spec,
                                              std::unique_ptr<Sampler> sampler);

// pbt: population-based training (asynchronous exploit and explore).
std::unique_ptr<Scheduler> NewPbtScheduler(const StudySpec& spec,
                                           std::unique_ptr<Sampler> sampler);

}  // namespace hpo

#endif  // HPO_SEARCH_SCHEDULERS_H_
