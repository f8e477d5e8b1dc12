// A trial's parameters from the network are checked against the study.
#include "common/trial_params.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"

namespace hpo {
namespace {

using nlohmann::json;

StudySpec Study() {
  json study = {
      {"name", "s"},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "synthetic"}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"dropout",
         {{"type", "uniform"}, {"low", 0}, {"high", 0.5}, {"grid", {0, 0.5}}}},
        {"batch_size",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}},
        {"kernel_size",
         {{"type", "int"}, {"low", 3}, {"high", 9}, {"step", 2}}},
        {"scheduler",
         {{"type", "choice"}, {"values", {"none", "onecycle", "cyclic"}}}},
        {"channels", {{"type", "choice"}, {"values", {{32, 64}, {64, 128}}}}},
        {"cyclic_max_lr_factor",
         {{"type", "uniform"},
          {"low", 2},
          {"high", 10},
          {"when", {{"scheduler", "cyclic"}}}}}}},
      {"algorithm", {{"type", "random"}, {"max_epochs", 3}}},
      {"budget", {{"max_trials", 5}}}};
  return ParseStudy(study, "study.json");
}

std::vector<std::string> Problems(const json& params) {
  try {
    CheckTrialParams(Study(), params, "trial 4");
  } catch (const ValidationError& e) {
    return e.problems();
  }
  return {};
}

TEST(TrialParamsTest, AcceptsValuesTheSearchSpaceCanTake) {
  EXPECT_EQ(Problems(json::object()), std::vector<std::string>{});
  EXPECT_EQ(Problems({{"lr", 1e-5},
                      {"dropout", 0.5},
                      {"batch_size", 256},
                      {"kernel_size", 7},
                      {"scheduler", "cyclic"},
                      {"channels", {64, 128}},
                      {"cyclic_max_lr_factor", 2.5}}),
            std::vector<std::string>{});
  // Values that made a round trip through text, and integral doubles.
  EXPECT_EQ(Problems({{"lr", 0.1}, {"batch_size", 16.0}}),
            std::vector<std::string>{});
}

TEST(TrialParamsTest, RefusesUnknownKeysAndValuesOutsideTheSpace) {
  std::vector<std::string> p = Problems({{"lr", 0.5},
                                         {"batch_size", 17.5},
                                         {"kernel_size", 4},
                                         {"scheduler", "rm -rf"},
                                         {"channels", {1, 2}},
                                         {"dropout", "0.1"},
                                         {"data_dir", "/etc"},
                                         {"cyclic_max_lr_factor", 3}});
  ASSERT_EQ(p.size(), 8u) << ::testing::PrintToString(p);
  // Problems come in key order.
  EXPECT_EQ(p[0], "trial 4: params.batch_size: 17.5 is not an integer");
  EXPECT_EQ(p[1],
            "trial 4: params.channels: [1,2] is not one of the parameter's "
            "choices");
  EXPECT_NE(p[2].find("when"), std::string::npos) << p[2];
  EXPECT_EQ(p[3],
            "trial 4: params.data_dir: not a parameter of study \"s\"'s "
            "search space");
  EXPECT_NE(p[4].find("params.dropout: \"0.1\" is not a number"),
            std::string::npos)
      << p[4];
  EXPECT_EQ(p[5], "trial 4: params.kernel_size: 4 is not on the step 2 from 3");
  EXPECT_EQ(p[6], "trial 4: params.lr: 0.5 is out of the range [1e-05, 0.1]");
  EXPECT_NE(p[7].find("params.scheduler"), std::string::npos) << p[7];
}

TEST(TrialParamsTest, RefusesNonObjectsAndNonFiniteNumbers) {
  EXPECT_EQ(Problems(json::array()).size(), 1u);
  EXPECT_EQ(Problems({{"lr", std::nan("")}}).size(), 1u);
  EXPECT_EQ(Problems({{"lr", nullptr}}).size(), 1u);
}

}  // namespace
}  // namespace hpo
