#include "common/study_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/json_util.h"

namespace hpo {
namespace {

using nlohmann::json;

// The example study of README.md ("Study files").
json DesignStudy() {
  return json::parse(R"({
    "name": "lr_sweep",
    "seed": 7,
    "objective": {"metric": "val_accuracy", "mode": "max"},
    "data": {"shards": "shards/fma_small"},
    "trainer": {"model": "cnn", "optimizer": "adam", "scheduler": "onecycle", "batch_size": 42,
                "augment": {"spec_time_mask": 0, "spec_freq_mask": 0}},
    "search_space": {
      "lr":         {"type": "loguniform", "low": 1e-5, "high": 1e-1},
      "batch_size": {"type": "int", "low": 16, "high": 128, "log": true},
      "scheduler":  {"type": "choice", "values": ["none", "onecycle", "plateau", "cyclic"]},
      "channels":   {"type": "choice", "values": [[32, 64, 128, 128], [64, 64, 128, 128]]},
      "cyclic_max_lr_factor": {"type": "uniform", "low": 2, "high": 10,
                               "when": {"scheduler": "cyclic"}}
    },
    "algorithm": {"type": "hyperband", "min_epochs": 1, "max_epochs": 27, "eta": 3},
    "budget": {"max_trials": 200},
    "execution": {"max_attempts": 3, "heartbeat_s": 2, "lease_timeout_s": 20}
  })");
}

// Every problem ParseStudy reports for `study` (empty if it is valid).
std::vector<std::string> Problems(const json& study) {
  try {
    ParseStudy(study, "study.json");
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    return e.problems();
  }
  return {};
}

// Expects exactly one problem, equal to "study.json: " + `expected`, or
// starting with it when `prefix_only`.
void ExpectProblem(const json& study, const std::string& expected,
                   bool prefix_only = true) {
  std::vector<std::string> problems = Problems(study);
  std::string all;
  for (const auto& p : problems) all += "\n  " + p;
  ASSERT_EQ(problems.size(), 1u) << "problems:" << all;
  const std::string want = "study.json: " + expected;
  if (prefix_only) {
    EXPECT_EQ(problems[0].substr(0, want.size()), want) << "got:" << all;
  } else {
    EXPECT_EQ(problems[0], want);
  }
}

TEST(StudySpecTest, DesignStudyParses) {
  StudySpec spec = ParseStudy(DesignStudy(), "study.json");
  EXPECT_EQ(spec.name, "lr_sweep");
  EXPECT_EQ(spec.seed, 7u);
  EXPECT_EQ(spec.objective.mode, ObjectiveMode::kMax);
  EXPECT_EQ(spec.data_shards, "shards/fma_small");
  EXPECT_EQ(spec.trainer["model"], "cnn");
  EXPECT_EQ(spec.algorithm.type, AlgorithmType::kHyperband);
  EXPECT_EQ(spec.algorithm.max_epochs, 27);
  EXPECT_EQ(spec.budget.max_trials, 200);
  ASSERT_EQ(spec.search_space.params.size(), 5u);
  const ParamSpec* lr = spec.search_space.Find("lr");
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->type, ParamType::kLogUniform);
  EXPECT_TRUE(lr->is_log());
  const ParamSpec* bs = spec.search_space.Find("batch_size");
  EXPECT_TRUE(bs->log);
  EXPECT_EQ(bs->low, 16);
  const ParamSpec* channels = spec.search_space.Find("channels");
  EXPECT_EQ(channels->values[1], json::parse("[64, 64, 128, 128]"));
  const ParamSpec* factor = spec.search_space.Find("cyclic_max_lr_factor");
  ASSERT_EQ(factor->when.size(), 1u);
  EXPECT_EQ(factor->when[0].param, "scheduler");
  EXPECT_EQ(factor->when[0].any_of, std::vector<json>{"cyclic"});
}

TEST(StudySpecTest, ExampleFromTheIssue) {
  json s = DesignStudy();
  s["search_space"]["lr"]["low"] = 0;
  ExpectProblem(s, "search_space.lr.low: must be > 0 for loguniform (got 0)");
}

TEST(StudySpecTest, UnknownKeyWithSuggestion) {
  json s = DesignStudy();
  s["algorithm"]["typ"] = "hyperband";
  ExpectProblem(s, "algorithm.typ: unknown key (did you mean \"type\"?)",
                false);
}

TEST(StudySpecTest, UnknownKeysEverywhere) {
  json s = DesignStudy();
  s["nmae"] = "x";
  s["objective"]["metirc"] = "x";
  s["search_space"]["lr"]["hgh"] = 1;
  s["budget"]["max_trails"] = 1;
  s["execution"]["heartbeat"] = 1;
  s["data"]["shard"] = "x";
  std::vector<std::string> p = Problems(s);
  ASSERT_EQ(p.size(), 6u);
  for (const char* expected :
       {"study.json: nmae: unknown key (did you mean \"name\"?)",
        "study.json: objective.metirc: unknown key (did you mean \"metric\"?)",
        "study.json: search_space.lr.hgh: unknown key (did you mean \"high\"?)",
        "study.json: budget.max_trails: unknown key (did you mean "
        "\"max_trials\"?)",
        "study.json: execution.heartbeat: unknown key (did you mean "
        "\"heartbeat_s\"?)",
        "study.json: data.shard: unknown key (did you mean \"shards\"?)"}) {
    EXPECT_NE(std::find(p.begin(), p.end(), expected), p.end()) << expected;
  }
}

TEST(StudySpecTest, UnknownKeyWithoutSuggestionListsAllowedKeys) {
  json s = DesignStudy();
  s["search_space"]["lr"]["zzzzzz"] = 1;
  ExpectProblem(s,
                "search_space.lr.zzzzzz: unknown key for a loguniform "
                "parameter (allowed: type, low, high, grid, when)",
                false);
}

