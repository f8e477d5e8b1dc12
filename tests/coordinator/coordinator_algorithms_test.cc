// The coordinator driven directly (coordinator_fakes.h): every algorithm, with
// failures and workers coming and going.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/coordinator/coordinator_fakes.h"

namespace hpo {
namespace {

using namespace coordinator_testing;  // NOLINT(build/namespaces)
using nlohmann::json;

struct AlgorithmCase {
  const char* name;
  const char* algorithm;  // The "algorithm" object.
  int64_t max_trials;     // 0: no budget section.
};

json AlgorithmStudy(const AlgorithmCase& a) {
  json study = json::parse(kRandomStudy);
  study["name"] = a.name;
  study["algorithm"] = json::parse(a.algorithm);
  if (a.max_trials > 0) {
    study["budget"] = {{"max_trials", a.max_trials}};
  } else {
    study.erase("budget");
  }
  if (study["algorithm"]["type"] == "grid") {
    study["search_space"]["lr"] = {{"type", "choice"},
                                   {"values", {1e-4, 1e-3, 1e-2, 1e-1}}};
    study["search_space"]["wd"] = {{"type", "choice"}, {"values", {0, 0.1}}};
  }
  study["execution"]["max_attempts"] = 3;
  return study;
}

// The trial states in the store equal those of a scheduler rebuilt from the
// recorded events.
void ExpectStoreMatchesReplay(Store& store, const StudySpec& spec) {
  const int64_t id = StudyId(store, spec.name);
  std::vector<SchedulerEvent> events;
  for (const std::string& e : store.Events(id)) {
    events.push_back(SchedulerEvent::FromJson(json::parse(e)));
  }
  std::unique_ptr<Scheduler> replayed = NewScheduler(spec);
  Replay(*replayed, events);
  std::vector<TrialRow> trials = store.Trials(id);
  ASSERT_EQ(trials.size(), replayed->trials().size());
  for (const TrialRow& t : trials) {
    const TrialRecord& r = replayed->trials().at(t.number);
    EXPECT_EQ(ToString(t.state), ToString(r.state)) << "trial " << t.number;
    EXPECT_EQ(t.epochs, r.epochs) << "trial " << t.number;
    EXPECT_EQ(t.params, r.params) << "trial " << t.number;
    int attempts = 0;
    for (const AttemptRow& a : store.Attempts(id, t.number)) {
      ++attempts;
      EXPECT_EQ(a.attempt, attempts) << "trial " << t.number;
    }
    EXPECT_EQ(t.attempts, attempts) << "trial " << t.number;
  }
  EXPECT_EQ(replayed->NextJob().type, Decision::Type::kDone);
}

class CoordinatorAlgorithmTest : public testing::TestWithParam<AlgorithmCase> {
};

TEST_P(CoordinatorAlgorithmTest, FinishesCleanly) {
  const json study = AlgorithmStudy(GetParam());
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  c.AddWorker("a", 1);
  c.AddWorker("b", 3);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  ExpectConsistent(*store, study["name"]);
  ExpectStoreMatchesReplay(*store, c.spec());
  // Every trial the progress line announced was started.
  const int64_t planned = c.coordinator().stats().planned_trials;
  EXPECT_GT(planned, 0);
  if (study["algorithm"]["type"] != "median") {
    EXPECT_EQ(static_cast<int64_t>(
                  store->Trials(StudyId(*store, study["name"])).size()),
              planned);
  }
}

TEST_P(CoordinatorAlgorithmTest, SurvivesFailuresAndWorkersComingAndGoing) {
  const json study = AlgorithmStudy(GetParam());
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  // Deterministic chaos: some epochs fail (mostly retryable), and every so
  // often a worker dies, restarts with a new session, or says bye.
  c.set_fail([](int64_t trial, int attempt,
                int epoch) -> std::optional<std::string> {
    const uint64_t h = static_cast<uint64_t>(trial * 7919 + attempt * 104729 +
                                             epoch * 1299709);
    if (h % 23 == 0) return "error";
    if (h % 97 == 0) return "diverged";
    return std::nullopt;
  });
  c.AddWorker("a", 1);
  c.AddWorker("b", 2);
  c.AddWorker("c", 1);
  int step = 0;
  for (; step < 4000 && !c.coordinator().finished(); ++step) {
    if (step % 17 == 5) {  // "a" restarts: its runs are gone.
      FakeWorker& a = c.worker("a");
      a.jobs.clear();
      ++a.session;
      c.Hello(a);
    }
    if (step % 29 == 11) {  // "c" dies; it comes back 80 steps later.
      c.worker("c").alive = false;
      c.worker("c").jobs.clear();
    }
    if (step % 29 == 11 + 80 % 29 && step > 80) {
      FakeWorker& w = c.worker("c");
      if (!w.alive) {
        w.alive = true;
        ++w.session;
        c.Hello(w);
      }
    }
    if (step % 41 == 20) {  // "b" leaves politely and rejoins.
      FakeWorker& b = c.worker("b");
      b.jobs.clear();
      c.Send("b", MessageType::kBye, {{"why", "maintenance"}});
      ++b.session;
      c.Hello(b);
    }
    c.Step(0.2);
  }
  ASSERT_TRUE(c.coordinator().finished()) << "after " << step << " steps";
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  ExpectConsistent(*store, study["name"]);
  ExpectStoreMatchesReplay(*store, c.spec());
  const int64_t id = StudyId(*store, study["name"]);
  int lost = 0;
  int failed = 0;
  for (const AttemptRow& a : store->Attempts(id)) {
    lost += a.state == "lost";
    failed += a.state == "failed";
  }
  EXPECT_GT(lost, 0);
  EXPECT_GT(failed, 0);
}

// The same study, workers and (fake) timing propose the same trials: what a
// learning sampler proposes depends on the order results arrive in, and
// here nothing else varies that order.
TEST_P(CoordinatorAlgorithmTest, SameRunSameProposals) {
  const json study = AlgorithmStudy(GetParam());
  EXPECT_EQ(Uninterrupted(study), Uninterrupted(study));
}

TEST_P(CoordinatorAlgorithmTest, ResumesAfterCrashes) {
  const json study = AlgorithmStudy(GetParam());
  const StudySpec spec = ParseStudy(study, "s.json");
  // Steps the study takes as CrashAfter() runs it.
  int length = 0;
  {
    auto store = Store::Open(":memory:");
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.AddWorker("b", 2);
    while (!c.coordinator().finished() && length < 5000) {
      c.Step(0.07);
      ++length;
    }
  }
  ASSERT_GE(length, 6);
  const bool blind = spec.algorithm.sampler.type == SamplerType::kRandom ||
                     spec.algorithm.sampler.type == SamplerType::kGrid;
  for (int steps : {length / 3, length - 3}) {
    SCOPED_TRACE("crash after " + std::to_string(steps) + " of " +
                 std::to_string(length) + " steps");
    ScratchDir dir;
    const std::string path = dir.path() + "/s.db";
    CrashAfter(study, path, steps);
    std::map<int64_t, json> before;
    {
      auto crashed = Store::Open(path);
      before = TrialParams(*crashed, spec.name);
    }
    ResumeToEnd(study, path);
    auto store = Store::Open(path);
    const std::map<int64_t, json> after = TrialParams(*store, spec.name);
    // What was proposed before the crash stands.
    for (const auto& [number, params] : before) {
      ASSERT_TRUE(after.count(number)) << number;
      EXPECT_EQ(after.at(number), params) << "trial " << number;
    }
    if (blind) {
      // Blind samplers propose by trial number alone: the same trials as an
      // undisturbed run. A learning sampler's later proposals depend on the
      // order results came back in, which the crash changed; the replay
      // check below holds them to what the recorded events imply.
      EXPECT_EQ(after, Uninterrupted(study));
    }
    ExpectConsistent(*store, spec.name);
    ExpectStoreMatchesReplay(*store, spec);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, CoordinatorAlgorithmTest,
    testing::Values(
        AlgorithmCase{"random", R"({"type": "random", "max_epochs": 4})", 12},
        AlgorithmCase{"grid", R"({"type": "grid", "max_epochs": 3})", 0},
        AlgorithmCase{"sha",
                      R"({"type": "successive_halving", "min_epochs": 1,
                          "max_epochs": 9, "eta": 3, "n": 9})",
                      0},
        AlgorithmCase{"hyperband",
                      R"({"type": "hyperband", "min_epochs": 1,
                          "max_epochs": 9, "eta": 3})",
                      0},
        AlgorithmCase{"asha",
                      R"({"type": "asha", "min_epochs": 1, "max_epochs": 9,
                          "eta": 3})",
                      20},
        AlgorithmCase{"median",
                      R"({"type": "median", "max_epochs": 6,
                          "warmup_epochs": 2, "min_trials": 2})",
                      12},
        AlgorithmCase{"random_tpe",
                      R"({"type": "random", "max_epochs": 4, "sampler":
                          {"type": "tpe", "n_startup_trials": 3}})",
                      12},
        AlgorithmCase{"hyperband_tpe",
                      R"({"type": "hyperband", "min_epochs": 1,
                          "max_epochs": 9, "eta": 3, "sampler":
                          {"type": "tpe", "n_startup_trials": 3}})",
                      0},
        AlgorithmCase{"asha_tpe",
                      R"({"type": "asha", "min_epochs": 1, "max_epochs": 9,
                          "eta": 3, "sampler": {"type": "tpe",
                          "n_startup_trials": 3, "multivariate": true}})",
                      20},
        AlgorithmCase{"median_tpe",
                      R"({"type": "median", "max_epochs": 6,
                          "warmup_epochs": 2, "min_trials": 2, "sampler":
                          {"type": "tpe", "n_startup_trials": 3,
                          "observations": "largest_budget"}})",
                      12},
        AlgorithmCase{"sha_bohb",
                      R"({"type": "successive_halving", "min_epochs": 1,
                          "max_epochs": 9, "eta": 3, "n": 9, "sampler":
                          {"type": "bohb"}})",
                      0},
        AlgorithmCase{"hyperband_bohb",
                      R"({"type": "hyperband", "min_epochs": 1,
                          "max_epochs": 9, "eta": 3, "iterations": 2,
                          "sampler": {"type": "bohb"}})",
                      0},
        AlgorithmCase{"asha_bohb",
                      R"({"type": "asha", "min_epochs": 1, "max_epochs": 9,
                          "eta": 3, "sampler": {"type": "bohb"}})",
                      20}),
    [](const testing::TestParamInfo<AlgorithmCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace hpo
