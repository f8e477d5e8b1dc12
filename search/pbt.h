// Population-based training's two steps (Jaderberg et al. 2017), as pure
// functions so tests can check them alone; search/pbt_scheduler.cc applies
// them at each interval boundary (README "Population-based training").
#ifndef HPO_SEARCH_PBT_H_
#define HPO_SEARCH_PBT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/random.h"
#include "common/study_spec.h"
#include "search/search_space.h"

namespace hpo {

struct PbtQuantiles {
  std::vector<int64_t> top;     // Best first.
  std::vector<int64_t> bottom;  // Worst last.
};

// Splits `members` ((score in minimisation form, trial number), all at the
// same boundary) into the top and bottom `quantile`: ceil(n x quantile)
// members each, at most floor(n / 2), none for fewer than 2 members. Ties
// rank the lower trial number first.
PbtQuantiles RankPbt(std::vector<std::pair<double, int64_t>> members,
                     double quantile);

// Explore: `parent`'s parameters with each of `a.mutable_params` perturbed.
// With probability a.resample_probability a parameter is drawn afresh from
// its prior; otherwise a continuous one is multiplied by one of
// a.perturb_factors (chosen uniformly) and clipped to its range, an integer
// one likewise, rounded to its step, and a choice moves to a neighbouring
// option (either side at random; inwards at an end). Conditional parameters
// then follow: one whose `when` no longer holds is removed, one that became
// active is drawn from its prior.
nlohmann::json PbtExplore(const SearchSpace& space, const AlgorithmSpec& a,
                          const nlohmann::json& parent, Rng& rng);

}  // namespace hpo

#endif  // HPO_SEARCH_PBT_H_