TEST(StudySpecTest, WrongTypes) {
  json s = DesignStudy();
  s["seed"] = "7";
  ExpectProblem(s, "seed: must be an integer (got a string \"7\")", false);
  s = DesignStudy();
  s["search_space"]["lr"]["high"] = "0.1";
  ExpectProblem(s, "search_space.lr.high: must be a number (got a string");
  s = DesignStudy();
  s["search_space"] = json::array();
  ExpectProblem(s, "search_space: must be an object (got an array");
  s = DesignStudy();
  s["search_space"]["batch_size"]["log"] = "yes";
  ExpectProblem(s, "search_space.batch_size.log: must be true or false");
  s = DesignStudy();
  s["search_space"]["lr"] = 0.01;
  ExpectProblem(s, "search_space.lr: must be an object like");
  s = DesignStudy();
  s["name"] = 3;
  ExpectProblem(s, "name: must be a string (got an integer 3)");
}

TEST(StudySpecTest, StudyMustBeAnObject) {
  EXPECT_EQ(Problems(json::array()).size(), 1u);
}

TEST(StudySpecTest, EmptyAndInvertedRanges) {
  json s = DesignStudy();
  s["search_space"]["lr"]["low"] = 0.1;
  ExpectProblem(s, "search_space.lr: empty range: low == high (0.1)");
  s = DesignStudy();
  s["search_space"]["cyclic_max_lr_factor"]["low"] = 20;
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor: inverted range: low (20) > "
                "high (10); swap them",
                false);
  s = DesignStudy();
  s["search_space"]["batch_size"] = {{"type", "int"}, {"low", 9}, {"high", 8}};
  ExpectProblem(s,
                "search_space.batch_size: inverted range: low (9) > high (8)");
}

TEST(StudySpecTest, SearchedParametersMustBeTrainerSettings) {
  json s = DesignStudy();
  s["search_space"]["learning_rate"] = {
      {"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-2}};
  ExpectProblem(s,
                "search_space.learning_rate: the cnn trainer has no setting "
                "\"learning_rate\"");
  s = DesignStudy();
  s["trainer"]["optimizer"] = "adamm";
  ExpectProblem(s, "trainer.optimizer: \"adamm\" is not one of");
  s = DesignStudy();
  s["trainer"]["dropuot"] = 0.3;
  ExpectProblem(s, "trainer.dropuot: unknown key (did you mean \"dropout\"?)");
}

TEST(StudySpecTest, EverySearchedValueMustSuitTheTrainer) {
  json s = DesignStudy();
  s["search_space"]["model"] = {{"type", "choice"},
                                {"values", {"cnn", "cnnn"}}};
  ExpectProblem(s,
                "search_space.model: value \"cnnn\" is refused by the "
                "trainer: ");
  s = DesignStudy();
  s["search_space"]["dropout"] = {
      {"type", "uniform"}, {"low", 0.1}, {"high", 1.0}};
  ExpectProblem(s, "search_space.dropout: value 1.0 is refused by the trainer");
  s = DesignStudy();
  s["search_space"]["batch_size"] = {{"type", "int"}, {"low", 0}, {"high", 64}};
  ExpectProblem(s, "search_space.batch_size: value 0 is refused");
  // Settings that constrain each other are left to each trial.
  s = DesignStudy();
  s["trainer"]["optimizer"] = "sgd";
  s["search_space"]["nesterov"] = {{"type", "choice"},
                                   {"values", {true, false}}};
  s["search_space"]["momentum"] = {
      {"type", "uniform"}, {"low", 0.5}, {"high", 0.9}};
  EXPECT_EQ(Problems(s), std::vector<std::string>{});
}

TEST(StudySpecTest, IntRangeOfOneValueIsAllowed) {
  json s = DesignStudy();
  s["search_space"]["gru_layers"] = {{"type", "int"}, {"low", 3}, {"high", 3}};
  EXPECT_TRUE(Problems(s).empty());
}

TEST(StudySpecTest, LogRangesMustExcludeZero) {
  json s = DesignStudy();
  s["search_space"]["lr"]["low"] = -1e-3;
  ExpectProblem(s,
                "search_space.lr.low: must be > 0 for loguniform (got -0.001)");
  s = DesignStudy();
  s["search_space"]["batch_size"]["low"] = 0;
  ExpectProblem(
      s, "search_space.batch_size.low: must be >= 1 for a log int (got 0)");
}

TEST(StudySpecTest, IntBoundsMustBeIntegers) {
  json s = DesignStudy();
  s["search_space"]["batch_size"]["low"] = 16.5;
  ExpectProblem(s,
                "search_space.batch_size.low: must be an integer (got a "
                "number 16.5)",
                false);
  s = DesignStudy();
  s["search_space"]["batch_size"]["high"] = 128.0;  // Integral: fine.
  EXPECT_TRUE(Problems(s).empty());
}

TEST(StudySpecTest, IntStep) {
  json s = DesignStudy();
  s["search_space"]["gru_hidden"] = {
      {"type", "int"}, {"low", 200}, {"high", 800}, {"step", 200}};
  StudySpec spec = ParseStudy(s, "study.json");
  EXPECT_EQ(spec.search_space.Find("gru_hidden")->step, 200);
  s["search_space"]["gru_hidden"]["step"] = 0;
  ExpectProblem(s, "search_space.gru_hidden.step: must be >= 1 (got 0)");
  s["search_space"]["gru_hidden"]["step"] = 2;
  s["search_space"]["gru_hidden"]["log"] = true;
  ExpectProblem(
      s, "search_space.gru_hidden.step: cannot be combined with \"log\"");
}

TEST(StudySpecTest, ChoiceLists) {
  json s = DesignStudy();
  s["search_space"]["scheduler"]["values"] = json::array();
  ExpectProblem(s, "search_space.scheduler.values: empty list");
  s["search_space"]["scheduler"]["values"] = {"a", "b", "a"};
  s["search_space"].erase("cyclic_max_lr_factor");
  ExpectProblem(
      s, "search_space.scheduler.values[2]: repeats values[0] (\"a\")", false);
  s = DesignStudy();
  s["search_space"]["scheduler"].erase("values");
  std::vector<std::string> p = Problems(s);
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p[0],
            "study.json: search_space.scheduler.values: missing (this key "
            "is required)");
}

TEST(StudySpecTest, UnknownParameterType) {
  json s = DesignStudy();
  s["search_space"]["lr"]["type"] = "log_uniform";
  ExpectProblem(s,
                "search_space.lr.type: unknown parameter type "
                "\"log_uniform\" (did you mean \"loguniform\"?)",
                false);
}

TEST(StudySpecTest, WhenNamingUnknownParameter) {
  json s = DesignStudy();
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"schedule", "cyclic"}};
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor.when.schedule: names no "
                "parameter of search_space (did you mean \"scheduler\"?)",
                false);
}

