#include "search/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "common/study_spec.h"

namespace hpo {
namespace {

using nlohmann::json;

SearchSpaceSpec Space() {
  json study = json::parse(R"({
    "name": "s", "objective": {"metric": "val_loss", "mode": "min"},
    "search_space": {
      "lr":       {"type": "loguniform", "low": 1e-5, "high": 1e-1, "grid": [1e-4, 1e-2]},
      "dropout":  {"type": "uniform", "low": 0.1, "high": 0.5, "grid": [0.2, 0.5]},
      "batch":    {"type": "int", "low": 16, "high": 128, "log": true, "grid": [16, 64]},
      "units":    {"type": "int", "low": 200, "high": 800, "step": 200},
      "sched":    {"type": "choice", "values": ["none", "cyclic"]},
      "channels": {"type": "choice", "values": [[32, 64], [64, 64]]},
      "factor":   {"type": "uniform", "low": 2, "high": 10, "grid": [2, 10],
                   "when": {"sched": "cyclic"}}
    },
    "algorithm": {"type": "grid", "max_epochs": 3}
  })");
  return ParseStudy(study, "s.json").search_space;
}

// Every value of `config` lies in its parameter's range, and conditional
// parameters appear exactly when their condition holds.
void ExpectValid(const SearchSpaceSpec& spec, const json& config) {
  for (const ParamSpec& p : spec.params) {
    bool active = SearchSpace::IsActive(p, config);
    ASSERT_EQ(config.contains(p.name), active) << p.name << " " << config;
    if (!active) continue;
    const json& v = config[p.name];
    switch (p.type) {
      case ParamType::kChoice:
        EXPECT_NE(std::find(p.values.begin(), p.values.end(), v),
                  p.values.end());
        break;
      case ParamType::kInt:
        ASSERT_TRUE(v.is_number_integer()) << v;
        EXPECT_EQ((v.get<int64_t>() - static_cast<int64_t>(p.low)) % p.step, 0);
        [[fallthrough]];
      default:
        EXPECT_GE(v.get<double>(), p.low) << p.name;
        EXPECT_LE(v.get<double>(), p.high) << p.name;
    }
  }
}

// One behavioural suite, run against every sampler.
struct SamplerCase {
  const char* name;
  std::unique_ptr<Sampler> (*make)(const SearchSpace&, uint64_t);
};

void PrintTo(const SamplerCase& c, std::ostream* os) { *os << c.name; }

class SamplerSuite : public ::testing::TestWithParam<SamplerCase> {};

TEST_P(SamplerSuite, ValuesWithinBoundsAndConditionsHonoured) {
  SearchSpaceSpec spec = Space();
  auto sampler = GetParam().make(SearchSpace(spec), 1);
  int64_t n = sampler->Size().value_or(500);
  for (int64_t i = 0; i < n; ++i) {
    std::optional<json> config = sampler->Sample(i);
    ASSERT_TRUE(config.has_value());
    ExpectValid(spec, *config);
  }
}

TEST_P(SamplerSuite, SameSeedSameValuesInAnyOrder) {
  SearchSpace space(Space());
  auto a = GetParam().make(space, 42);
  auto b = GetParam().make(space, 42);
  std::vector<json> forward;
  for (int i = 0; i < 20; ++i) forward.push_back(*a->Sample(i));
  for (int i = 19; i >= 0; --i) EXPECT_EQ(*b->Sample(i), forward[i]) << i;
}

TEST_P(SamplerSuite, DistinctTrialsGetDistinctConfigurations) {
  auto sampler = GetParam().make(SearchSpace(Space()), 3);
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) seen.insert(sampler->Sample(i)->dump());
  EXPECT_GE(seen.size(), 19u);
}

