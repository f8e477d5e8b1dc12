#include "common/leaderboard.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace hpo {

namespace {

// The view's ORDER BY: state = 'complete' DESC, then the signed value.
std::pair<bool, double> Key(const TrialRow& t, bool maximize, bool by_best) {
  const double v = *RankedValue(t, by_best);
  return {t.state != TrialState::kComplete, maximize ? -v : v};
}

}  // namespace

std::optional<double> RankedValue(const TrialRow& trial, bool by_best) {
  return by_best ? trial.best_value : trial.value;
}

bool KeepsBest(const StudyRow& study) {
  const nlohmann::json spec =
      nlohmann::json::parse(study.spec, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object() || !spec.contains("trainer")) return false;
  const nlohmann::json& trainer = spec["trainer"];
  return trainer.is_object() &&
         trainer.value("keep", nlohmann::json()) == nlohmann::json("best");
}

std::vector<RankedTrial> RankTrials(const std::vector<TrialRow>& trials,
                                    bool maximize, bool by_best) {
  std::vector<const TrialRow*> valued;
  for (const TrialRow& trial : trials) {
    const std::optional<double> v = RankedValue(trial, by_best);
    if (v && !std::isnan(*v)) valued.push_back(&trial);
  }
  std::stable_sort(valued.begin(), valued.end(),
                   [maximize, by_best](const TrialRow* a, const TrialRow* b) {
                     const auto ka = Key(*a, maximize, by_best);
                     const auto kb = Key(*b, maximize, by_best);
                     if (ka != kb) return ka < kb;
                     return a->number < b->number;
                   });
  std::vector<RankedTrial> ranked;
  for (size_t i = 0; i < valued.size(); ++i) {
    int rank = static_cast<int>(i) + 1;
    if (i > 0 && Key(*valued[i], maximize, by_best) ==
                     Key(*valued[i - 1], maximize, by_best)) {
      rank = ranked.back().rank;
    }
    ranked.push_back({rank, valued[i]});
  }
  return ranked;
}

const TrialRow* BestTrial(const std::vector<TrialRow>& trials, bool maximize,
                          bool by_best) {
  const std::vector<RankedTrial> ranked = RankTrials(trials, maximize, by_best);
  return ranked.empty() ? nullptr : ranked.front().trial;
}

}  // namespace hpo
