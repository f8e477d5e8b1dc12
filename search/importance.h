// Hyperparameter importance by functional ANOVA over a random forest
// (Hutter, Hoos and Leyton-Brown 2014, "An Efficient Approach for Assessing
// Hyperparameter Importance"), as Optuna's default evaluator computes it: a
// forest of regression trees from the trials' parameters to their objective;
// in each tree, the variance of the prediction's marginal over one parameter
// (every other parameter averaged out over its range), as a fraction of the
// tree's total variance; averaged over the trees.
//
// Encoding: a numeric parameter (uniform, loguniform, int) is one axis, its
// position in [0, 1] (SearchSpace::PositionOf: on the log scale for log
// parameters, so the axis is the measure it was sampled from); a choice is
// one axis per value, 0 or 1 (one-hot, as Optuna does); a parameter with a
// `when` also gets an axis that says whether it was active (an inactive
// numeric parameter sits mid-range, an inactive choice has every value 0).
// A parameter's importance is the marginal over all of its axes. A pair's
// interaction is the marginal over both parameters' axes less their two own.
#ifndef HPO_SEARCH_IMPORTANCE_H_
#define HPO_SEARCH_IMPORTANCE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/study_spec.h"

namespace hpo {

struct ImportanceOptions {
  int trees = 64;      // Optuna's n_trees.
  int max_depth = 64;  // Optuna's max_depth.
  uint64_t seed = 0;   // Bootstrap samples and the order features are tried.
  // Pairs among this many parameters of largest importance (0: none).
  int pair_candidates = 6;
};

struct ParamImportance {
  std::string name;
  // This parameter's share of the sum of every parameter's fraction (so the
  // importances add up to 1, as Optuna's do).
  double importance = 0;
  // The fraction of the prediction's variance that this parameter explains
  // alone (mean over the trees), and its standard deviation over the trees.
  double fraction = 0;
  double fraction_std = 0;
};

struct PairImportance {
  std::string first, second;
  double fraction = 0;  // Of the variance, beyond the two parameters alone.
};

struct ImportanceResult {
  std::vector<ParamImportance> params;  // Most important first.
  std::vector<PairImportance> pairs;    // Largest interaction first.
  int64_t trials = 0;                   // Trials the forest learned from.
};

// The importances of `space`'s parameters from trials whose searched values
// are params[i] (objects; a missing key is an inactive parameter) and whose
// objective is values[i]. Parameters with a single value are left out.
// Throws hpo::Error (bad input) with fewer than 2 trials or when every
// objective is the same (nothing to explain).
ImportanceResult ParamImportances(const SearchSpaceSpec& space,
                                  const std::vector<nlohmann::json>& params,
                                  const std::vector<double>& values,
                                  const ImportanceOptions& options = {});

// For a multi-fidelity study: the epoch budget at which to compare trials,
// given each trial's objective per epoch (curves[t][e - 1]; NaN where it has
// none): the largest epoch that at least `min_trials` trials reached with a
// finite objective, or, if none did, the epoch the most trials reached (the
// larger on a tie). 0 when no trial has a finite objective.
int ImportanceEpoch(const std::vector<std::vector<double>>& curves,
                    int min_trials);

}  // namespace hpo

#endif  // HPO_SEARCH_IMPORTANCE_H_
