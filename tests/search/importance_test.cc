// Parameter importance (search/importance.h): known answers on functions
// whose variance decomposes by hand, and Optuna 3.1's own fANOVA evaluator
// (Debian's python3-optuna with sklearn) on the same trials.
#include "search/importance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "common/error.h"
#include "common/json_util.h"
#include "common/random.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo {
namespace {

using nlohmann::json;

ParamSpec Uniform(const std::string& name, double low, double high) {
  ParamSpec p;
  p.name = name;
  p.type = ParamType::kUniform;
  p.low = low;
  p.high = high;
  return p;
}

ParamSpec Choice(const std::string& name, std::vector<json> values) {
  ParamSpec p;
  p.name = name;
  p.type = ParamType::kChoice;
  p.values = std::move(values);
  return p;
}

struct Trials {
  std::vector<json> params;
  std::vector<double> values;
};

// `n` trials drawn uniformly over `space` (inactive parameters left out),
// scored by `f`.
Trials Draw(const SearchSpaceSpec& space, int n, uint64_t seed,
            const std::function<double(const json&)>& f) {
  Rng rng(seed);
  Trials t;
  for (int i = 0; i < n; ++i) {
    json params = json::object();
    for (const ParamSpec& p : space.params) {
      if (p.type == ParamType::kChoice) {
        params[p.name] = p.values[rng.Below(p.values.size())];
      } else if (p.type == ParamType::kInt) {
        params[p.name] = static_cast<int64_t>(p.low) +
                         static_cast<int64_t>(rng.Below(
                             static_cast<uint64_t>(p.high - p.low + 1)));
      } else {
        params[p.name] = p.low + (p.high - p.low) * rng.Uniform();
      }
    }
    t.params.push_back(params);
    t.values.push_back(f(params));
  }
  return t;
}

std::map<std::string, double> ByName(const ImportanceResult& r) {
  std::map<std::string, double> m;
  for (const ParamImportance& p : r.params) m[p.name] = p.importance;
  return m;
}

TEST(ImportanceTest, OneParameterExplainsEverything) {
  SearchSpaceSpec space;
  space.params = {Uniform("a", 0, 1), Uniform("b", 0, 1)};
  Trials t = Draw(space, 80, 1, [](const json& p) {
    return std::sin(6 * p["a"].get<double>());
  });
  ImportanceResult r = ParamImportances(space, t.params, t.values);
  ASSERT_EQ(r.params.size(), 2u);
  EXPECT_EQ(r.params[0].name, "a");
  EXPECT_GT(r.params[0].importance, 0.95);
  EXPECT_GT(r.params[0].fraction, 0.9);
  EXPECT_EQ(r.trials, 80);
  double sum = 0;
  for (const ParamImportance& p : r.params) sum += p.importance;
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(ImportanceTest, AdditiveEffectsShareTheVarianceAsTheirVariances) {
  // y = 2a + b on a uniform square: Var(2a) = 4/12, Var(b) = 1/12, so a
  // explains 0.8 of the variance and b 0.2.
  SearchSpaceSpec space;
  space.params = {Uniform("a", 0, 1), Uniform("b", 0, 1)};
  Trials t = Draw(space, 300, 2, [](const json& p) {
    return 2 * p["a"].get<double>() + p["b"].get<double>();
  });
  ImportanceResult r = ParamImportances(space, t.params, t.values);
  std::map<std::string, double> m = ByName(r);
  EXPECT_NEAR(m["a"], 0.8, 0.05);
  EXPECT_NEAR(m["b"], 0.2, 0.05);
  // Additive: no interaction to speak of.
  ASSERT_EQ(r.pairs.size(), 1u);
  EXPECT_LT(r.pairs[0].fraction, 0.05);
}

TEST(ImportanceTest, AnInteractionIsThePairsNotEitherParameters) {
  // y = (a - 1/2)(b - 1/2): each marginal is flat, all variance is the pair.
  SearchSpaceSpec space;
  space.params = {Uniform("a", 0, 1), Uniform("b", 0, 1), Uniform("c", 0, 1)};
  Trials t = Draw(space, 300, 3, [](const json& p) {
    return (p["a"].get<double>() - 0.5) * (p["b"].get<double>() - 0.5);
  });
  ImportanceResult r = ParamImportances(space, t.params, t.values);
  ASSERT_FALSE(r.pairs.empty());
  const PairImportance& top = r.pairs[0];
  EXPECT_TRUE((top.first == "a" && top.second == "b") ||
              (top.first == "b" && top.second == "a"))
      << top.first << " x " << top.second;
  EXPECT_GT(top.fraction, 0.5);
  for (const ParamImportance& p : r.params) EXPECT_LT(p.fraction, 0.2);
}

TEST(ImportanceTest, ChoicesLogScalesAndConditionalParameters) {
  // The scheduler matters (cyclic is better), its factor only when cyclic,
  // the learning rate on its log scale (the objective rises with log lr),
  // and the batch size not at all.
  SearchSpaceSpec space;
  ParamSpec lr;
  lr.name = "lr";
  lr.type = ParamType::kLogUniform;
  lr.low = 1e-5;
  lr.high = 1e-1;
  ParamSpec factor = Uniform("factor", 2, 10);
  factor.when = {Condition{"scheduler", {json("cyclic")}}};
  ParamSpec batch;
  batch.name = "batch";
  batch.type = ParamType::kInt;
  batch.low = 16;
  batch.high = 128;
  space.params = {batch, factor, lr,
                  Choice("scheduler", {"none", "cyclic", "onecycle"})};
  Rng rng(4);
  Trials t;
  for (int i = 0; i < 400; ++i) {
    json p;
    p["batch"] = 16 + static_cast<int64_t>(rng.Below(113));
    p["lr"] = std::exp(std::log(1e-5) + rng.Uniform() * std::log(1e4));
    p["scheduler"] = json::array({"none", "cyclic", "onecycle"})[rng.Below(3)];
    double y = 0.3 * std::log10(p["lr"].get<double>());
    if (p["scheduler"] == "cyclic") {
      p["factor"] = 2 + 8 * rng.Uniform();
      y += 0.5 + 0.05 * p["factor"].get<double>();
    }
    t.params.push_back(p);
    t.values.push_back(y);
  }
  ImportanceResult r = ParamImportances(space, t.params, t.values);
  std::map<std::string, double> m = ByName(r);
  ASSERT_EQ(m.size(), 4u);
  // Var(0.3 log10 lr) = 1.2^2 / 12 = 0.12 against about 0.14 for the
  // scheduler (cyclic adds 0.6..1.0 to a third of the trials), which the
  // factor shares: whether it is active is whether the scheduler is cyclic.
  EXPECT_GT(m["scheduler"], 0.2) << m["scheduler"];
  EXPECT_GT(m["scheduler"] + m["factor"], 0.4) << m["factor"];
  EXPECT_GT(m["lr"], 0.3) << m["lr"];
  EXPECT_GT(m["factor"], m["batch"]);
  EXPECT_LT(m["batch"], 0.03);
  // The same trials give the same answer; another seed a close one.
  ImportanceResult again = ParamImportances(space, t.params, t.values);
  EXPECT_EQ(ByName(again), m);
  ImportanceOptions other;
  other.seed = 9;
  std::map<std::string, double> m9 =
      ByName(ParamImportances(space, t.params, t.values, other));
  for (const auto& [name, v] : m) EXPECT_NEAR(m9[name], v, 0.05) << name;
}

TEST(ImportanceTest, TooFewTrialsOrNothingToExplainIsBadInput) {
  SearchSpaceSpec space;
  space.params = {Uniform("a", 0, 1)};
  try {
    ParamImportances(space, {json{{"a", 0.5}}}, {1.0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_NE(std::string(e.what()).find("at least 2 trials"),
              std::string::npos);
  }
  try {
    ParamImportances(space, {json{{"a", 0.5}}, json{{"a", 0.7}}}, {1.0, 1.0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the same objective"),
              std::string::npos);
  }
  // A parameter with one value is no axis.
  space.params.push_back(Choice("fixed", {"only"}));
  ImportanceResult r = ParamImportances(space,
                                        {json{{"a", 0.5}, {"fixed", "only"}},
                                         json{{"a", 0.7}, {"fixed", "only"}}},
                                        {1.0, 2.0});
  ASSERT_EQ(r.params.size(), 1u);
  EXPECT_EQ(r.params[0].name, "a");
}

TEST(ImportanceTest, EpochBudgetIsTheLargestEnoughTrialsReached) {
  const double nan = std::nan("");
  // Hyperband-like: 4 trials at epoch 1, 2 reach 3, 1 reaches 9.
  std::vector<std::vector<double>> curves = {
      {0.1},
      {0.2, 0.3, 0.4},
      {0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6},
      {nan},
      {0.2}};
  EXPECT_EQ(ImportanceEpoch(curves, 4), 1);
  EXPECT_EQ(ImportanceEpoch(curves, 2), 3);
  EXPECT_EQ(ImportanceEpoch(curves, 1), 9);
  EXPECT_EQ(ImportanceEpoch(curves, 10), 1);  // The most trials: 4 at 1.
  EXPECT_EQ(ImportanceEpoch({{nan}}, 1), 0);
}

// The same trials through Optuna's FanovaImportanceEvaluator: floats, an
// int and a categorical (one-hot in both), on a function with effects of
// several sizes.
TEST(ImportanceTest, AgreesWithOptunasFanovaEvaluator) {
  SearchSpaceSpec space;
  ParamSpec k;
  k.name = "k";
  k.type = ParamType::kInt;
  k.low = 1;
  k.high = 8;
  space.params = {Uniform("a", 0, 1), Uniform("b", 0, 10),
                  Choice("c", {"x", "y", "z"}), k};
  Trials t = Draw(space, 150, 5, [](const json& p) {
    const double a = p["a"].get<double>();
    return 3 * a * a + 0.15 * p["b"].get<double>() +
           (p["c"] == "z" ? 1.0 : 0.0) + 0.02 * p["k"].get<double>() +
           0.5 * a * (p["c"] == "y" ? 1.0 : 0.0);
  });
  testutil::ScratchDir dir("importance");
  json spec = {{"distributions",
                {{"a", {{"type", "float"}, {"low", 0}, {"high", 1}}},
                 {"b", {{"type", "float"}, {"low", 0}, {"high", 10}}},
                 {"c", {{"type", "categorical"}, {"choices", {"x", "y", "z"}}}},
                 {"k", {{"type", "int"}, {"low", 1}, {"high", 8}}}}},
               {"seeds", 4},
               {"trials", json::array()}};
  for (size_t i = 0; i < t.params.size(); ++i) {
    spec["trials"].push_back({{"params", t.params[i]}, {"value", t.values[i]}});
  }
  std::ofstream(dir.path() + "/trials.json") << spec.dump();
  const std::string command =
      "/usr/bin/python3 " +
      testutil::SourcePath("tests/search/optuna_importance.py") + " " +
      dir.path() + "/trials.json " + dir.path() + "/optuna.json";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const json optuna = json::parse(ReadTextFile(dir.path() + "/optuna.json"));

  // hpo's forest, averaged over as many seeds as the reference.
  std::map<std::string, double> ours;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    ImportanceOptions o;
    o.seed = seed;
    for (const auto& [name, v] :
         ByName(ParamImportances(space, t.params, t.values, o))) {
      ours[name] += v / 4;
    }
  }
  std::string shown;
  for (const auto& [name, v] : ours) {
    shown += name + " " + std::to_string(v) + " (Optuna " +
             std::to_string(optuna[name].get<double>()) + ")\n";
  }
  for (const auto& [name, v] : ours) {
    EXPECT_NEAR(v, optuna[name].get<double>(), 0.01) << shown;
  }
  std::cout << shown;
}

}  // namespace
}  // namespace hpo