// Every sampler, learning or not, as the history grows: trials proposed one
// after another, each given a value (lower for a smaller lr, diverged for a
// large dropout); every proposal stays valid and is a pure function of the
// seed, the number and the history.
TEST_P(SamplerSuite, ProposalsStayValidAndRepeatableAsTheHistoryGrows) {
  SearchSpaceSpec spec = Space();
  auto sampler = GetParam().make(SearchSpace(spec), 8);
  TrialHistory history;
  const int64_t n = std::min<int64_t>(sampler->Size().value_or(60), 60);
  for (int64_t i = 0; i < n; ++i) {
    std::optional<json> config = sampler->Sample(i, history);
    ASSERT_TRUE(config.has_value()) << i;
    ExpectValid(spec, *config);
    EXPECT_EQ(*sampler->Sample(i, history), *config) << i;
    TrialRecord t;
    t.number = i;
    t.params = *config;
    t.epochs = 1;
    t.job.to_epoch = 1;
    if ((*config)["dropout"].get<double>() > 0.45) {
      t.state = TrialState::kFailed;
      t.score = {std::numeric_limits<double>::infinity()};
    } else {
      t.state = TrialState::kComplete;
      t.score = {std::log10((*config)["lr"].get<double>())};
    }
    history[i] = t;
  }
}

std::unique_ptr<Sampler> MakeGrid(const SearchSpace& s, uint64_t seed) {
  return NewGridSampler(s, seed, false);
}
std::unique_ptr<Sampler> MakeShuffledGrid(const SearchSpace& s, uint64_t seed) {
  return NewGridSampler(s, seed, true);
}

std::unique_ptr<Sampler> MakeTpe(const SearchSpace& s, uint64_t seed) {
  SamplerSpec options;
  options.type = SamplerType::kTpe;
  options.n_startup_trials = 5;
  return NewTpeSampler(s, seed, options);
}
std::unique_ptr<Sampler> MakeMultivariateTpe(const SearchSpace& s,
                                             uint64_t seed) {
  SamplerSpec options;
  options.type = SamplerType::kTpe;
  options.n_startup_trials = 5;
  options.multivariate = true;
  return NewTpeSampler(s, seed, options);
}
std::unique_ptr<Sampler> MakeBohb(const SearchSpace& s, uint64_t seed) {
  SamplerSpec options;
  options.type = SamplerType::kBohb;
  return NewBohbSampler(s, seed, options);
}

INSTANTIATE_TEST_SUITE_P(
    AllSamplers, SamplerSuite,
    ::testing::Values(SamplerCase{"random", &NewRandomSampler},
                      SamplerCase{"grid", &MakeGrid},
                      SamplerCase{"shuffled_grid", &MakeShuffledGrid},
                      SamplerCase{"tpe", &MakeTpe},
                      SamplerCase{"tpe_multivariate", &MakeMultivariateTpe},
                      SamplerCase{"bohb", &MakeBohb}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RandomSamplerTest, DifferentSeedsDiffer) {
  SearchSpace space(Space());
  EXPECT_NE(*NewRandomSampler(space, 1)->Sample(0),
            *NewRandomSampler(space, 2)->Sample(0));
}

TEST(RandomSamplerTest, AddingAParameterKeepsTheOthers) {
  SearchSpaceSpec small = Space();
  SearchSpaceSpec large = Space();
  ParamSpec extra;
  extra.name = "aaa_new";
  extra.type = ParamType::kUniform;
  extra.low = 0;
  extra.high = 1;
  large.params.insert(large.params.begin(), extra);
  json a = *NewRandomSampler(SearchSpace(small), 5)->Sample(7);
  json b = *NewRandomSampler(SearchSpace(large), 5)->Sample(7);
  b.erase("aaa_new");
  EXPECT_EQ(a, b);
}

TEST(RandomSamplerTest, LogScaleSpreadsOverDecades) {
  SearchSpace space(Space());
  auto sampler = NewRandomSampler(space, 9);
  int per_decade[4] = {0, 0, 0, 0};
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    double lr = (*sampler->Sample(i))["lr"].get<double>();
    int decade = static_cast<int>(std::floor(std::log10(lr) + 5));
    ASSERT_GE(decade, 0);
    ASSERT_LE(decade, 3);
    ++per_decade[decade];
  }
  for (int d : per_decade) EXPECT_NEAR(d, n / 4, n / 4 * 0.15);
}

