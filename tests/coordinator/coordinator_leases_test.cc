// The coordinator driven directly (coordinator_fakes.h): leases, failures and
// retries.
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

TEST(CoordinatorTest, SilentWorkerLosesItsTrialToAnotherWorker) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& dead = c.AddWorker("dead", 1);
  ASSERT_EQ(dead.jobs.size(), 1u);
  const FakeJob lost_job = dead.jobs.begin()->second;
  EXPECT_EQ(lost_job.trial, 0);
  // It reports one epoch, then goes silent.
  c.SendEpoch("dead", lost_job, 1, 0.111);
  dead.alive = false;
  FakeWorker& live = c.AddWorker("live", 1);
  ASSERT_EQ(live.jobs.size(), 1u);

  // 4.9 s of silence: still there.
  for (int i = 0; i < 49; ++i) c.Step(0.1);
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(store->Attempts(id, 0).at(0).state, "running");
  EXPECT_EQ(c.coordinator().stats().workers, 2);
  // Past lease_timeout_s (5 s) the attempt is lost.
  for (int i = 0; i < 3; ++i) c.Step(0.1);
  std::vector<AttemptRow> attempts = store->Attempts(id, 0);
  ASSERT_GE(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].state, "lost");
  EXPECT_NE(attempts[0].reason.find("lease_timeout_s"), std::string::npos)
      << attempts[0].reason;
  EXPECT_EQ(c.coordinator().stats().workers, 1);

  // A late epoch from the lost attempt: the worker is unknown now.
  c.SendEpoch("dead", lost_job, 2, 0.222);
  EXPECT_EQ(dead.Count(MessageType::kRejoin), 1);
  // Even after it says hello again (a new session), the old lease is dead.
  dead.session = 2;
  c.Hello(dead);
  c.SendEpoch("dead", lost_job, 2, 0.222);
  c.SendEpoch("dead", lost_job, 1, 0.111);

  ASSERT_TRUE(c.RunToEnd());
  attempts = store->Attempts(id, 0);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].state, "done");
  EXPECT_EQ(attempts[1].attempt, 2);
  EXPECT_NE(attempts[1].worker, "fake-dead");
  TrialRow t0 = store->Trials(id).at(0);
  EXPECT_EQ(t0.state, TrialState::kComplete);
  EXPECT_EQ(t0.attempts, 2);
  std::vector<MetricRow> metrics = store->Metrics(id, 0);
  ASSERT_EQ(metrics.size(), 3u);
  for (const MetricRow& m : metrics) {
    EXPECT_EQ(m.attempt_id, attempts[1].id) << "epoch " << m.epoch;
    EXPECT_NE(m.objective, 0.111);
    EXPECT_NE(m.objective, 0.222);
  }
  EXPECT_GE(c.coordinator().stats().dropped_messages, 3);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, HeartbeatsKeepAnIdleWorker) {
  auto store = Store::Open(":memory:");
  json study = json::parse(kRandomStudy);
  Cluster c(study, *store);
  FakeWorker& a = c.AddWorker("a", 1);
  const FakeJob job = a.jobs.begin()->second;
  // The worker trains slowly: no epoch for 20 s, but it answers the
  // coordinator's heartbeats.
  for (int i = 0; i < 200; ++i) {
    c.clock().Advance(0.1);
    c.coordinator().Tick();
    c.Deliver();
  }
  EXPECT_GE(a.Count(MessageType::kHeartbeat), 15);
  EXPECT_EQ(c.coordinator().stats().workers, 1);
  EXPECT_EQ(store->Attempts(StudyId(*store, "t"), job.trial).at(0).state,
            "running");
  ASSERT_TRUE(c.RunToEnd());
}

