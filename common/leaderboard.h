// How trials rank, in one place: the `leaderboard` view of the results
// database (common/store.cc) is the reference, and hpo-query and hpo-report
// rank trials they have read with this code, which orders them the same.
#ifndef HPO_COMMON_LEADERBOARD_H_
#define HPO_COMMON_LEADERBOARD_H_

#include <optional>
#include <vector>

#include "common/store.h"

namespace hpo {

struct RankedTrial {
  int rank = 0;  // 1 for the best; equal keys share a rank (SQL's RANK()).
  const TrialRow* trial = nullptr;
};

// The trials with a (non-NaN) value, best first: completed trials before the
// others, then by value in the objective's direction (`maximize`); among
// equals by trial number. The value is the objective at the trial's last
// epoch, or with `by_best` (a study with trainer.keep "best", KeepsBest())
// its best value, the one its kept weights scored. Points into `trials`.
std::vector<RankedTrial> RankTrials(const std::vector<TrialRow>& trials,
                                    bool maximize, bool by_best = false);

// The trial that ranks first, or nullptr when no trial has a value.
const TrialRow* BestTrial(const std::vector<TrialRow>& trials, bool maximize,
                          bool by_best = false);

// The value a trial ranks by (RankTrials), if any.
std::optional<double> RankedValue(const TrialRow& trial, bool by_best);

// Whether the study's stored file sets trainer.keep "best" (false when it
// is not JSON).
bool KeepsBest(const StudyRow& study);

}  // namespace hpo

#endif  // HPO_COMMON_LEADERBOARD_H_
