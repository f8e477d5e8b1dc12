// TPE and BOHB: their building blocks against Optuna's and statsmodels' own
// numbers (tests/data/sampler_reference.json, from
// make_sampler_reference.py), then how they learn from a history.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <set>

#include "common/random.h"
#include "common/study_spec.h"
#include "search/kde.h"
#include "search/observations.h"
#include "search/parzen_estimator.h"
#include "search/sampler.h"
#include "search/truncnorm.h"
#include "tests/util/test_data.h"

namespace hpo {
namespace {

using nlohmann::json;

const json& Reference() {
  static const json reference = [] {
    std::ifstream in(testutil::SourcePath("tests/data/sampler_reference.json"));
    EXPECT_TRUE(in.good()) << "tests/data/sampler_reference.json";
    return json::parse(in);
  }();
  return reference;
}

void ExpectClose(double actual, double expected, double tolerance,
                 const std::string& what) {
  EXPECT_NEAR(actual, expected, tolerance * std::max(1.0, std::fabs(expected)))
      << what;
}

TEST(TruncnormTest, MatchesOptunasHelpersFarIntoTheTails) {
  const json& t = Reference()["truncnorm"];
  for (const json& c : t["log_ndtr"]) {
    ExpectClose(LogNdtr(c["x"]), c["value"], 1e-9, "log_ndtr " + c.dump());
  }
  for (const json& c : t["log_gauss_mass"]) {
    ExpectClose(LogGaussMass(c["a"], c["b"]), c["value"], 1e-9,
                "log_gauss_mass " + c.dump());
  }
  for (const json& c : t["ndtri_exp"]) {
    ExpectClose(NdtriExp(c["y"]), c["value"], 1e-7, "ndtri_exp " + c.dump());
  }
  for (const json& c : t["logpdf"]) {
    ExpectClose(TruncatedNormalLogPdf(c["x"], c["low"], c["high"], c["loc"],
                                      c["scale"]),
                c["value"], 1e-9, "logpdf " + c.dump());
  }
}

TEST(TruncnormTest, DrawsStayInsideAndHaveTheRightMean) {
  // E[Z | a <= Z <= b] = (phi(a) - phi(b)) / (Phi(b) - Phi(a)).
  auto phi = [](double x) {
    return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  };
  for (auto [a, b] : {std::pair{-1.0, 2.0}, std::pair{30.0, 31.0},
                      std::pair{-45.0, -40.0}, std::pair{0.2, 0.3}}) {
    Rng rng(5);
    double sum = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const double z = SampleTruncatedNormal(rng, a, b);
      ASSERT_GE(z, a);
      ASSERT_LE(z, b);
      sum += z;
    }
    // phi(a)/mass in log space for the far tails.
    const double log_mass = LogGaussMass(a, b);
    const double mean = std::exp(std::log(phi(a)) - log_mass) -
                        std::exp(std::log(phi(b)) - log_mass);
    const double mean_far =
        a > 5 || b < -5
            ? std::exp(-0.5 * a * a - 0.5 * std::log(2 * M_PI) - log_mass) -
                  std::exp(-0.5 * b * b - 0.5 * std::log(2 * M_PI) - log_mass)
            : mean;
    EXPECT_NEAR(sum / n, mean_far, 0.02 * (b - a) + 1e-3) << a << " " << b;
  }
}

TEST(ParzenEstimatorTest, DefaultWeightsAreOptunas) {
  for (const auto& [n, weights] : Reference()["default_weights"].items()) {
    std::vector<double> w = DefaultWeights(std::stoi(n));
    ASSERT_EQ(w.size(), weights.size()) << n;
    for (size_t i = 0; i < w.size(); ++i) {
      ExpectClose(w[i], weights[i], 1e-12, "n=" + n);
    }
  }
}

// The study parameters of a reference case, parsed as hpo parses them.
SearchSpaceSpec CaseSpace(const json& params) {
  json study = {{"name", "ref"},
                {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
                {"search_space", params},
                {"algorithm", {{"type", "random"}, {"max_epochs", 1}}},
                {"budget", {{"max_trials", 1}}}};
  return ParseStudy(study, "ref.json").search_space;
}

// A reference value (a choice as its index) as a study records it.
json External(const ParamSpec& p, double v) {
  if (p.type == ParamType::kChoice) return p.values[static_cast<size_t>(v)];
  if (p.type == ParamType::kInt) return static_cast<int64_t>(std::llround(v));
  return v;
}

TEST(ParzenEstimatorTest, MatchesOptunasEstimators) {
  int index = 0;
  for (const json& c : Reference()["parzen"]) {
    SCOPED_TRACE("parzen case " + std::to_string(index++));
    SearchSpaceSpec space = CaseSpace(c["params"]);
    std::vector<ParzenDim> dims;
    for (const json& name : c["names"]) {
      dims.emplace_back(*space.Find(name.get<std::string>()));
    }
    auto internal = [&dims](const json& point) {
      std::vector<double> x;
      for (size_t j = 0; j < dims.size(); ++j) {
        x.push_back(dims[j].ToInternal(External(*dims[j].param, point[j])));
      }
      return x;
    };
    std::vector<std::vector<double>> observations;
    for (const json& o : c["observations"]) observations.push_back(internal(o));
    ParzenOptions options;
    options.multivariate = c["options"]["multivariate"];
    options.magic_clip = c["options"]["magic_clip"];
    options.endpoints = c["options"]["endpoints"];
    options.prior_weight = c["options"]["prior_weight"];
    ParzenEstimator pe(dims, observations, options);
    ASSERT_EQ(pe.weights().size(), c["weights"].size());
    for (size_t k = 0; k < pe.weights().size(); ++k) {
      ExpectClose(pe.weights()[k], c["weights"][k], 1e-12, "weight");
    }
    for (size_t j = 0; j < dims.size(); ++j) {
      const std::string name = c["names"][j];
      if (!c["mus"].contains(name)) continue;
      for (size_t k = 0; k < pe.mus(j).size(); ++k) {
        ExpectClose(pe.mus(j)[k], c["mus"][name][k], 1e-12, name + " mu");
        ExpectClose(pe.sigmas(j)[k], c["sigmas"][name][k], 1e-12,
                    name + " sigma " + std::to_string(k));
      }
    }
    for (size_t p = 0; p < c["points"].size(); ++p) {
      ExpectClose(pe.LogPdf(internal(c["points"][p])), c["log_pdf"][p], 1e-9,
                  "log_pdf at " + c["points"][p].dump());
    }
  }
}

TEST(ParzenEstimatorTest, DrawsAreValuesTheParametersTake) {
  const json& c = Reference()["parzen"][7];  // x, lr, units, opt.
  SearchSpaceSpec space = CaseSpace(c["params"]);
  std::vector<ParzenDim> dims;
  for (const json& name : c["names"]) {
    dims.emplace_back(*space.Find(name.get<std::string>()));
  }
  ParzenEstimator pe(dims, {}, ParzenOptions{});
  Rng rng(1);
  for (const auto& x : pe.Sample(rng, 500)) {
    for (size_t j = 0; j < dims.size(); ++j) {
      const json v = dims[j].ToValue(x[j]);
      const ParamSpec& p = *dims[j].param;
      if (p.type == ParamType::kChoice) continue;
      EXPECT_GE(v.get<double>(), p.low);
      EXPECT_LE(v.get<double>(), p.high);
      if (p.type == ParamType::kInt) {
        EXPECT_EQ((v.get<int64_t>() - 16) % 16, 0) << v;
      }
      EXPECT_EQ(dims[j].ToInternal(v), x[j]);  // Snapped already.
    }
  }
}

TEST(ProductKdeTest, MatchesStatsmodelsKdeMultivariate) {
  const json& c = Reference()["kde"];
  std::vector<std::vector<double>> data = c["data"];
  ProductKde kde(data, c["levels"].get<std::vector<int>>());
  for (size_t j = 0; j < kde.bandwidth().size(); ++j) {
    ExpectClose(kde.bandwidth()[j], c["bandwidth"][j], 1e-12, "bandwidth");
  }
  for (size_t p = 0; p < c["points"].size(); ++p) {
    ExpectClose(kde.Pdf(c["points"][p]), c["pdf"][p], 1e-12, "pdf");
  }
  kde.set_bandwidth(c["set_bandwidth"]);
  for (size_t p = 0; p < c["points"].size(); ++p) {
    ExpectClose(kde.Pdf(c["points"][p]), c["pdf_set_bandwidth"][p], 1e-12,
                "pdf with set bandwidths");
  }
}

// ---- Observations ----

TrialRecord Record(int64_t number, TrialState state, std::vector<double> score,
                   int to_epoch) {
  TrialRecord t;
  t.number = number;
  t.params = {{"x", 0.1 * static_cast<double>(number)}};
  t.state = state;
  t.epochs = static_cast<int>(score.size());
  t.score = std::move(score);
  t.job.to_epoch = to_epoch;
  return t;
}

TEST(ObservationsTest, FurthestRanksByEpochsThenValueWithFailedAndRunningLast) {
  TrialHistory h;
  h[0] = Record(0, TrialState::kComplete, {0.5, 0.4, 0.3}, 3);
  h[1] = Record(1, TrialState::kPruned, {0.1}, 1);
  h[2] = Record(2, TrialState::kPaused, {0.2}, 1);
  h[3] = Record(3, TrialState::kFailed, {0.0}, 3);
  h[4] = Record(4, TrialState::kRunning, {}, 1);
  h[5] = Record(5, TrialState::kRunning, {0.9, 0.8}, 3);  // Mid-job.
  std::vector<Observation> with_liar = FurthestObservations(h, true);
  ASSERT_EQ(with_liar.size(), 6u);
  EXPECT_EQ(CountObserved(with_liar), 5);
  std::vector<Observation> below, above;
  SplitObservations(with_liar, 3, &below, &above);
  // Best: 0 (3 epochs), then 5 (2 epochs), then 1 (1 epoch, 0.1).
  std::vector<int64_t> good, bad;
  for (const auto& o : below) good.push_back(o.trial);
  for (const auto& o : above) bad.push_back(o.trial);
  EXPECT_EQ(good, (std::vector<int64_t>{0, 1, 5}));  // Trial order.
  EXPECT_EQ(bad, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(FurthestObservations(h, false).size(), 5u);  // No liar.
}

TEST(ObservationsTest, BudgetCountsValuesAtItFailuresAndRunnersTowardsIt) {
  TrialHistory h;
  h[0] = Record(0, TrialState::kComplete, {0.5, 0.4, 0.3}, 3);
  h[1] = Record(1, TrialState::kPruned, {0.1}, 1);
  h[2] = Record(2, TrialState::kFailed, {0.2}, 3);   // Failed on the way to 3.
  h[3] = Record(3, TrialState::kRunning, {0.3}, 3);  // Running towards 3.
  h[4] = Record(4, TrialState::kPaused, {0.6, 0.7, 0.1}, 3);
  EXPECT_EQ(LargestBudget(h, 3), 3);  // 0, 2 (failed) and 4.
  EXPECT_EQ(LargestBudget(h, 4), 1);
  EXPECT_EQ(LargestBudget(h, 6), 0);
  std::vector<Observation> at3 = BudgetObservations(h, 3, true);
  ASSERT_EQ(at3.size(), 4u);
  std::vector<Observation> below, above;
  SplitObservations(at3, 1, &below, &above);
  EXPECT_EQ(below[0].trial, 4);  // 0.1 at epoch 3.
  EXPECT_EQ(at3[1].trial, 2);
  EXPECT_TRUE(std::isinf(at3[1].score));
  EXPECT_TRUE(at3[2].pending);
  EXPECT_EQ(BudgetObservations(h, 1, true).size(), 5u);
}

// ---- Learning from a history ----

json Study(const json& sampler, const std::string& algorithm = "random") {
  json a = {{"type", algorithm}, {"max_epochs", 9}, {"sampler", sampler}};
  if (algorithm != "random" && algorithm != "median") {
    a["min_epochs"] = 1;
    a["eta"] = 3;
  }
  return {
      {"name", "learn"},
      {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
      {"seed", 4},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"units", {{"type", "int"}, {"low", 16}, {"high", 256}, {"step", 16}}},
        {"opt", {{"type", "choice"}, {"values", {"adam", "sgd", "rmsprop"}}}},
        {"momentum",
         {{"type", "uniform"},
          {"low", 0.5},
          {"high", 0.99},
          {"when", {{"opt", "sgd"}}}}}}},
      {"algorithm", a},
      {"budget", {{"max_trials", 100}}}};
}

// Lower is better; best at lr = 1e-3, units = 128, opt = sgd.
double Loss(const json& c) {
  const double l = std::log10(c["lr"].get<double>()) + 3;
  const double u = (c["units"].get<double>() - 128) / 120;
  const double o = c["opt"] == "sgd" ? 0 : 0.5;
  return l * l + u * u + o;
}

// Proposes `n` trials one after another, each finishing one epoch with its
// Loss() before the next is proposed.
TrialHistory RunSequentially(const Sampler& sampler, int n,
                             TrialHistory history = {}) {
  for (int i = 0; i < n; ++i) {
    const int64_t number = static_cast<int64_t>(history.size());
    TrialRecord t;
    t.number = number;
    t.params = *sampler.Sample(number, history);
    t.state = TrialState::kComplete;
    t.epochs = 1;
    t.score = {Loss(t.params)};
    t.job.to_epoch = 1;
    history[number] = std::move(t);
  }
  return history;
}

double MedianLoss(const TrialHistory& h, int64_t from) {
  std::vector<double> v;
  for (const auto& [n, t] : h) {
    if (n >= from) v.push_back(t.score[0]);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct LearnedCase {
  const char* name;
  const char* sampler;  // algorithm.sampler as JSON.
  const char* algorithm;
};

void PrintTo(const LearnedCase& c, std::ostream* os) { *os << c.name; }

class LearnedSamplerTest : public ::testing::TestWithParam<LearnedCase> {
 protected:
  StudySpec Spec() const {
    return ParseStudy(
        Study(json::parse(GetParam().sampler), GetParam().algorithm),
        "learn.json");
  }
};

TEST_P(LearnedSamplerTest, ProposesBetterConfigurationsThanRandomSearch) {
  const StudySpec spec = Spec();
  auto learned = NewSampler(spec);
  auto random = NewRandomSampler(SearchSpace(spec.search_space), spec.seed);
  TrialHistory a = RunSequentially(*learned, 60);
  TrialHistory b = RunSequentially(*random, 60);
  // The last 30 proposals: the learned ones are much better.
  EXPECT_LT(MedianLoss(a, 30), 0.5 * MedianLoss(b, 30))
      << MedianLoss(a, 30) << " vs random " << MedianLoss(b, 30);
}

TEST_P(LearnedSamplerTest, APureFunctionOfSeedNumberAndHistory) {
  const StudySpec spec = Spec();
  TrialHistory h = RunSequentially(*NewSampler(spec), 30);
  auto a = NewSampler(spec);
  auto b = NewSampler(spec);
  std::vector<json> forward;
  for (int64_t i = 30; i < 40; ++i) forward.push_back(*a->Sample(i, h));
  for (int64_t i = 39; i >= 30; --i) {
    EXPECT_EQ(*b->Sample(i, h), forward[static_cast<size_t>(i - 30)]) << i;
  }
  StudySpec other = spec;
  other.seed = spec.seed + 1;
  int same = 0;
  for (int64_t i = 30; i < 40; ++i) {
    same += *NewSampler(other)->Sample(i, h) ==
            forward[static_cast<size_t>(i - 30)];
  }
  EXPECT_LT(same, 3);
}

TEST_P(LearnedSamplerTest, ValuesInBoundsAndConditionsHonoured) {
  const StudySpec spec = Spec();
  TrialHistory h = RunSequentially(*NewSampler(spec), 80);
  for (const auto& [n, t] : h) {
    const json& c = t.params;
    EXPECT_EQ(c.contains("momentum"), c["opt"] == "sgd") << c;
    const double lr = c["lr"];
    EXPECT_GE(lr, 1e-5);
    EXPECT_LE(lr, 1e-1);
    ASSERT_TRUE(c["units"].is_number_integer()) << c;
    EXPECT_EQ(c["units"].get<int64_t>() % 16, 0) << c;
    EXPECT_GE(c["units"].get<int64_t>(), 16);
    EXPECT_LE(c["units"].get<int64_t>(), 256);
    if (c.contains("momentum")) {
      EXPECT_GE(c["momentum"].get<double>(), 0.5);
      EXPECT_LE(c["momentum"].get<double>(), 0.99);
    }
  }
}

// A list parameter's elements are dimensions of their own: here each of
// three widths has its own best value (32, 128, 224), so a sampler that
// tied them together, or learnt the list as one value, could not find the
// optimum of all three.
TEST_P(LearnedSamplerTest, LearnsEachElementOfAListOnItsOwn) {
  json study = Study(json::parse(GetParam().sampler), GetParam().algorithm);
  study["search_space"] = {
      {"widths",
       {{"type", "list"},
        {"length", 3},
        {"item",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"step", 16}}}}}};
  const StudySpec spec = ParseStudy(study, "learn.json");
  auto loss = [](const json& c) {
    double total = 0;
    const double best[] = {32, 128, 224};
    for (int i = 0; i < 3; ++i) {
      const double w =
          c["widths[" + std::to_string(i) + "]"].get<double>() - best[i];
      total += w * w / (120 * 120);
    }
    return total;
  };
  auto run = [&](const Sampler& sampler) -> double {
    TrialHistory h;
    for (int64_t n = 0; n < 60; ++n) {
      TrialRecord t;
      t.number = n;
      t.params = *sampler.Sample(n, h);
      EXPECT_EQ(t.params.size(), 3u) << t.params;
      t.state = TrialState::kComplete;
      t.epochs = 1;
      t.score = {loss(t.params)};
      t.job.to_epoch = 1;
      h[n] = std::move(t);
    }
    std::vector<double> late;
    for (const auto& [n, t] : h) {
      if (n >= 30) late.push_back(t.score[0]);
    }
    std::sort(late.begin(), late.end());
    return late[late.size() / 2];
  };
  auto learned = NewSampler(spec);
  auto random = NewRandomSampler(SearchSpace(spec.search_space), spec.seed);
  const double a = run(*learned);
  const double b = run(*random);
  EXPECT_LT(a, 0.5 * b) << a << " vs random " << b;
}

// Eight workers ask at once: each new trial is running without a value when
// the next is proposed. With the constant liar the proposals spread out;
// without it they pile into the same few spots.
TEST_P(LearnedSamplerTest, SimultaneousProposalsSpreadOut) {
  auto spread = [this](bool liar) {
    StudySpec spec = Spec();
    spec.algorithm.sampler.constant_liar = liar;
    spec.algorithm.sampler.random_fraction = 0;  // BOHB: the model only.
    auto sampler = NewSampler(spec);
    TrialHistory h = RunSequentially(*sampler, 40);
    std::vector<std::vector<double>> positions;
    for (int i = 0; i < 8; ++i) {
      const int64_t number = static_cast<int64_t>(h.size());
      TrialRecord t;
      t.number = number;
      t.params = *sampler->Sample(number, h);
      t.state = TrialState::kRunning;
      t.job.to_epoch = 1;
      std::vector<double> u;
      for (const ParamSpec& p : spec.search_space.params) {
        auto it = t.params.find(p.name);
        u.push_back(it == t.params.end() ? -1 : SearchSpace::UnitOf(p, *it));
      }
      positions.push_back(u);
      h[number] = t;
    }
    // Mean distance to the nearest other proposal in the unit cube.
    double total = 0;
    for (size_t i = 0; i < positions.size(); ++i) {
      double nearest = 1e9;
      for (size_t j = 0; j < positions.size(); ++j) {
        if (i == j) continue;
        double d2 = 0;
        for (size_t k = 0; k < positions[i].size(); ++k) {
          d2 += (positions[i][k] - positions[j][k]) *
                (positions[i][k] - positions[j][k]);
        }
        nearest = std::min(nearest, std::sqrt(d2));
      }
      total += nearest;
    }
    std::cout << GetParam().name << (liar ? " with" : " without")
              << " the liar: mean nearest distance " << total / 8 << "\n";
    return total / static_cast<double>(positions.size());
  };
  const double with_liar = spread(true);
  const double without = spread(false);
  EXPECT_GT(with_liar, 1.25 * without)
      << "with the liar " << with_liar << ", without " << without;
}

INSTANTIATE_TEST_SUITE_P(
    Samplers, LearnedSamplerTest,
    ::testing::Values(
        LearnedCase{"tpe", R"({"type": "tpe"})", "random"},
        LearnedCase{"tpe_multivariate",
                    R"({"type": "tpe", "multivariate": true})", "random"},
        LearnedCase{"tpe_largest_budget",
                    R"({"type": "tpe", "observations": "largest_budget"})",
                    "random"},
        LearnedCase{"bohb", R"({"type": "bohb"})", "hyperband"}),
    [](const auto& info) { return std::string(info.param.name); });

// Failed trials count as the worst value: here every lr above 1e-2 failed
// while the loss falls as lr grows, so the best completed trials sit just
// below 1e-2. Learning from the failures keeps proposals below it; leaving
// them out (as Optuna does) lets l(x) / g(x) pull proposals over the edge,
// where the bad set has nothing.
double ShareAboveTheEdge(const char* sampler, bool with_failures) {
  json study = {{"name", "f"},
                {"seed", 5},
                {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
                {"search_space",
                 {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1}}},
                  {"wd", {{"type", "uniform"}, {"low", 0}, {"high", 1}}}}},
                {"algorithm",
                 {{"type", "hyperband"},
                  {"min_epochs", 1},
                  {"max_epochs", 9},
                  {"sampler", json::parse(sampler)}}}};
  const StudySpec spec = ParseStudy(study, "f.json");
  auto random = NewRandomSampler(SearchSpace(spec.search_space), 3);
  TrialHistory h;
  int64_t n = 0;
  for (int i = 0; i < 60; ++i) {
    TrialRecord t;
    t.params = *random->Sample(i);
    const double lr = t.params["lr"];
    t.job.to_epoch = 1;
    if (lr > 1e-2) {
      if (!with_failures) continue;
      t.state = TrialState::kFailed;
    } else {
      t.state = TrialState::kComplete;
      t.epochs = 1;
      t.score = {-std::log10(lr)};
    }
    t.number = n;
    h[n++] = t;
  }
  auto sampler_under_test = NewSampler(spec);
  int above = 0;
  for (int64_t k = 0; k < 200; ++k) {
    above += (*sampler_under_test->Sample(n + k, h))["lr"].get<double>() > 1e-2;
  }
  return above / 200.0;
}

