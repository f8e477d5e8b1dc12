// The coordinator driven directly (coordinator_fakes.h): stopping and resuming.
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

TEST(CoordinatorTest, StopRecordsRunningTrialsAsQueued) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 2);
  c.Step();
  ASSERT_EQ(a.jobs.size(), 2u);
  std::set<int64_t> running;
  for (const auto& [lease, job] : a.jobs) running.insert(job.trial);
  c.coordinator().Stop("interrupted");
  c.Deliver();
  EXPECT_TRUE(c.coordinator().finished());
  EXPECT_EQ(c.coordinator().outcome(), "interrupted");
  EXPECT_TRUE(a.jobs.empty()) << "the worker was told to stop its trials";
  EXPECT_FALSE(a.done) << "an interrupted study is not over";
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(store->FindStudy("t")->state, "interrupted");
  for (int64_t t : running) {
    EXPECT_EQ(store->Trials(id).at(static_cast<size_t>(t)).state,
              TrialState::kQueued);
    std::vector<AttemptRow> attempts = store->Attempts(id, t);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].state, "interrupted");
    EXPECT_EQ(attempts[0].reason, "interrupted");
  }
  EXPECT_EQ(store->pending_writes(), 0) << "Stop saves everything";
  c.coordinator().Stop("again");  // A no-op.
  EXPECT_EQ(c.coordinator().outcome(), "interrupted");
}

TEST(CoordinatorTest, TimeBudgetEndsTheStudy) {
  auto store = Store::Open(":memory:");
  json study = json::parse(kRandomStudy);
  study["budget"]["max_hours"] = 0.001;  // 3.6 s.
  Cluster c(study, *store);
  FakeWorker& a = c.AddWorker("a", 1);
  a.jobs.clear();  // It never trains, but it answers heartbeats.
  for (int i = 0; i < 40 && !c.coordinator().finished(); ++i) c.Step(0.1);
  EXPECT_TRUE(c.coordinator().finished());
  EXPECT_EQ(c.coordinator().outcome(), "time_limit");
  EXPECT_EQ(store->FindStudy("t")->state, "time_limit");
  EXPECT_TRUE(a.done);
}

TEST(CoordinatorResumeTest, RandomStudyAfterACrash) {
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kRandomStudy);
  CrashAfter(study, path, 4);
  {
    auto store = Store::Open(path);
    const int64_t id = StudyId(*store, "t");
    ASSERT_GE(id, 0);
    EXPECT_EQ(store->FindStudy("t")->state, "running");
    EXPECT_FALSE(store->Trials(id).empty()) << "something was committed";
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
  auto store = Store::Open(path);
  // The attempts that ran at the crash were closed as interrupted.
  int interrupted = 0;
  for (const AttemptRow& a : store->Attempts(StudyId(*store, "t"))) {
    interrupted += a.state == "interrupted";
  }
  EXPECT_GT(interrupted, 0);
}

// What a crashed session left in the file: trials recorded, attempts that
// were running, epochs recorded.
struct Left {
  size_t trials = 0;
  int running = 0;
  size_t epochs = 0;
};
Left WhatIsLeft(const std::string& path, const std::string& name) {
  auto store = Store::Open(path, /*read_only=*/true);
  const int64_t id = StudyId(*store, name);
  Left left;
  left.trials = store->Trials(id).size();
  for (const AttemptRow& a : store->Attempts(id)) {
    left.running += a.state == "running";
  }
  left.epochs = store->Metrics(id, -1).size();
  return left;
}

TEST(CoordinatorResumeTest, HyperbandAfterCrashesAtManyPoints) {
  const json study = json::parse(kHyperbandStudy);
  size_t last_epochs = 0;
  for (int steps : {2, 7, 15, 24}) {
    SCOPED_TRACE("crash after " + std::to_string(steps) + " steps");
    ScratchDir dir;
    const std::string path = dir.path() + "/hb.db";
    CrashAfter(study, path, steps);
    Left left = WhatIsLeft(path, "hb");
    if (steps > 2) {
      // The crash came mid-study, with trials running.
      EXPECT_GT(left.trials, 0u);
      EXPECT_GT(left.running, 0);
      EXPECT_GT(left.epochs, last_epochs);
    }
    last_epochs = left.epochs;
    ResumeToEnd(study, path);
    ExpectSameAsUninterrupted(study, path);
  }
}

TEST(CoordinatorResumeTest, HyperbandCrashingTwice) {
  const json study = json::parse(kHyperbandStudy);
  ScratchDir dir;
  const std::string path = dir.path() + "/hb.db";
  CrashAfter(study, path, 10);
  // The second session crashes too.
  RunCrashingSession([&] {
    auto store = Store::Open(path);
    Cluster c(study, *store, true);
    c.AddWorker("c", 1);
    for (int i = 0; i < 12; ++i) c.Step();
    _exit(c.coordinator().finished() ? 3 : 0);
  });
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
}

