// How trials rank, in one place: the `leaderboard` view of the results
// database (common/store.cc) is the reference, and hpo-query and hpo-report
// rank trials they have read with this code, which orders them the same.
#ifndef HPO_COMMON_LEADERBOARD_H_
#define HPO_COMMON_LEADERBOARD_H_

#include <vector>

#include "common/store.h"

namespace hpo {

struct RankedTrial {
  int rank = 0;  // 1 for the best; equal keys share a rank (SQL's RANK()).
  const TrialRow* trial = nullptr;
};

// The trials with a (non-NaN) value, best first: completed trials before the
// others, then by value in the objective's direction (`maximize`); among
// equals by trial number. Points into `trials`.
std::vector<RankedTrial> RankTrials(const std::vector<TrialRow>& trials,
                                    bool maximize);

// The trial that ranks first, or nullptr when no trial has a value.
const TrialRow* BestTrial(const std::vector<TrialRow>& trials, bool maximize);

}  // namespace hpo

#endif  // HPO_COMMON_LEADERBOARD_H_