TEST(StudySpecTest, WhenWithImpossibleValue) {
  json s = DesignStudy();
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {
      {"scheduler", "cyclical"}};
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor.when.scheduler: impossible "
                "value \"cyclical\": \"scheduler\" never takes it",
                false);
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"lr", 1.0}};
  ExpectProblem(
      s, "search_space.cyclic_max_lr_factor.when.lr: impossible value 1.0");
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"batch_size", 200}};
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor.when.batch_size: "
                "impossible value 200");
}

TEST(StudySpecTest, WhenAnyOfAndListValuedChoices) {
  json s = DesignStudy();
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {
      {"scheduler", {"cyclic", "onecycle"}}};
  StudySpec spec = ParseStudy(s, "study.json");
  EXPECT_EQ(spec.search_space.Find("cyclic_max_lr_factor")->when[0].any_of,
            (std::vector<json>{"cyclic", "onecycle"}));
  // A list that is itself one of the parent's values means that value.
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {
      {"channels", {64, 64, 128, 128}}};
  spec = ParseStudy(s, "study.json");
  EXPECT_EQ(spec.search_space.Find("cyclic_max_lr_factor")->when[0].any_of,
            (std::vector<json>{json::parse("[64, 64, 128, 128]")}));
}

TEST(StudySpecTest, WhenCycleAndSelfReference) {
  json s = DesignStudy();
  s["search_space"]["pool"] = {
      {"type", "choice"}, {"values", {1, 2}}, {"when", {{"kernel_size", 1}}}};
  s["search_space"]["kernel_size"] = {
      {"type", "choice"}, {"values", {1, 2}}, {"when", {{"pool", 1}}}};
  ExpectProblem(s, "search_space.");  // One cycle report.
  EXPECT_NE(Problems(s)[0].find("conditions form a cycle"), std::string::npos);
  s = DesignStudy();
  s["search_space"]["pool"] = {
      {"type", "choice"}, {"values", {1, 2}}, {"when", {{"pool", 1}}}};
  ExpectProblem(
      s, "search_space.pool.when.pool: a parameter cannot depend on itself");
}

TEST(StudySpecTest, AlgorithmRules) {
  json s = DesignStudy();
  s["algorithm"]["eta"] = 1;
  ExpectProblem(s, "algorithm.eta: must be >= 2 (got 1)", false);
  s = DesignStudy();
  s["algorithm"]["min_epochs"] = 30;
  ExpectProblem(s,
                "algorithm.min_epochs: min_epochs (30) > max_epochs (27); "
                "swap them",
                false);
  s = DesignStudy();
  s["algorithm"]["min_epochs"] = 10;
  ExpectProblem(s,
                "algorithm.max_epochs: must be at least min_epochs * eta (30)");
  s = DesignStudy();
  s["algorithm"]["type"] = "hyperbnd";
  ExpectProblem(s,
                "algorithm.type: unknown algorithm \"hyperbnd\" (did you "
                "mean \"hyperband\"?)",
                false);
  s = DesignStudy();
  s["algorithm"]["brackets"] = 2;
  ExpectProblem(s,
                "algorithm.brackets: not used by hyperband (it is a setting "
                "of asha); remove it",
                false);
  s = DesignStudy();
  s["algorithm"].erase("max_epochs");
  ExpectProblem(s, "algorithm.max_epochs: missing (this key is required)",
                false);
  s = DesignStudy();
  s["algorithm"] = {{"type", "random"}, {"max_epochs", 27}, {"min_epochs", 1}};
  ExpectProblem(s,
                "algorithm.min_epochs: not used by random (it is a setting "
                "of successive_halving); remove it",
                false);
}

TEST(StudySpecTest, SuccessiveHalvingNeedsEnoughTrials) {
  json s = DesignStudy();
  s["algorithm"] = {{"type", "successive_halving"},
                    {"min_epochs", 1},
                    {"max_epochs", 27},
                    {"eta", 3},
                    {"n", 20}};
  ExpectProblem(s,
                "algorithm.n: too small: with eta 3 and 4 rungs (1 to 27 "
                "epochs) at least 27 trials are needed");
  s["algorithm"]["n"] = 27;
  EXPECT_TRUE(Problems(s).empty());
  s["algorithm"].erase("n");
  EXPECT_EQ(ParseStudy(s, "study.json").algorithm.n, 27);
}

TEST(StudySpecTest, AshaBracketsAreBounded) {
  json s = DesignStudy();
  s["algorithm"] = {{"type", "asha"}, {"max_epochs", 27}, {"brackets", 5}};
  ExpectProblem(s, "algorithm.brackets: must be <= 4 (got 5)", false);
}

TEST(StudySpecTest, MissingObjectiveAndMode) {
  json s = DesignStudy();
  s.erase("objective");
  ExpectProblem(s, "objective: missing (this key is required)", false);
  s = DesignStudy();
  s["objective"]["mode"] = "maximize";
  ExpectProblem(s,
                "objective.mode: must be \"min\" or \"max\" (got "
                "\"maximize\")",
                false);
  s = DesignStudy();
  s["objective"]["metric"] = "val_acc";
  ExpectProblem(s, "objective.metric: unknown metric \"val_acc\"");
}

TEST(StudySpecTest, BudgetRequiredForUnboundedSearches) {
  json s = DesignStudy();
  s["algorithm"] = {{"type", "random"}, {"max_epochs", 10}};
  s.erase("budget");
  ExpectProblem(s,
                "budget.max_trials: missing: random search needs a trial "
                "budget");
  s["algorithm"] = {{"type", "asha"}, {"max_epochs", 27}};
  ExpectProblem(s, "budget.max_trials: missing: asha search");
  s["budget"] = {{"max_hours", 0}};
  std::vector<std::string> p = Problems(s);
  EXPECT_EQ(p.size(), 2u);  // max_hours <= 0 and max_trials missing.
}

TEST(StudySpecTest, ExecutionLeaseMustOutlastHeartbeats) {
  json s = DesignStudy();
  s["execution"]["lease_timeout_s"] = 3;
  ExpectProblem(s,
                "execution.lease_timeout_s: must be more than twice "
                "heartbeat_s (2 s)");
  s["execution"]["max_attempts"] = 0;
  EXPECT_EQ(Problems(s).size(), 2u);
}