TEST(CoordinatorResumeTest, AfterStop) {
  ExpectResumeLikeUninterrupted(json::parse(kHyperbandStudy),
                                [](Cluster& c, Store&) {
                                  c.AddWorker("a", 1);
                                  c.AddWorker("b", 2);
                                  for (int i = 0; i < 12; ++i) c.Step();
                                  c.coordinator().Stop("interrupted");
                                });
}

TEST(CoordinatorResumeTest, AfterCoordinatorDestroyedWithoutStop) {
  // The coordinator object goes away mid-study; its store saves the batch
  // when it closes (an orderly shutdown that skipped Stop()).
  ExpectResumeLikeUninterrupted(json::parse(kRandomStudy),
                                [](Cluster& c, Store&) {
                                  c.AddWorker("a", 1);
                                  c.AddWorker("b", 2);
                                  for (int i = 0; i < 4; ++i) c.Step();
                                  c.Crash();
                                });
}

TEST(CoordinatorResumeTest, RetryWaitingForAWorkerAtTheCrash) {
  ExpectResumeLikeUninterrupted(
      json::parse(kRandomStudy), [](Cluster& c, Store& store) {
        FakeWorker& dead = c.AddWorker("dead", 1);
        c.AddWorker("busy", 1);  // Answers heartbeats, never trains.
        dead.alive = false;
        for (int i = 0; i < 60; ++i) {  // 6 s: "dead" is lost.
          c.clock().Advance(0.1);
          c.coordinator().Tick();
          c.Deliver();
        }
        EXPECT_EQ(c.coordinator().stats().queued, 1);
        store.Commit();
        c.Crash();
      });
}

TEST(CoordinatorResumeTest, JobQueuedBeforeAnyWorkerCame) {
  ExpectResumeLikeUninterrupted(json::parse(kHyperbandStudy),
                                [](Cluster& c, Store& store) {
                                  for (int i = 0; i < 10; ++i)
                                    c.Step(0.1);  // No workers.
                                  EXPECT_EQ(c.coordinator().stats().queued, 1);
                                  store.Commit();
                                  c.Crash();
                                });
}

TEST(CoordinatorResumeTest, AttemptsAreCountedAcrossSessions) {
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kRandomStudy);  // max_attempts: 2.
  auto fail = [](int64_t trial, int attempt,
                 int epoch) -> std::optional<std::string> {
    if (trial == 0 && epoch == 2) return "error";
    return std::nullopt;
  };
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.set_fail(fail);
    FakeWorker& a = c.AddWorker("a", 1);
    c.Step();
    c.Step();  // Trial 0 fails once and is handed out again.
    ASSERT_EQ(a.jobs.size(), 1u);
    EXPECT_EQ(a.jobs.begin()->second.attempt, 2);
    c.coordinator().Stop("interrupted");
  }
  auto store = Store::Open(path);
  Cluster c(study, *store, /*resume=*/true);
  c.set_fail(fail);
  FakeWorker& b = c.AddWorker("b", 1);
  ASSERT_EQ(b.jobs.size(), 1u);
  EXPECT_EQ(b.jobs.begin()->second.trial, 0);
  EXPECT_EQ(b.jobs.begin()->second.attempt, 3) << "attempt numbers go on";
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "t");
  TrialRow t0 = store->Trials(id).at(0);
  // One failure before the stop, one after: max_attempts (2) is spent. The
  // interrupted attempt does not count.
  EXPECT_EQ(t0.state, TrialState::kFailed) << t0.error;
  EXPECT_EQ(t0.attempts, 3);
  std::vector<std::string> states;
  for (const AttemptRow& a : store->Attempts(id, 0)) states.push_back(a.state);
  EXPECT_EQ(states,
            (std::vector<std::string>{"failed", "interrupted", "failed"}));
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorResumeTest, CompleteStudyHasNothingToDo) {
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kRandomStudy);
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.AddWorker("a", 2);
    ASSERT_TRUE(c.RunToEnd());
  }
  auto store = Store::Open(path);
  Cluster c(study, *store, true);
  EXPECT_TRUE(c.coordinator().finished());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  EXPECT_EQ(store->Trials(StudyId(*store, "t")).size(), 4u);
}

