#include "search/hyperband_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hpo {
namespace {

// (trials, epochs) per rung, per bracket, for comparing against the paper.
using Table = std::vector<std::vector<std::pair<int64_t, int>>>;

Table TableOf(const std::vector<BracketPlan>& brackets) {
  Table table;
  for (const BracketPlan& b : brackets) {
    std::vector<std::pair<int64_t, int>> rungs;
    for (const RungPlan& r : b.rungs) rungs.emplace_back(r.trials, r.epochs);
    table.push_back(rungs);
  }
  return table;
}

TEST(HyperbandMathTest, SMaxUsesExactIntegerLogs) {
  // Floating point gives log(243)/log(3) = 4.999... and log10(1000) < 3.
  EXPECT_LT(std::log(243.0) / std::log(3.0), 5.0);
  EXPECT_EQ(HyperbandSMax(1, 243, 3), 5);
  EXPECT_EQ(HyperbandSMax(1, 1000, 10), 3);
  EXPECT_EQ(HyperbandSMax(1, 81, 3), 4);
  EXPECT_EQ(HyperbandSMax(1, 80, 3), 3);
  EXPECT_EQ(HyperbandSMax(1, 27, 3), 3);
  EXPECT_EQ(HyperbandSMax(10, 1000, 10), 2);
  EXPECT_EQ(HyperbandSMax(1, 2, 3), 0);
  EXPECT_EQ(HyperbandSMax(3, 81, 3), 3);
}

TEST(HyperbandMathTest, PaperTable81Eta3) {
  // Li et al. 2018, Table 1 (R = 81, eta = 3).
  Table expected = {
      {{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}},
      {{34, 3}, {11, 9}, {3, 27}, {1, 81}},
      {{15, 9}, {5, 27}, {1, 81}},
      {{8, 27}, {2, 81}},
      {{5, 81}},
  };
  EXPECT_EQ(TableOf(HyperbandBrackets(1, 81, 3)), expected);
}

TEST(HyperbandMathTest, Table27Eta3) {
  Table expected = {
      {{27, 1}, {9, 3}, {3, 9}, {1, 27}},
      {{12, 3}, {4, 9}, {1, 27}},
      {{6, 9}, {2, 27}},
      {{4, 27}},
  };
  EXPECT_EQ(TableOf(HyperbandBrackets(1, 27, 3)), expected);
}

TEST(HyperbandMathTest, Table243Eta3) {
  Table expected = {
      {{243, 1}, {81, 3}, {27, 9}, {9, 27}, {3, 81}, {1, 243}},
      {{98, 3}, {32, 9}, {10, 27}, {3, 81}, {1, 243}},
      {{41, 9}, {13, 27}, {4, 81}, {1, 243}},
      {{18, 27}, {6, 81}, {2, 243}},
      {{9, 81}, {3, 243}},
      {{6, 243}},
  };
  EXPECT_EQ(TableOf(HyperbandBrackets(1, 243, 3)), expected);
}

TEST(HyperbandMathTest, Table1000Eta10) {
  Table expected = {
      {{1000, 1}, {100, 10}, {10, 100}, {1, 1000}},
      {{134, 10}, {13, 100}, {1, 1000}},
      {{20, 100}, {2, 1000}},
      {{4, 1000}},
  };
  EXPECT_EQ(TableOf(HyperbandBrackets(1, 1000, 10)), expected);
}

TEST(HyperbandMathTest, MaxNotAPowerOfEtaEndsEveryBracketAtMax) {
  // 100 epochs, eta 3: s_max = 4 (81 <= 100 < 243); rungs end at
  // floor(100 / 3^k).
  std::vector<BracketPlan> brackets = HyperbandBrackets(1, 100, 3);
  ASSERT_EQ(brackets.size(), 5u);
  std::vector<int> epochs;
  for (const RungPlan& r : brackets[0].rungs) epochs.push_back(r.epochs);
  EXPECT_EQ(epochs, (std::vector<int>{1, 3, 11, 33, 100}));
  for (const BracketPlan& b : brackets) EXPECT_EQ(b.rungs.back().epochs, 100);
}

TEST(HyperbandMathTest, EpochAccounting) {
  BracketPlan b = HyperbandBracket(1, 81, 3, 4);
  // With checkpoints: 81*1 + 27*2 + 9*6 + 3*18 + 1*54.
  EXPECT_EQ(BracketEpochs(b), 81 + 54 + 54 + 54 + 54);
  EXPECT_EQ(BracketEpochsWithoutCheckpoints(b), 81 * 5);
}

TEST(HyperbandMathTest, SuccessiveHalving) {
  BracketPlan b = SuccessiveHalvingBracket(30, 1, 27, 3);
  Table expected = {{{30, 1}, {10, 3}, {3, 9}, {1, 27}}};
  EXPECT_EQ(TableOf({b}), expected);
  EXPECT_EQ(b.s, 3);
}

}  // namespace
}  // namespace hpo