TEST(CoordinatorTest, HeartbeatWithoutALeaseLosesItAfterTheTimeout) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 2);
  ASSERT_EQ(a.jobs.size(), 2u);
  // The worker forgot one of its runs (e.g. the assign was lost): its
  // heartbeats list only the other one, which makes no progress either.
  const FakeJob forgotten = a.jobs.begin()->second;
  const FakeJob kept = std::next(a.jobs.begin())->second;
  a.jobs.erase(forgotten.lease);
  auto heartbeat = [&] {
    c.Send("a", MessageType::kHeartbeat,
           {{"running", json::array({kept.lease})}});
  };
  const int64_t id = StudyId(*store, "t");
  for (int i = 0; i < 49; ++i) {
    c.clock().Advance(0.1);
    heartbeat();
  }
  EXPECT_EQ(store->Attempts(id, forgotten.trial).at(0).state, "running")
      << "within lease_timeout_s of the assignment";
  for (int i = 0; i < 3; ++i) {
    c.clock().Advance(0.1);
    heartbeat();
  }
  std::vector<AttemptRow> attempts = store->Attempts(id, forgotten.trial);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, "lost");
  EXPECT_EQ(attempts[1].state, "running") << "retried on the free slot";
  EXPECT_EQ(store->Attempts(id, kept.trial).at(0).state, "running")
      << "a listed lease is kept";
  EXPECT_EQ(c.coordinator().stats().workers, 1);
  ASSERT_TRUE(c.RunToEnd());
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, ByeMidStudyRetriesTheTrialsElsewhere) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  c.Step();
  const FakeJob job = a.jobs.begin()->second;
  a.jobs.clear();
  a.alive = false;
  c.Send("a", MessageType::kBye, {{"why", "shutting down"}});
  EXPECT_EQ(c.coordinator().stats().workers, 1);
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(store->Attempts(id, job.trial).at(0).state,
            "interrupted");  // A polite leave.
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(store->Trials(id, "complete").size(), 4u);
  EXPECT_EQ(store->Trials(id).at(static_cast<size_t>(job.trial)).attempts, 2);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, MaxAttemptsExhaustedFailsTheTrial) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.set_fail([](int64_t trial, int, int epoch) -> std::optional<std::string> {
    if (trial == 1 && epoch == 2) return "error";
    return std::nullopt;
  });
  c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "t");
  std::vector<TrialRow> trials = store->Trials(id);
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[1].state, TrialState::kFailed);
  EXPECT_NE(trials[1].error.find("max_attempts"), std::string::npos)
      << trials[1].error;
  EXPECT_EQ(trials[1].attempts, 2);
  std::vector<AttemptRow> attempts = store->Attempts(id, 1);
  ASSERT_EQ(attempts.size(), 2u);
  for (const AttemptRow& a : attempts) {
    EXPECT_EQ(a.state, "failed");
    EXPECT_NE(a.reason.find("fake failure"), std::string::npos);
  }
  for (int64_t t : {0, 2, 3}) {
    EXPECT_EQ(trials[static_cast<size_t>(t)].state, TrialState::kComplete);
  }
  EXPECT_EQ(c.coordinator().stats().failed, 1);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, DivergedFailsAtOnce) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.set_fail([](int64_t trial, int, int epoch) -> std::optional<std::string> {
    if (trial == 2 && epoch == 2) return "diverged";
    return std::nullopt;
  });
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "t");
  TrialRow t2 = store->Trials(id).at(2);
  EXPECT_EQ(t2.state, TrialState::kFailed);
  EXPECT_EQ(t2.attempts, 1);
  EXPECT_NE(t2.error.find("diverged"), std::string::npos) << t2.error;
  EXPECT_EQ(store->Attempts(id, 2).size(), 1u);
  EXPECT_EQ(store->Trials(id, "complete").size(), 3u);
}

TEST(CoordinatorTest, ErrorIsRetriedFromTheStart) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.set_fail(
      [](int64_t trial, int attempt, int epoch) -> std::optional<std::string> {
        if (trial == 0 && attempt == 1 && epoch == 3) return "error";
        return std::nullopt;
      });
  c.AddWorker("a", 1);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "t");
  TrialRow t0 = store->Trials(id).at(0);
  EXPECT_EQ(t0.state, TrialState::kComplete);
  EXPECT_EQ(t0.attempts, 2);
  std::vector<AttemptRow> attempts = store->Attempts(id, 0);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, "failed");
  EXPECT_EQ(attempts[1].state, "done");
  EXPECT_EQ(attempts[1].from_epoch, 0);
  // The first attempt's two epochs were replaced by the second's.
  std::vector<MetricRow> metrics = store->Metrics(id, 0);
  ASSERT_EQ(metrics.size(), 3u);
  for (const MetricRow& m : metrics) EXPECT_EQ(m.attempt_id, attempts[1].id);
  EXPECT_EQ(store->Trials(id, "complete").size(), 4u);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, FailureFromAnotherWorkerOrLeaseIsIgnored) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  const FakeJob job = a.jobs.begin()->second;
  // "b" claims a failure of "a"'s lease; then a failure with a wrong trial.
  c.Send("b", MessageType::kFailure,
         {{"lease", job.lease},
          {"trial", job.trial},
          {"epoch", 0},
          {"kind", "diverged"},
          {"message", "not mine"}});
  c.Send("a", MessageType::kFailure,
         {{"lease", job.lease},
          {"trial", job.trial + 1},
          {"epoch", 0},
          {"kind", "diverged"},
          {"message", "wrong trial"}});
  c.Send("a", MessageType::kFailure,
         {{"lease", job.lease + 1},
          {"trial", job.trial},
          {"epoch", 0},
          {"kind", "diverged"},
          {"message", "unknown lease"}});
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(store->Attempts(id, job.trial).at(0).state, "running");
  EXPECT_EQ(c.coordinator().stats().dropped_messages, 3);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(store->Trials(id, "complete").size(), 4u);
}

}  // namespace
}  // namespace hpo