TEST(StudySpecTest, SearchedParametersOverrideTrainerDefaults) {
  // README's example fixes batch_size 42 in trainer and searches it too.
  StudySpec spec = ParseStudy(DesignStudy(), "study.json");
  EXPECT_EQ(spec.trainer["batch_size"], 42);
  EXPECT_NE(spec.search_space.Find("batch_size"), nullptr);
}

TEST(StudySpecTest, GridNeedsGridListsForContinuousParameters) {
  json s = DesignStudy();
  s["algorithm"] = {{"type", "grid"}, {"max_epochs", 10}};
  std::vector<std::string> p = Problems(s);
  ASSERT_EQ(p.size(), 2u);  // lr and cyclic_max_lr_factor.
  EXPECT_NE(p[1].find("search_space.lr: grid search needs a \"grid\" list"),
            std::string::npos)
      << p[1];
  s["search_space"]["lr"]["grid"] = {1e-4, 1e-3, 1e-2};
  s["search_space"]["cyclic_max_lr_factor"]["grid"] = {2, 5};
  EXPECT_TRUE(Problems(s).empty());
  s["search_space"]["lr"]["grid"] = {1e-4, 1.0};
  ExpectProblem(s,
                "search_space.lr.grid[1]: outside the range [1e-05, 0.1] "
                "(got 1)",
                false);
}

TEST(StudySpecTest, ReportsEveryProblemAtOnce) {
  json s = DesignStudy();
  s["search_space"]["lr"]["low"] = 0;
  s["algorithm"]["eta"] = 1;
  s["objective"]["mode"] = "up";
  s["seed"] = -1;
  EXPECT_EQ(Problems(s).size(), 4u);
}

TEST(StudySpecTest, IntegersBeyondTwoToThe53AreRejected) {
  json s = DesignStudy();
  s["seed"] = json::parse("18446744073709551615");
  ExpectProblem(s, "seed: too large: integers must lie within +-2^53");
  s = DesignStudy();
  s["search_space"]["gru_hidden"] = {
      {"type", "int"},
      {"low", 0},
      {"high", json::parse("9223372036854775807")}};
  ExpectProblem(s, "search_space.gru_hidden.high: too large");
  s["search_space"]["gru_hidden"]["high"] = 1e16;
  ExpectProblem(s, "search_space.gru_hidden.high: too large");
}

TEST(StudySpecTest, RangesMustHaveAFiniteWidth) {
  json s = DesignStudy();
  s["search_space"]["w"] = {
      {"type", "uniform"}, {"low", -1e308}, {"high", 1e308}};
  ExpectProblem(s, "search_space.w: range too wide");
}

TEST(StudySpecTest, IntGridValuesMustBeOnTheStep) {
  json s = DesignStudy();
  s["search_space"]["gru_hidden"] = {{"type", "int"},
                                     {"low", 200},
                                     {"high", 800},
                                     {"step", 200},
                                     {"grid", {200, 500}}};
  ExpectProblem(s, "search_space.gru_hidden.grid[1]: not on the step");
}

TEST(StudySpecTest, UnknownAlgorithmDoesNotAlsoDemandABudget) {
  json s = DesignStudy();
  s.erase("budget");
  s["algorithm"]["type"] = "hyperbnd";
  EXPECT_EQ(Problems(s).size(), 1u);
}

TEST(StudySpecTest, EveryAlgorithmKeyIsCheckedDespiteOtherProblems) {
  json s = DesignStudy();
  s["algorithm"] = {
      {"type", "asha"}, {"max_epochs", 0}, {"brackets", "two"}, {"eta", 1}};
  std::vector<std::string> p = Problems(s);
  EXPECT_EQ(p.size(), 3u);  // max_epochs, eta and brackets.
}