// The hpo::Error a coordinator construction throws.
std::optional<Error> ConstructionError(const json& study, Store& store,
                                       bool resume) {
  try {
    Cluster c(study, store, resume);
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

TEST(CoordinatorResumeTest, RefusesAnExistingStudyWithoutResume) {
  auto store = Store::Open(":memory:");
  const json study = json::parse(kRandomStudy);
  { Cluster c(study, *store); }
  std::optional<Error> e = ConstructionError(study, *store, false);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind(), ErrorKind::kBadInput);
  EXPECT_NE(std::string(e->what()).find("--resume"), std::string::npos)
      << e->what();
  EXPECT_EQ(store->Studies().size(), 1u);
}

TEST(CoordinatorResumeTest, RefusesResumingAMissingStudy) {
  auto store = Store::Open(":memory:");
  std::optional<Error> e =
      ConstructionError(json::parse(kRandomStudy), *store, true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind(), ErrorKind::kBadInput);
  EXPECT_NE(std::string(e->what()).find("no study named \"t\""),
            std::string::npos)
      << e->what();
  EXPECT_TRUE(store->Studies().empty());
}

TEST(CoordinatorResumeTest, RefusesAChangedSearchAndListsTheChanges) {
  auto store = Store::Open(":memory:");
  const json study = json::parse(kRandomStudy);
  {
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.Step();
    c.coordinator().Stop("interrupted");
  }
  json changed = study;
  changed["search_space"]["lr"]["high"] = 0.2;
  changed["seed"] = 2;
  std::optional<Error> e = ConstructionError(changed, *store, true);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind(), ErrorKind::kBadInput);
  const std::string what = e->what();
  EXPECT_NE(what.find("search_space.lr.high: 0.1 -> 0.2"), std::string::npos)
      << what;
  EXPECT_NE(what.find("seed: 1 -> 2"), std::string::npos) << what;

  json budget = study;
  budget["budget"]["max_trials"] = 5;
  e = ConstructionError(budget, *store, true);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(std::string(e->what()).find("budget.max_trials"),
            std::string::npos);

  json algorithm = study;
  algorithm["algorithm"]["max_epochs"] = 4;
  EXPECT_TRUE(ConstructionError(algorithm, *store, true).has_value());
}

TEST(CoordinatorResumeTest, AcceptsChangedExecutionAndDescription) {
  auto store = Store::Open(":memory:");
  const json study = json::parse(kRandomStudy);
  {
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.Step();
    c.coordinator().Stop("interrupted");
  }
  json changed = study;
  changed["description"] = "now with a description";
  changed["execution"]["max_attempts"] = 3;
  changed["execution"]["lease_timeout_s"] = 9;
  changed["budget"]["max_hours"] = 2;
  EXPECT_FALSE(ConstructionError(changed, *store, true).has_value());
  Cluster c(changed, *store, true);
  c.AddWorker("b", 2);
  EXPECT_EQ(c.worker("b").received.at(0).body["lease_timeout_s"], 9);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(store->Trials(StudyId(*store, "t"), "complete").size(), 4u);
}

TEST(CoordinatorTest, ALateWorkerHearsTheStudyIsOverOnce) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  // A worker that starts after the end (or reconnects after a coordinator
  // restart) is told at once, so --exit-when-done workers end.
  FakeWorker& late = c.AddWorker("late", 1);
  EXPECT_TRUE(late.done);
  EXPECT_EQ(late.Count(MessageType::kWelcome), 0);
  // Once it has left, its hellos (waiting for the next study) are ignored.
  c.Send("late", MessageType::kBye, {{"why", "waiting for the next study"}});
  const int before = late.Count(MessageType::kDone);
  c.Hello(late);
  EXPECT_EQ(late.Count(MessageType::kDone), before);
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace coordinator_testing {
namespace {

const char kPbtStudy[] = R"({
  "name": "pbt", "seed": 5,
  "objective": {"metric": "val_accuracy", "mode": "max"},
  "trainer": {"model": "synthetic"},
  "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
                   "dropout": {"type": "uniform", "low": 0, "high": 0.5}},
  "algorithm": {"type": "pbt", "population": 6, "max_epochs": 9,
                "interval": 3},
  "execution": {"max_attempts": 3, "heartbeat_s": 1, "lease_timeout_s": 5}
})";

// The trials and exploits a scheduler rebuilt from the study's event log
// gives, against what the file holds.
void ExpectTheEventsRebuildEveryDecision(Store& store, const json& study) {
  const int64_t id = StudyId(store, study["name"]);
  std::vector<SchedulerEvent> events;
  for (const std::string& e : store.Events(id)) {
    events.push_back(SchedulerEvent::FromJson(json::parse(e)));
  }
  std::unique_ptr<Scheduler> replayed =
      NewScheduler(ParseStudy(study, "s.json"));
  Replay(*replayed, events);
  for (const TrialRow& t : store.Trials(id)) {
    const TrialRecord& r = replayed->trials().at(t.number);
    EXPECT_EQ(t.params, r.params) << "trial " << t.number;
    EXPECT_EQ(ToString(t.state), ToString(r.state)) << "trial " << t.number;
    EXPECT_EQ(t.epochs, r.epochs) << "trial " << t.number;
  }
  std::vector<Exploit> want = replayed->TakeExploits();
  std::vector<ExploitRow> got = store.Exploits(id);
  std::sort(want.begin(), want.end(), [](const Exploit& a, const Exploit& b) {
    return std::make_pair(a.trial, a.epoch) < std::make_pair(b.trial, b.epoch);
  });
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].trial, want[i].trial);
    EXPECT_EQ(got[i].epoch, want[i].epoch);
    EXPECT_EQ(got[i].parent, want[i].parent);
    EXPECT_EQ(got[i].parent_epoch, want[i].parent_epoch);
    EXPECT_EQ(got[i].old_params, want[i].old_params);
    EXPECT_EQ(got[i].new_params, want[i].new_params);
  }
}