TEST(FailedTrialsTest, CountAsTheWorstValue) {
  for (const char* sampler :
       {R"({"type": "tpe"})", R"({"type": "bohb", "random_fraction": 0})"}) {
    const double with = ShareAboveTheEdge(sampler, true);
    const double without = ShareAboveTheEdge(sampler, false);
    std::cout << sampler << ": proposals above the edge " << with
              << " learning from failures, " << without << " without\n";
    EXPECT_LT(with, 0.5 * without) << sampler;
  }
}

TEST(TpeSamplerTest, StartupTrialsAreRandomSearchs) {
  const StudySpec spec =
      ParseStudy(Study({{"type", "tpe"}, {"n_startup_trials", 7}}), "t.json");
  auto tpe = NewSampler(spec);
  auto random = NewRandomSampler(SearchSpace(spec.search_space), spec.seed);
  TrialHistory h = RunSequentially(*tpe, 7);
  for (const auto& [n, t] : h) EXPECT_EQ(t.params, *random->Sample(n)) << n;
  EXPECT_NE(*tpe->Sample(7, h), *random->Sample(7));
}

TEST(BohbSamplerTest, UsesTheLargestBudgetWithEnoughPoints) {
  // At 1 epoch the best lr is 1e-4; at 3 epochs it is 1e-2. BOHB follows the
  // 3-epoch model once it has d + 2 = 6 points there.
  json study = {
      {"name", "b"},
      {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
      {"seed", 2},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"wd", {{"type", "uniform"}, {"low", 0}, {"high", 1}}},
        {"drop", {{"type", "uniform"}, {"low", 0}, {"high", 1}}},
        {"width", {{"type", "uniform"}, {"low", 0}, {"high", 1}}}}},
      {"algorithm",
       {{"type", "hyperband"},
        {"min_epochs", 1},
        {"max_epochs", 9},
        {"sampler", {{"type", "bohb"}, {"random_fraction", 0}}}}}};
  const StudySpec spec = ParseStudy(study, "b.json");
  auto random = NewRandomSampler(SearchSpace(spec.search_space), 9);
  auto sampler = NewSampler(spec);
  auto run = [&](int at_three) {
    TrialHistory h;
    for (int i = 0; i < 30; ++i) {
      TrialRecord t;
      t.number = i;
      t.params = *random->Sample(i);
      const double l = std::log10(t.params["lr"].get<double>());
      t.score = {(l + 4) * (l + 4)};
      if (i < at_three)
        t.score.push_back((l + 2) * (l + 2)),
            t.score.push_back((l + 2) * (l + 2));
      t.epochs = static_cast<int>(t.score.size());
      t.state = TrialState::kPaused;
      t.job.to_epoch = t.epochs;
      h[i] = t;
    }
    double sum = 0;
    for (int64_t n = 30; n < 40; ++n) {
      sum += std::log10((*sampler->Sample(n, h))["lr"].get<double>());
    }
    return sum / 10;
  };
  EXPECT_NEAR(run(5), -4, 0.8);   // 5 points at 3 epochs: too few.
  EXPECT_NEAR(run(12), -2, 0.8);  // 12: the 3-epoch model.
}

TEST(EnqueueTest, EnqueuedConfigurationsRunFirstAndFillTheRest) {
  json study = Study({{"type", "tpe"}});
  study["enqueue"] = {{{"lr", 0.01}, {"opt", "sgd"}},
                      {{"lr", 0.001}, {"units", 64}, {"opt", "adam"}}};
  const StudySpec spec = ParseStudy(study, "e.json");
  auto sampler = NewSampler(spec);
  TrialHistory h = RunSequentially(*sampler, 3);
  EXPECT_EQ(h[0].params["lr"], 0.01);
  EXPECT_EQ(h[0].params["opt"], "sgd");
  EXPECT_TRUE(h[0].params.contains("momentum"));  // Active: drawn.
  EXPECT_TRUE(h[0].params.contains("units"));
  EXPECT_EQ(h[1].params, (json{{"lr", 0.001}, {"units", 64}, {"opt", "adam"}}));
  // The third is the sampler's own (TPE's startup: random search's).
  auto random = NewRandomSampler(SearchSpace(spec.search_space), spec.seed);
  EXPECT_EQ(h[2].params, *random->Sample(2));
}

}  // namespace
}  // namespace hpo
