#include "search/hyperband_math.h"

#include <algorithm>

#include "common/int_math.h"

namespace hpo {

int HyperbandSMax(int min_epochs, int max_epochs, int eta) {
  return FloorLogRatio(min_epochs, max_epochs, eta);
}

int RungEpochs(int max_epochs, int eta, int s, int i) {
  return static_cast<int>(max_epochs / IntPow(eta, s - i));
}

BracketPlan HyperbandBracket(int min_epochs, int max_epochs, int eta, int s) {
  const int s_max = HyperbandSMax(min_epochs, max_epochs, eta);
  const int64_t n = CeilDiv((s_max + 1) * IntPow(eta, s), s + 1);
  BracketPlan bracket{s, {}};
  for (int i = 0; i <= s; ++i) {
    bracket.rungs.push_back(
        {n / IntPow(eta, i), RungEpochs(max_epochs, eta, s, i)});
  }
  return bracket;
}

std::vector<BracketPlan> HyperbandBrackets(int min_epochs, int max_epochs,
                                           int eta) {
  std::vector<BracketPlan> brackets;
  for (int s = HyperbandSMax(min_epochs, max_epochs, eta); s >= 0; --s) {
    brackets.push_back(HyperbandBracket(min_epochs, max_epochs, eta, s));
  }
  return brackets;
}

BracketPlan SuccessiveHalvingBracket(int64_t n, int min_epochs, int max_epochs,
                                     int eta) {
  const int s = HyperbandSMax(min_epochs, max_epochs, eta);
  BracketPlan bracket{s, {}};
  for (int i = 0; i <= s; ++i) {
    bracket.rungs.push_back(
        {n / IntPow(eta, i), RungEpochs(max_epochs, eta, s, i)});
  }
  return bracket;
}

BracketPlan CutBracket(const BracketPlan& bracket, int64_t started, int eta) {
  BracketPlan cut{bracket.s, {}};
  int64_t trials = started;
  for (const RungPlan& rung : bracket.rungs) {
    trials = std::min(trials, rung.trials);
    if (trials == 0) break;
    cut.rungs.push_back({trials, rung.epochs});
    trials = std::max<int64_t>(1, trials / eta);
  }
  return cut;
}

int64_t BracketEpochs(const BracketPlan& bracket) {
  int64_t total = 0;
  int previous = 0;
  for (const RungPlan& rung : bracket.rungs) {
    total += rung.trials * (rung.epochs - previous);
    previous = rung.epochs;
  }
  return total;
}

int64_t BracketEpochsWithoutCheckpoints(const BracketPlan& bracket) {
  int64_t total = 0;
  for (const RungPlan& rung : bracket.rungs) total += rung.trials * rung.epochs;
  return total;
}

}  // namespace hpo