TEST(StudySpecTest, LoadStudyFileReportsUnreadableAndInvalidFiles) {
  try {
    LoadStudyFile("/nonexistent/lr_sweep.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
  }
}

// A random search of the synthetic trainer over `space` (any names).
json SyntheticStudy(const json& space) {
  return {{"name", "big"},
          {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
          {"trainer", {{"model", "synthetic"}}},
          {"search_space", space},
          {"algorithm", {{"type", "random"}, {"max_epochs", 1}}},
          {"budget", {{"max_trials", 2}}}};
}

// p00000 exists only when p00001 is 1, which exists only when p00002 is 1...
json ChainOfConditions(int length) {
  json space = json::object();
  for (int i = 0; i < length; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "p%05d", i);
    space[name] = {{"type", "choice"}, {"values", {1, 2}}};
    if (i + 1 < length) {
      char parent[16];
      std::snprintf(parent, sizeof(parent), "p%05d", i + 1);
      space[name]["when"] = {{parent, 1}};
    }
  }
  return space;
}

// Found while writing fuzz/plan_fuzz: the cycle search recursed once per link
// of a chain of conditions, so a 1.5 MB study of 20000 chained parameters
// overflowed the stack.
TEST(StudySpecTest, AHugeSearchSpaceIsRejectedNotACrash) {
  ExpectProblem(SyntheticStudy(ChainOfConditions(20000)),
                "search_space: 20000 parameters, more than 1000; fix some of "
                "them in \"trainer\"",
                false);
  StudySpec spec =
      ParseStudy(SyntheticStudy(ChainOfConditions(1000)), "study.json");
  EXPECT_EQ(spec.search_space.params.size(), 1000u);
}

// Found while writing fuzz/plan_fuzz: the grid sampler holds every point, so a
// valid 8 KB grid study (10 lists of 400 numbers times 10000 integers) took 760
// MB and 15 s, and ten times longer lists 7.6 GB.
TEST(StudySpecTest, AGridTooLargeToHoldIsRejected) {
  json lists = json::array();
  for (int i = 0; i < 10; ++i) lists.push_back(json(std::vector<int>(400, i)));
  json s =
      SyntheticStudy({{"a", {{"type", "choice"}, {"values", lists}}},
                      {"b", {{"type", "int"}, {"low", 0}, {"high", 9999}}}});
  s["algorithm"] = {{"type", "grid"}, {"max_epochs", 1}};
  s.erase("budget");
  ExpectProblem(s,
                "search_space: the grid's 100000 points hold up to 40200000 "
                "JSON values, more than 1000000; search fewer parameters or "
                "shorter choices, or use random search",
                false);
  // Scalars count one each: 100000 points of 10 are fine, of 11 are not.
  s["search_space"]["a"] = {{"type", "int"}, {"low", 1}, {"high", 10}};
  for (int i = 0; i < 8; ++i) {
    s["search_space"]["c" + std::to_string(i)] = {{"type", "choice"},
                                                  {"values", {i}}};
  }
  EXPECT_EQ(Problems(s), std::vector<std::string>{});
  s["search_space"]["c8"] = {{"type", "choice"}, {"values", {8}}};
  ExpectProblem(s, "search_space: the grid's 100000 points hold up to 1100000");
}

// Duplicates among a list's values were found in quadratic time: a valid
// 1.5 MB study with a choice of 200000 numbers took minutes to check.
TEST(StudySpecTest, HugeListsOfValuesAreRejectedQuickly) {
  json many = json::array();
  for (int i = 0; i < 200000; ++i) many.push_back(i);
  ExpectProblem(
      SyntheticStudy({{"a", {{"type", "choice"}, {"values", many}}}}),
      "search_space.a.values: 200000 values, more than 1000; use an \"int\" "
      "or \"uniform\" range instead",
      false);
  ExpectProblem(
      SyntheticStudy(
          {{"a",
            {{"type", "int"}, {"low", 0}, {"high", 1000000}, {"grid", many}}}}),
      "search_space.a.grid: 200000 values, more than 1000; drop "
      "\"grid\" to search the range",
      false);
  json ones = json::array();
  for (int i = 0; i < 200000; ++i) ones.push_back(1);
  ExpectProblem(
      SyntheticStudy({{"a", {{"type", "choice"}, {"values", {1, 2}}}},
                      {"b",
                       {{"type", "uniform"},
                        {"low", 0},
                        {"high", 1},
                        {"when", {{"a", ones}}}}}}),
      "search_space.b.when.a: 200000 values, more than 1000; give fewer",
      false);
  // 1000 is still fine.
  many.erase(many.begin() + 1000, many.end());
  StudySpec spec = ParseStudy(
      SyntheticStudy({{"a", {{"type", "choice"}, {"values", many}}}}),
      "study.json");
  EXPECT_EQ(spec.search_space.params[0].values.size(), 1000u);
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

// ---- algorithm.sampler and enqueue ----

json SamplerStudy(const json& sampler,
                  const std::string& algorithm = "hyperband") {
  json study = DesignStudy();
  study["algorithm"]["type"] = algorithm;
  if (algorithm == "random" || algorithm == "median") {
    study["algorithm"].erase("min_epochs");
    study["algorithm"].erase("eta");
  }
  study["algorithm"]["sampler"] = sampler;
  return study;
}

TEST(SamplerSpecTest, DefaultsAreOptunasAndHpBandSters) {
  StudySpec tpe = ParseStudy(SamplerStudy({{"type", "tpe"}}), "s.json");
  EXPECT_EQ(tpe.algorithm.sampler.type, SamplerType::kTpe);
  EXPECT_EQ(tpe.algorithm.sampler.n_startup_trials, 10);
  EXPECT_EQ(tpe.algorithm.sampler.n_ei_candidates, 24);
  EXPECT_EQ(tpe.algorithm.sampler.gamma, 0.1);
  EXPECT_EQ(tpe.algorithm.sampler.gamma_max, 25);
  EXPECT_FALSE(tpe.algorithm.sampler.multivariate);
  EXPECT_TRUE(tpe.algorithm.sampler.constant_liar);
  EXPECT_EQ(tpe.algorithm.sampler.observations, TpeObservations::kFurthest);
  StudySpec bohb = ParseStudy(SamplerStudy({{"type", "bohb"}}), "s.json");
  EXPECT_EQ(bohb.algorithm.sampler.top_n_percent, 15);
  EXPECT_EQ(bohb.algorithm.sampler.num_samples, 64);
  EXPECT_EQ(bohb.algorithm.sampler.bandwidth_factor, 3);
  EXPECT_EQ(bohb.algorithm.sampler.min_bandwidth, 1e-3);
  EXPECT_NEAR(bohb.algorithm.sampler.random_fraction, 1.0 / 3, 1e-15);
  EXPECT_EQ(ParseStudy(DesignStudy(), "s.json").algorithm.sampler.type,
            SamplerType::kRandom);
}

TEST(SamplerSpecTest, MistakesNameTheirKey) {
  ExpectProblem(SamplerStudy({{"type", "tpz"}}),
                "algorithm.sampler.type: unknown sampler \"tpz\" (did you mean "
                "\"tpe\"?)");
  ExpectProblem(SamplerStudy({{"type", "bohb"}}, "median"),
                "algorithm.sampler.type: bohb models each budget");
  ExpectProblem(SamplerStudy({{"type", "tpe"}, {"gamma", 1.5}}),
                "algorithm.sampler.gamma: must be > 0 and <= 1 (got 1.5)");
  ExpectProblem(SamplerStudy({{"type", "tpe"}, {"top_n_percent", 20}}),
                "algorithm.sampler.top_n_percent: unknown key for the tpe "
                "sampler");
  ExpectProblem(SamplerStudy({{"type", "bohb"}, {"min_points_in_model", 3}}),
                "algorithm.sampler.min_points_in_model: must be at least the "
                "number of searched parameters + 1 (6)");
  ExpectProblem(SamplerStudy({{"type", "tpe"}, {"observations", "all"}}),
                "algorithm.sampler.observations: unknown rule \"all\"");
  json grid = DesignStudy();
  grid["algorithm"] = {
      {"type", "grid"}, {"max_epochs", 3}, {"sampler", {{"type", "tpe"}}}};
  std::vector<std::string> p = Problems(grid);
  ASSERT_FALSE(p.empty());
  EXPECT_NE(p[0].find("algorithm.sampler: grid search enumerates"),
            std::string::npos)
      << p[0];
}

TEST(EnqueueSpecTest, CheckedLikeSampledConfigurations) {
  json study = DesignStudy();
  study["enqueue"] = {
      {{"lr", 0.01}, {"scheduler", "onecycle"}, {"batch_size", 42.0}}};
  StudySpec spec = ParseStudy(study, "s.json");
  ASSERT_EQ(spec.enqueue.size(), 1u);
  EXPECT_TRUE(spec.enqueue[0]["batch_size"].is_number_integer());

  study["enqueue"] = {{{"lr", 0.5}}};
  ExpectProblem(study,
                "enqueue[0].lr: 0.5 is not a value of this loguniform "
                "parameter (1e-05 to 0.1)");
  study["enqueue"] = {{{"lr", 0.01}}, {{"learning_rate", 0.01}}};
  ExpectProblem(study, "enqueue[1].learning_rate: not a searched parameter");
  study["enqueue"] = {{{"scheduler", "none"}, {"cyclic_max_lr_factor", 3}}};
  ExpectProblem(study,
                "enqueue[0].cyclic_max_lr_factor: inactive in this "
                "entry: its \"when\" needs scheduler to be");
  study["enqueue"] = {{{"batch_size", 3}}};
  ExpectProblem(study,
                "enqueue[0].batch_size: 3 is not a value of this int "
                "parameter (16 to 128, an integer)");
  study["enqueue"] = {7};
  ExpectProblem(study, "enqueue[0]: must be an object");
}

// The command trainer (README, "Your own training script").
json CommandStudy() {
  json s = DesignStudy();
  s["trainer"] = {
      {"command",
       {"python3", "train.py", "--lr={lr}", "--bs", "{batch_size}"}}};
  s["objective"]["metric"] = "val_f1";
  return s;
}

TEST(StudySpecTest, ACommandTrainerTakesAnyParameterAndItsOwnMetric) {
  const StudySpec spec = ParseStudy(CommandStudy(), "study.json");
  EXPECT_EQ(spec.command,
            (std::vector<std::string>{"python3", "train.py", "--lr={lr}",
                                      "--bs", "{batch_size}"}));
  EXPECT_EQ(spec.objective.metric, "val_f1");
  EXPECT_EQ(spec.execution.stop_grace_s, 10);
  EXPECT_EQ(spec.execution.epoch_timeout_s, 0);
  EXPECT_EQ(TrainerSummary(CommandStudy().dump()),
            "python3 train.py --lr={lr} --bs {batch_size}");
  EXPECT_EQ(TrainerSummary(DesignStudy().dump()), "cnn");
}

TEST(StudySpecTest, ACommandTrainerIsCheckedBeforeAnyWorkerRunsIt) {
  json s = CommandStudy();
  s["trainer"]["command"][2] = "--lr={lrr}";
  ExpectProblem(s,
                "trainer.command[2]: {lrr} is not a parameter of the search "
                "space (did you mean {lr}?)");
  s = CommandStudy();
  s["trainer"]["command"].push_back("{cyclic_max_lr_factor}");
  ExpectProblem(s, "trainer.command[5]: {cyclic_max_lr_factor} is conditional");
  s = CommandStudy();
  s["trainer"]["command"][1] = "train{.py";
  ExpectProblem(s, "trainer.command[1]: \"train{.py\": a \"{\" is not closed");
  s = CommandStudy();
  s["trainer"]["model"] = "cnn";
  ExpectProblem(s, "trainer.model: a trainer has either \"model\"");
  s = CommandStudy();
  s["trainer"]["env"] = {{"HPO_TRIAL", "3"}};
  ExpectProblem(s, "trainer.env.HPO_TRIAL: is set by hpo-worker");
  s = CommandStudy();
  s["trainer"]["command"] = json::array();
  ExpectProblem(s, "trainer.command: must be a list of 1 to 1024 strings");
  s = CommandStudy();
  s["trainer"]["lr"] = 0.1;
  ExpectProblem(s, "trainer.lr: unknown key");
  s = CommandStudy();
  s["objective"]["metric"] = "val f1";
  ExpectProblem(s, "objective.metric: must be a metric name");
  s = CommandStudy();
  s["execution"]["stop_grace_s"] = -1;
  ExpectProblem(s, "execution.stop_grace_s: must be from 0 to 604800");
  // hpo's own trainers still name only metrics they report.
  s = DesignStudy();
  s["objective"]["metric"] = "val_f1";
  ExpectProblem(s, "objective.metric: unknown metric \"val_f1\"");
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

// A PBT study over the README's example (cnn, onecycle fixed in trainer).
json PbtStudy() {
  json s = DesignStudy();
  s["trainer"]["scheduler"] = "step";
  s["search_space"] = {
      {"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
      {"weight_decay", {{"type", "loguniform"}, {"low", 1e-6}, {"high", 1e-2}}},
      {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.5}}},
      {"channels",
       {{"type", "choice"},
        {"values", {{32, 64, 128, 128}, {64, 64, 128, 128}}}}}};
  s["algorithm"] = {{"type", "pbt"},
                    {"population", 16},
                    {"max_epochs", 60},
                    {"interval", 4},
                    {"quantile", 0.25},
                    {"resample_probability", 0.25},
                    {"perturb_factors", {0.8, 1.2}},
                    {"mutable", {"lr", "weight_decay", "dropout"}}};
  s.erase("budget");
  return s;
}

TEST(StudySpecTest, KeepBestIsAStudyWideTrainerChoice) {
  json s = DesignStudy();
  EXPECT_FALSE(ParseStudy(s, "study.json").keep_best);
  s["trainer"]["keep"] = "best";
  EXPECT_TRUE(ParseStudy(s, "study.json").keep_best);
  s["trainer"]["keep"] = "last";
  EXPECT_FALSE(ParseStudy(s, "study.json").keep_best);
  s["trainer"]["keep"] = "first";
  ExpectProblem(s, "trainer.keep: \"first\" is not");
  s["trainer"].erase("keep");
  s["search_space"]["keep"] = {{"type", "choice"},
                               {"values", {"last", "best"}}};
  ExpectProblem(s, "search_space.keep: trainer.keep is the study's choice");
  json pbt = PbtStudy();
  pbt["trainer"]["keep"] = "best";
  ExpectProblem(pbt, "trainer.keep: \"best\" is not for population-based");
}

TEST(StudySpecPbtTest, TheIssuesExampleParses) {
  StudySpec spec = ParseStudy(PbtStudy(), "pbt.json");
  EXPECT_EQ(spec.algorithm.type, AlgorithmType::kPbt);
  EXPECT_EQ(spec.algorithm.population, 16);
  EXPECT_EQ(spec.algorithm.interval, 4);
  EXPECT_EQ(spec.algorithm.mutable_params,
            (std::vector<std::string>{"lr", "weight_decay", "dropout"}));
  // Without "mutable": every searched parameter that can change.
  json s = PbtStudy();
  s["algorithm"].erase("mutable");
  EXPECT_EQ(ParseStudy(s, "pbt.json").algorithm.mutable_params,
            (std::vector<std::string>{"dropout", "lr", "weight_decay"}));
  EXPECT_EQ(ParseStudy(s, "pbt.json").algorithm.quantile, 0.25);
}

TEST(StudySpecPbtTest, WhatCannotMutateIsNamedWithItsPath) {
  json s = PbtStudy();
  s["algorithm"]["mutable"] = {"lr", "channels"};
  ExpectProblem(s,
                "algorithm.mutable[1]: \"channels\" cannot change during "
                "training (it sets the model's shape); leave it out");
  s["algorithm"]["mutable"] = {"lr", "lr_rate"};
  ExpectProblem(s, "algorithm.mutable[1]: \"lr_rate\" is not in search_space");
  s = PbtStudy();
  s["search_space"]["optimizer"] = {{"type", "choice"},
                                    {"values", {"adam", "sgd"}}};
  s["algorithm"]["mutable"] = {"optimizer"};
  ExpectProblem(s,
                "algorithm.mutable[0]: \"optimizer\" cannot change during "
                "training (the checkpoint holds that optimizer's state)");
  // batch_size may mutate, but not under a scheduler that counts batches.
  s = PbtStudy();
  s["search_space"]["batch_size"] = {
      {"type", "int"}, {"low", 16}, {"high", 64}};
  s["algorithm"]["mutable"] = {"lr", "batch_size"};
  EXPECT_TRUE(Problems(s).empty());
  s["trainer"]["scheduler"] = "onecycle";
  ExpectProblem(s,
                "algorithm.mutable: batch_size cannot mutate with the "
                "onecycle LR scheduler");
  // The synthetic trainer and a command may change anything.
  s = PbtStudy();
  s["trainer"] = {{"model", "synthetic"}};
  s["algorithm"]["mutable"] = {"channels"};
  EXPECT_TRUE(Problems(s).empty());
}

TEST(StudySpecPbtTest, SettingsAreChecked) {
  json s = PbtStudy();
  s["algorithm"].erase("population");
  ExpectProblem(s, "algorithm.population: missing");
  s = PbtStudy();
  s["algorithm"]["interval"] = 61;
  ExpectProblem(s, "algorithm.interval: must be <= 60 (got 61)");
  s["algorithm"]["interval"] = 60;
  ExpectProblem(s, "algorithm.interval: must be below max_epochs (60)");
  s = PbtStudy();
  s["algorithm"]["quantile"] = 0.6;
  ExpectProblem(s, "algorithm.quantile: must be above 0 and at most 0.5");
  s = PbtStudy();
  s["algorithm"]["perturb_factors"] = {0.8, -1};
  ExpectProblem(s, "algorithm.perturb_factors[1]: must be a number above 0");
  s = PbtStudy();
  s["budget"] = {{"max_trials", 20}};
  ExpectProblem(s,
                "budget.max_trials: pbt trains algorithm.population "
                "members");
  s = PbtStudy();
  s["algorithm"]["eta"] = 3;
  ExpectProblem(s, "algorithm.eta: not used by pbt");
  s = PbtStudy();
  s["search_space"] = {{"channels", s["search_space"]["channels"]}};
  s["algorithm"].erase("mutable");
  ExpectProblem(s, "algorithm.mutable: nothing to mutate");
}

// The issue's list parameter: seed 001's four kernel counts, each its own
// Int(32, 256, step 32).
json ListStudy() {
  json s = DesignStudy();
  s["search_space"]["channels"] = {
      {"type", "list"},
      {"length", 4},
      {"item", {{"type", "int"}, {"low", 32}, {"high", 256}, {"step", 32}}}};
  return s;
}

TEST(StudySpecListTest, ElementsAreParametersOfTheirOwn) {
  StudySpec spec = ParseStudy(ListStudy(), "study.json");
  EXPECT_EQ(spec.search_space.Find("channels"), nullptr);
  std::vector<const ParamSpec*> elements =
      spec.search_space.Elements("channels");
  ASSERT_EQ(elements.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const ParamSpec* e = elements[static_cast<size_t>(i)];
    EXPECT_EQ(e->name, "channels[" + std::to_string(i) + "]");
    EXPECT_EQ(e->list, "channels");
    EXPECT_EQ(e->index, i);
    EXPECT_EQ(e->setting(), "channels");
    EXPECT_EQ(e->type, ParamType::kInt);
    EXPECT_EQ(e->low, 32);
    EXPECT_EQ(e->high, 256);
    EXPECT_EQ(e->step, 32);
    EXPECT_EQ(spec.search_space.Find(e->name), e);
  }
  EXPECT_TRUE(spec.search_space.Elements("lr").empty());
}

TEST(StudySpecListTest, ProblemsNameTheElementsPath) {
  json s = ListStudy();
  s["search_space"]["channels"]["item"]["low"] = 0;
  s["search_space"]["channels"]["item"]["log"] = true;
  s["search_space"]["channels"]["item"].erase("step");
  ExpectProblem(s,
                "search_space.channels.item.low: must be >= 1 for a log int");
  s = ListStudy();
  s["search_space"]["channels"]["length"] = 0;
  ExpectProblem(s, "search_space.channels.length: must be >= 1");
  s = ListStudy();
  s["search_space"]["channels"]["length"] = 65;
  ExpectProblem(s, "search_space.channels.length:");
  s = ListStudy();
  s["search_space"]["channels"].erase("item");
  ExpectProblem(s, "search_space.channels.item: missing");
  s = ListStudy();
  s["search_space"]["channels"]["item"] = {{"type", "list"}};
  ExpectProblem(s,
                "search_space.channels.item.type: a list's item cannot be "
                "a list");
  s = ListStudy();
  s["search_space"]["channels"]["item"]["when"] = {{"scheduler", "cyclic"}};
  ExpectProblem(s, "search_space.channels.item.when: put \"when\" on the list");
  s = ListStudy();
  s["search_space"]["channels"]["lenght"] = 4;
  ExpectProblem(s,
                "search_space.channels.lenght: unknown key (did you mean "
                "\"length\"?)");
  s = ListStudy();
  s["search_space"]["channels[0]"] = s["search_space"]["lr"];
  ExpectProblem(s, "search_space.channels[0]: a parameter's name cannot hold");
  s = ListStudy();
  s["search_space"]["channels"]["type"] = "lst";
  ExpectProblem(s,
                "search_space.channels.type: unknown parameter type "
                "\"lst\" (did you mean \"list\"?)");
}

TEST(StudySpecListTest, ConditionsApplyToEveryElement) {
  json s = ListStudy();
  s["search_space"]["channels"]["when"] = {{"scheduler", "cyclic"}};
  StudySpec spec = ParseStudy(s, "study.json");
  for (const ParamSpec* e : spec.search_space.Elements("channels")) {
    ASSERT_EQ(e->when.size(), 1u) << e->name;
    EXPECT_EQ(e->when[0].param, "scheduler");
  }
  // A condition on one element works; on the whole list it is named.
  s = ListStudy();
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"channels[1]", 64}};
  spec = ParseStudy(s, "study.json");
  EXPECT_EQ(spec.search_space.Find("cyclic_max_lr_factor")->when[0].param,
            "channels[1]");
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"channels", 64}};
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor.when.channels: a condition "
                "names one value; name one of the list's elements, e.g. "
                "\"channels[0]\"");
  s["search_space"]["cyclic_max_lr_factor"]["when"] = {{"channels[1]", 65}};
  ExpectProblem(s,
                "search_space.cyclic_max_lr_factor.when.channels[1]: "
                "impossible value 65");
  s = ListStudy();
  s["search_space"]["channels"]["when"] = {{"channels[0]", 64}};
  ExpectProblem(s,
                "search_space.channels.when.channels[0]: a parameter "
                "cannot depend on itself");
}

