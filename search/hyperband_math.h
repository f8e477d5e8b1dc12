// The resource schedules of successive halving, Hyperband and ASHA, in exact
// integer arithmetic (Li et al. 2018, Algorithm 1; Li et al. 2020).
#ifndef HPO_SEARCH_HYPERBAND_MATH_H_
#define HPO_SEARCH_HYPERBAND_MATH_H_

#include <cstdint>
#include <vector>

namespace hpo {

struct RungPlan {
  int64_t trials;  // Trials that train in this rung.
  int epochs;      // Epochs each of them has completed at the rung's end.
};

struct BracketPlan {
  int s;  // Hyperband's bracket index (number of halvings).
  std::vector<RungPlan> rungs;
};

// s_max = floor(log_eta(max_epochs / min_epochs)).
int HyperbandSMax(int min_epochs, int max_epochs, int eta);

// Epochs at the end of rung i of a bracket with s halvings:
// max_epochs * eta^(i - s), rounded down, so the last rung is max_epochs.
int RungEpochs(int max_epochs, int eta, int s, int i);

// Bracket s of Hyperband: n = ceil((s_max + 1) * eta^s / (s + 1)) trials,
// rung i trains floor(n * eta^-i) of them to RungEpochs(..., s, i).
BracketPlan HyperbandBracket(int min_epochs, int max_epochs, int eta, int s);

// Every bracket, s = s_max down to 0.
std::vector<BracketPlan> HyperbandBrackets(int min_epochs, int max_epochs,
                                           int eta);

// Successive halving from n trials: s_max halvings, rung i trains
// floor(n * eta^-i) trials.
BracketPlan SuccessiveHalvingBracket(int64_t n, int min_epochs, int max_epochs,
                                     int eta);

// The shape `bracket` takes when only `started` (< its first rung's size)
// trials start, as when the trial budget runs out: rung i + 1 keeps
// min(planned size, floor(n_i / eta)) trials, but at least 1 while rung i has
// any, so the best of a cut bracket still trains to max_epochs.
BracketPlan CutBracket(const BracketPlan& bracket, int64_t started, int eta);

// Epochs a bracket trains when promoted trials continue from their
// checkpoints: sum over rungs of trials_i * (epochs_i - epochs_{i-1}).
int64_t BracketEpochs(const BracketPlan& bracket);

// Epochs the same bracket would train if every rung restarted its trials
// from scratch (the paper's accounting): sum of trials_i * epochs_i.
int64_t BracketEpochsWithoutCheckpoints(const BracketPlan& bracket);

}  // namespace hpo

#endif  // HPO_SEARCH_HYPERBAND_MATH_H_
