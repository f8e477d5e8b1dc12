#include "search/observations.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace hpo {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A failed trial, or one running without a value: ranked as the worst.
Observation Worst(const TrialRecord& t, bool pending) {
  Observation o;
  o.trial = t.number;
  o.params = &t.params;
  o.tier = 1;
  o.score = kInf;
  o.pending = pending;
  return o;
}

}  // namespace

bool Observation::operator<(const Observation& o) const {
  return std::tie(tier, reach, score, trial) <
         std::tie(o.tier, o.reach, o.score, o.trial);
}

std::vector<Observation> FurthestObservations(const TrialHistory& history,
                                              bool constant_liar) {
  std::vector<Observation> out;
  for (const auto& [number, t] : history) {
    if (t.state == TrialState::kFailed) {
      out.push_back(Worst(t, false));
    } else if (t.epochs > 0) {
      Observation o;
      o.trial = number;
      o.params = &t.params;
      o.reach = -t.epochs;
      o.score = t.score[static_cast<size_t>(t.epochs - 1)];
      out.push_back(o);
    } else if (constant_liar && t.state == TrialState::kRunning) {
      out.push_back(Worst(t, true));
    }
  }
  return out;
}

std::vector<Observation> BudgetObservations(const TrialHistory& history,
                                            int budget, bool constant_liar) {
  std::vector<Observation> out;
  for (const auto& [number, t] : history) {
    if (t.epochs >= budget) {
      Observation o;
      o.trial = number;
      o.params = &t.params;
      o.score = t.score[static_cast<size_t>(budget - 1)];
      out.push_back(o);
    } else if (t.job.to_epoch >= budget) {
      if (t.state == TrialState::kFailed) {
        out.push_back(Worst(t, false));
      } else if (constant_liar && t.state == TrialState::kRunning) {
        out.push_back(Worst(t, true));
      }
    }
  }
  return out;
}

int LargestBudget(const TrialHistory& history, int min_count) {
  // reached[e]: trials with a value at e epochs, or failed on the way to e.
  std::vector<int> reached;
  for (const auto& [number, t] : history) {
    int top = t.epochs;
    if (t.state == TrialState::kFailed) top = std::max(top, t.job.to_epoch);
    if (top <= 0) continue;
    if (static_cast<int>(reached.size()) <= top) reached.resize(top + 1, 0);
    ++reached[static_cast<size_t>(top)];
  }
  int count = 0;
  for (int e = static_cast<int>(reached.size()) - 1; e >= 1; --e) {
    count += reached[static_cast<size_t>(e)];
    if (count >= std::max(min_count, 1)) return e;
  }
  return 0;
}

int CountObserved(const std::vector<Observation>& observations) {
  return static_cast<int>(
      std::count_if(observations.begin(), observations.end(),
                    [](const Observation& o) { return !o.pending; }));
}

void SplitObservations(const std::vector<Observation>& observations,
                       int n_below, std::vector<Observation>* below,
                       std::vector<Observation>* above) {
  std::vector<size_t> order(observations.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return observations[a] < observations[b];
  });
  const size_t n =
      std::min(order.size(), static_cast<size_t>(std::max(0, n_below)));
  std::vector<size_t> good(order.begin(), order.begin() + n);
  std::vector<size_t> bad(order.begin() + n, order.end());
  std::sort(good.begin(), good.end());
  std::sort(bad.begin(), bad.end());
  below->clear();
  above->clear();
  for (size_t i : good) below->push_back(observations[i]);
  for (size_t i : bad) above->push_back(observations[i]);
}

}  // namespace hpo