TEST(StudySpecListTest, TheTrainerChecksEveryValueInEveryElement) {
  json s = ListStudy();
  s["search_space"]["kernel_size"] = {
      {"type", "list"},
      {"length", 4},
      {"item", {{"type", "int"}, {"low", 1}, {"high", 65}}}};
  ExpectProblem(s,
                "search_space.kernel_size: value [65,65,65,65] is refused "
                "by the trainer: a kernel size is at most 64");
  s = ListStudy();
  s["search_space"]["kernel"] = s["search_space"]["channels"];
  ExpectProblem(s,
                "search_space.kernel: the cnn trainer has no setting "
                "\"kernel\" (did you mean \"kernel_size\"?)");
}

TEST(StudySpecListTest, EnqueueTakesAWholeListOrElements) {
  json s = ListStudy();
  s["enqueue"] = {{{"channels", {64, 64, 128, 128}}},
                  {{"channels[2]", 256}, {"lr", 1e-3}}};
  StudySpec spec = ParseStudy(s, "study.json");
  ASSERT_EQ(spec.enqueue.size(), 2u);
  EXPECT_EQ(spec.enqueue[0], json({{"channels[0]", 64},
                                   {"channels[1]", 64},
                                   {"channels[2]", 128},
                                   {"channels[3]", 128}}));
  EXPECT_EQ(spec.enqueue[1], json({{"channels[2]", 256}, {"lr", 1e-3}}));
  s["enqueue"] = {{{"channels", {64, 64, 128}}}};
  ExpectProblem(s,
                "enqueue[0].channels: must be a list of 4 values, one per "
                "element (got [64,64,128])");
  s["enqueue"] = {{{"channels", {64, 64, 128, 100}}}};
  ExpectProblem(s,
                "enqueue[0].channels[3]: 100 is not a value of this int "
                "parameter");
}