TEST(CoordinatorPbtTest, ExploitsResumeTheParentsCheckpointAndPruneTheRest) {
  const json study = json::parse(kPbtStudy);
  ScratchDir dir;
  auto store = Store::Open(dir.path() + "/pbt.db");
  Cluster c(study, *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "pbt");
  const std::vector<TrialRow> trials = store->Trials(id);
  ASSERT_EQ(trials.size(), 6u);
  for (const TrialRow& t : trials) {
    EXPECT_EQ(ToString(t.state), "complete");
    EXPECT_EQ(t.epochs, 9);
  }
  const std::vector<ExploitRow> exploits = store->Exploits(id);
  ASSERT_FALSE(exploits.empty());
  for (const ExploitRow& e : exploits) {
    // The member's next job resumed its parent's checkpoint from the same
    // boundary, with the new parameters.
    bool found = false;
    for (const FakeJob& j : c.assigned()) {
      if (j.trial != e.trial || j.epoch != e.epoch) continue;
      found = true;
      EXPECT_EQ(j.checkpoint, "hb/trial-" + std::to_string(e.parent) +
                                  "/epoch-" + std::to_string(e.epoch) + ".pt");
      EXPECT_EQ(j.params, e.new_params);
    }
    EXPECT_TRUE(found) << "trial " << e.trial << " after epoch " << e.epoch;
  }
  // The trial rows hold each member's latest parameters.
  for (const TrialRow& t : trials) {
    json last;
    for (const ExploitRow& e : exploits) {
      if (e.trial == t.number) last = e.new_params;
    }
    if (!last.is_null()) EXPECT_EQ(t.params, last) << "trial " << t.number;
  }
  // Only each member's final checkpoint is kept; the workers were asked to
  // delete every other one.
  const std::vector<CheckpointRow> kept = store->Checkpoints(id);
  ASSERT_EQ(kept.size(), 6u);
  for (const CheckpointRow& k : kept) EXPECT_EQ(k.epoch, 9);
  std::set<std::string> forgotten;
  for (const auto& s : c.transport().sent) {
    if (s.message.type != MessageType::kForget) continue;
    for (const json& p : s.message.body.at("checkpoints")) {
      forgotten.insert(p.get<std::string>());
    }
  }
  EXPECT_EQ(forgotten.size(), 6u * 2);  // Epochs 3 and 6 of each member.
  ExpectTheEventsRebuildEveryDecision(*store, study);
  ExpectConsistent(*store, "pbt");
}

TEST(CoordinatorResumeTest, PbtAfterCrashesKeepsEveryDecisionMade) {
  const json study = json::parse(kPbtStudy);
  for (int steps : {3, 8, 14}) {
    SCOPED_TRACE("crash after " + std::to_string(steps) + " steps");
    ScratchDir dir;
    const std::string path = dir.path() + "/pbt.db";
    CrashAfter(study, path, steps);
    std::vector<ExploitRow> before;
    {
      auto store = Store::Open(path, true);
      before = store->Exploits(StudyId(*store, "pbt"));
    }
    ResumeToEnd(study, path);
    auto store = Store::Open(path);
    const int64_t id = StudyId(*store, "pbt");
    EXPECT_EQ(store->FindStudy("pbt")->state, "complete");
    // What was decided before the crash stands, unchanged.
    const std::vector<ExploitRow> after = store->Exploits(id);
    for (const ExploitRow& b : before) {
      auto it = std::find_if(after.begin(), after.end(), [&](const auto& a) {
        return a.trial == b.trial && a.epoch == b.epoch;
      });
      ASSERT_NE(it, after.end());
      EXPECT_EQ(it->parent, b.parent);
      EXPECT_EQ(it->new_params, b.new_params);
    }
    if (steps > 3) EXPECT_FALSE(before.empty());
    EXPECT_FALSE(after.empty());
    for (const TrialRow& t : store->Trials(id)) EXPECT_EQ(t.epochs, 9);
    ExpectTheEventsRebuildEveryDecision(*store, study);
    ExpectConsistent(*store, "pbt");
  }
}

}  // namespace
}  // namespace coordinator_testing
}  // namespace hpo