TEST(RandomSamplerTest, IntStepAndLogHitTheirValues) {
  SearchSpace space(Space());
  auto sampler = NewRandomSampler(space, 11);
  std::set<int64_t> units;
  std::set<int64_t> batches;
  for (int i = 0; i < 2000; ++i) {
    json c = *sampler->Sample(i);
    units.insert(c["units"].get<int64_t>());
    batches.insert(c["batch"].get<int64_t>());
  }
  EXPECT_EQ(units, (std::set<int64_t>{200, 400, 600, 800}));
  EXPECT_EQ(*batches.begin(), 16);
  EXPECT_EQ(*batches.rbegin(), 128);
  EXPECT_GT(batches.size(), 100u);
}

TEST(GridSamplerTest, CartesianProductWithoutInactiveDuplicates) {
  auto sampler = NewGridSampler(SearchSpace(Space()), 0, false);
  // 2 lr x 2 dropout x 2 batch x 4 units x 2 channels x (none + cyclic x 2
  // factors) = 64 x 3.
  EXPECT_EQ(sampler->Size(), 64 * 3);
  std::set<std::string> seen;
  for (int64_t i = 0; i < *sampler->Size(); ++i) {
    seen.insert(sampler->Sample(i)->dump());
  }
  EXPECT_EQ(seen.size(), 64u * 3);
  EXPECT_FALSE(sampler->Sample(64 * 3).has_value());
  // The last parameter in name order varies fastest.
  EXPECT_EQ((*sampler->Sample(0))["units"], 200);
  EXPECT_EQ((*sampler->Sample(1))["units"], 400);
}

// A list parameter is one grid dimension per element, and random search
// draws each element on its own.
TEST(ListParamTest, EveryElementIsADimension) {
  json study = json::parse(R"({
    "name": "s", "objective": {"metric": "val_loss", "mode": "min"},
    "search_space": {
      "channels": {"type": "list", "length": 3,
                   "item": {"type": "choice", "values": [32, 64, 128]}}
    },
    "algorithm": {"type": "grid", "max_epochs": 3}
  })");
  const SearchSpaceSpec spec = ParseStudy(study, "s.json").search_space;
  auto grid = NewGridSampler(SearchSpace(spec), 0, false);
  EXPECT_EQ(grid->Size(), 27);
  std::set<std::string> seen;
  for (int64_t i = 0; i < 27; ++i) {
    json c = *grid->Sample(i);
    ExpectValid(spec, c);
    seen.insert(c.dump());
  }
  EXPECT_EQ(seen.size(), 27u);
  auto random = NewRandomSampler(SearchSpace(spec), 3);
  int mixed = 0;  // Configurations whose elements are not all equal.
  std::set<json> firsts;
  for (int64_t i = 0; i < 100; ++i) {
    json c = *random->Sample(i);
    ExpectValid(spec, c);
    firsts.insert(c["channels[0]"]);
    if (c["channels[0]"] != c["channels[1]"] ||
        c["channels[1]"] != c["channels[2]"]) {
      ++mixed;
    }
  }
  EXPECT_EQ(firsts.size(), 3u);
  EXPECT_GT(mixed, 80);  // 8 of 9 expected.
}

TEST(GridSamplerTest, ShuffleIsASeededPermutation) {
  SearchSpace space(Space());
  auto plain = NewGridSampler(space, 4, false);
  auto shuffled = NewGridSampler(space, 4, true);
  std::multiset<std::string> a;
  std::multiset<std::string> b;
  int moved = 0;
  for (int64_t i = 0; i < *plain->Size(); ++i) {
    a.insert(plain->Sample(i)->dump());
    b.insert(shuffled->Sample(i)->dump());
    moved += *plain->Sample(i) != *shuffled->Sample(i);
  }
  EXPECT_EQ(a, b);
  EXPECT_GT(moved, 100);
}

TEST(GridSamplerTest, EmptySearchSpaceHasOnePoint) {
  auto sampler = NewGridSampler(SearchSpace(SearchSpaceSpec{}), 0, false);
  EXPECT_EQ(sampler->Size(), 1);
  EXPECT_EQ(*sampler->Sample(0), json::object());
}

}  // namespace
}  // namespace hpo
