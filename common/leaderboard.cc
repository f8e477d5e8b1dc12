#include "common/leaderboard.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace hpo {

namespace {

// The view's ORDER BY: state = 'complete' DESC, then the signed value.
std::pair<bool, double> Key(const TrialRow& t, bool maximize) {
  return {t.state != TrialState::kComplete, maximize ? -*t.value : *t.value};
}

}  // namespace

std::vector<RankedTrial> RankTrials(const std::vector<TrialRow>& trials,
                                    bool maximize) {
  std::vector<const TrialRow*> valued;
  for (const TrialRow& trial : trials) {
    if (trial.value && !std::isnan(*trial.value)) valued.push_back(&trial);
  }
  std::stable_sort(valued.begin(), valued.end(),
                   [maximize](const TrialRow* a, const TrialRow* b) {
                     const auto ka = Key(*a, maximize);
                     const auto kb = Key(*b, maximize);
                     if (ka != kb) return ka < kb;
                     return a->number < b->number;
                   });
  std::vector<RankedTrial> ranked;
  for (size_t i = 0; i < valued.size(); ++i) {
    int rank = static_cast<int>(i) + 1;
    if (i > 0 && Key(*valued[i], maximize) == Key(*valued[i - 1], maximize)) {
      rank = ranked.back().rank;
    }
    ranked.push_back({rank, valued[i]});
  }
  return ranked;
}

const TrialRow* BestTrial(const std::vector<TrialRow>& trials, bool maximize) {
  const std::vector<RankedTrial> ranked = RankTrials(trials, maximize);
  return ranked.empty() ? nullptr : ranked.front().trial;
}

}  // namespace hpo
