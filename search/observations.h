// What a learning sampler learns from: the trials of a scheduler's history
// as ranked observations.
//
// Every observation carries a sort key, lower is better. A trial with a value
// ranks by it; a failed trial (it crashed, diverged or ran out of attempts)
// ranks as the worst value; with the constant liar, a trial still running
// without a value ranks as the worst value too, so that several proposals
// made while it trains do not all pile into the region it came from.
#ifndef HPO_SEARCH_OBSERVATIONS_H_
#define HPO_SEARCH_OBSERVATIONS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "search/trial_record.h"

namespace hpo {

struct Observation {
  int64_t trial = -1;
  const nlohmann::json* params = nullptr;  // Into the history.
  // Ranking, compared in this order; lower is better.
  int tier = 0;          // 0: has a value; 1: failed or running (the worst).
  double reach = 0;      // -epochs reached ("furthest"); 0 at one budget.
  double score = 0;      // The value in minimisation form (+inf if NaN).
  bool pending = false;  // Running without a value (a constant liar).

  bool operator<(const Observation& o) const;
};

// Optuna's rule for trials stopped early: every trial once, ranked by how
// many epochs it reached (more is better), then by its value at its last
// epoch. In trial-number order.
std::vector<Observation> FurthestObservations(const TrialHistory& history,
                                              bool constant_liar);

// BOHB's rule: the trials' values at exactly `budget` epochs. A trial counts
// if it reached `budget` epochs (its value at that epoch), or failed on the
// way to it, or (constant liar) is running towards it without having reached
// it. In trial-number order.
std::vector<Observation> BudgetObservations(const TrialHistory& history,
                                            int budget, bool constant_liar);

// The largest epoch count that at least `min_count` trials have a value for
// (failed ones on the way to it included), or 0 if there is none.
int LargestBudget(const TrialHistory& history, int min_count);

// Observations that are not pending.
int CountObserved(const std::vector<Observation>& observations);

// Splits `observations` into the best `n_below` and the rest, each kept in
// trial-number order (Optuna's _split_observation_pairs).
void SplitObservations(const std::vector<Observation>& observations,
                       int n_below, std::vector<Observation>* below,
                       std::vector<Observation>* above);

}  // namespace hpo

#endif  // HPO_SEARCH_OBSERVATIONS_H_