TEST(StudySpecListTest, WithListsFoldsElementsIntoTheirList) {
  const json base = {{"model", "cnn"}, {"channels", {8, 8, 8, 8, 8}}};
  const json params = {{"channels[1]", 64}, {"channels[0]", 32}, {"lr", 0.1}};
  EXPECT_EQ(WithLists(base, params, false),
            json({{"model", "cnn"}, {"channels", {32, 64}}, {"lr", 0.1}}));
  json kept = WithLists(json::object(), params, true);
  EXPECT_EQ(kept["channels"], json({32, 64}));
  EXPECT_EQ(kept["channels[1]"], 64);
  EXPECT_EQ(WithLists(json::object(), {{"dense[1]", 5}}, false),
            json({{"dense", {nullptr, 5}}}));
  EXPECT_EQ(SplitElementName("a[12]"), (std::pair<std::string, int>{"a", 12}));
  EXPECT_FALSE(SplitElementName("a[01]"));
  EXPECT_FALSE(SplitElementName("[1]"));
  EXPECT_FALSE(SplitElementName("a[x]"));
  EXPECT_FALSE(SplitElementName("a"));
}

TEST(StudySpecListTest, PbtMutatesAListAsItsElements) {
  json s = ListStudy();
  s["trainer"] = {{"command", {"python3", "train.py", "{channels}"}}};
  s["objective"] = {{"metric", "val_accuracy"}, {"mode", "max"}};
  s["algorithm"] = {{"type", "pbt"},
                    {"population", 4},
                    {"max_epochs", 8},
                    {"interval", 2},
                    {"mutable", {"channels", "lr"}}};
  s["search_space"].erase("cyclic_max_lr_factor");
  s.erase("budget");
  StudySpec spec = ParseStudy(s, "study.json");
  EXPECT_EQ(spec.algorithm.mutable_params,
            (std::vector<std::string>{"channels[0]", "channels[1]",
                                      "channels[2]", "channels[3]", "lr"}));
  // hpo's own trainers cannot change a model's shape during training.
  s = ListStudy();
  s["algorithm"] = {{"type", "pbt"},
                    {"population", 4},
                    {"max_epochs", 8},
                    {"interval", 2},
                    {"mutable", {"channels", "lr"}}};
  s.erase("budget");
  ExpectProblem(s,
                "algorithm.mutable[0]: \"channels\" cannot change during "
                "training (it sets the model's shape)");
}

}  // namespace
}  // namespace hpo
