// The coordinator driven directly (coordinator_fakes.h): dispatch and a whole
// study.
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

TEST(CoordinatorTest, HelloGetsWelcomeAndAssignsUpToSlots) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 3);
  ASSERT_GE(a.received.size(), 1u);
  const Message& welcome = a.received[0];
  EXPECT_EQ(welcome.type, MessageType::kWelcome);
  EXPECT_EQ(welcome.body["study"], "t");
  EXPECT_EQ(welcome.body["spec"], json::parse(kRandomStudy));
  EXPECT_EQ(welcome.body["heartbeat_s"], 1);
  EXPECT_EQ(welcome.body["lease_timeout_s"], 5);
  EXPECT_EQ(a.Count(MessageType::kAssign), 3);
  std::set<int64_t> trials;
  for (const auto& [lease, job] : a.jobs) {
    trials.insert(job.trial);
    EXPECT_EQ(job.attempt, 1);
    EXPECT_EQ(job.epoch, 0);
    EXPECT_EQ(job.to_epoch, 3);
    double lr = job.params.at("lr").get<double>();
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
  }
  EXPECT_EQ(trials, (std::set<int64_t>{0, 1, 2}));
  for (const Message& m : a.received) {
    if (m.type != MessageType::kAssign) continue;
    EXPECT_EQ(m.body["study"], "t");
    EXPECT_TRUE(m.body["checkpoint"].is_null());
  }

  // Only one trial of the budget of 4 is left for the next worker.
  FakeWorker& b = c.AddWorker("b", 2);
  EXPECT_EQ(b.received.at(0).type, MessageType::kWelcome);
  EXPECT_EQ(b.Count(MessageType::kAssign), 1);
  EXPECT_EQ(b.jobs.begin()->second.trial, 3);
  EXPECT_NE(b.received[0].body["worker_id"], a.received[0].body["worker_id"]);

  CoordinatorStats s = c.coordinator().stats();
  EXPECT_EQ(s.workers, 2);
  EXPECT_EQ(s.slots, 5);
  EXPECT_EQ(s.running, 4);
  EXPECT_EQ(s.planned_trials, 4);

  const int64_t id = StudyId(*store, "t");
  std::vector<AttemptRow> attempts = store->Attempts(id);
  ASSERT_EQ(attempts.size(), 4u);
  for (const AttemptRow& row : attempts) EXPECT_EQ(row.state, "running");
  for (const TrialRow& t : store->Trials(id)) {
    EXPECT_EQ(t.state, TrialState::kRunning);
  }
}

TEST(CoordinatorTest, RandomStudyFinishes) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(store->FindStudy("t")->state, "complete");
  std::vector<TrialRow> trials = store->Trials(id);
  ASSERT_EQ(trials.size(), 4u);
  for (const TrialRow& t : trials) {
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.epochs, 3);
    EXPECT_EQ(t.attempts, 1);
    ASSERT_TRUE(t.value.has_value());
    EXPECT_DOUBLE_EQ(*t.value, DefaultValue(t.params, t.number, 3));
    EXPECT_EQ(t.best_value, t.value);
    EXPECT_EQ(store->Metrics(id, t.number).size(), 3u);
  }
  ExpectConsistent(*store, "t");
  for (const AttemptRow& a : store->Attempts(id)) EXPECT_EQ(a.state, "done");
  EXPECT_TRUE(c.worker("a").done);
  EXPECT_TRUE(c.worker("b").done);

  CoordinatorStats s = c.coordinator().stats();
  EXPECT_EQ(s.trials, 4);
  EXPECT_EQ(s.complete, 4);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.epochs, 12);
  EXPECT_EQ(s.dropped_messages, 0);
  double best = -1;
  int64_t best_trial = -1;
  for (const TrialRow& t : trials) {
    if (*t.value > best) {
      best = *t.value;
      best_trial = t.number;
    }
  }
  EXPECT_EQ(s.best_trial, best_trial);
  EXPECT_DOUBLE_EQ(s.best_value, best);

  // After the end: a worker that missed "done" hears it again (after a
  // heartbeat or a hello); workers leave with "bye", and a hello after that
  // is ignored.
  EXPECT_FALSE(c.coordinator().drained());
  EXPECT_EQ(c.worker("a").Count(MessageType::kDone), 1);
  c.Send("a", MessageType::kHeartbeat, json::object());
  EXPECT_EQ(c.worker("a").Count(MessageType::kDone), 2);
  c.Hello(c.worker("a"));
  EXPECT_EQ(c.worker("a").Count(MessageType::kDone), 3);
  c.Send("a", MessageType::kBye, {{"why", "study over"}});
  const size_t sent = c.transport().sent.size();
  c.Hello(c.worker("a"));
  c.coordinator().Tick();
  EXPECT_EQ(c.transport().sent.size(), sent);
  EXPECT_FALSE(c.coordinator().drained());
  c.Send("b", MessageType::kBye, {{"why", "study over"}});
  EXPECT_TRUE(c.coordinator().drained());
  EXPECT_EQ(c.transport().sent.size(), sent);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, WorkerJoiningLaterGetsWork) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  for (int i = 0; i < 10; ++i) c.Step();  // Nobody there yet.
  EXPECT_FALSE(c.coordinator().finished());
  EXPECT_TRUE(c.transport().sent.empty());
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(store->Trials(StudyId(*store, "t"), "complete").size(), 4u);
}

TEST(CoordinatorTest, HyperbandFinishesWithThePlannedTrialsAndEpochs) {
  const json study = json::parse(kHyperbandStudy);
  const json plan = NewScheduler(ParseStudy(study, "hb.json"))->Plan();
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  c.AddWorker("a", 1);
  c.AddWorker("b", 2);
  c.AddWorker("c", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "hb");
  std::vector<TrialRow> trials = store->Trials(id);
  EXPECT_EQ(static_cast<int64_t>(trials.size()), PlannedTrials(plan));
  EXPECT_EQ(static_cast<int64_t>(store->Metrics(id, -1).size()),
            plan["total_epochs"].get<int64_t>());
  EXPECT_EQ(c.coordinator().stats().epochs, plan["total_epochs"]);
  EXPECT_EQ(c.coordinator().stats().planned_trials, PlannedTrials(plan));
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].number, static_cast<int64_t>(i));
  }
  int complete = 0;
  int64_t planned_complete = 0;  // The last rung of each bracket.
  for (const json& b : plan["brackets"]) {
    planned_complete += b["rungs"].back()["trials"].get<int64_t>();
  }
  for (const TrialRow& t : trials) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << ToString(t.state);
    complete += t.state == TrialState::kComplete;
    if (t.state == TrialState::kComplete) {
      EXPECT_EQ(t.epochs, 9);
    }
  }
  EXPECT_EQ(complete, planned_complete);
  ExpectConsistent(*store, "hb");
}

TEST(CoordinatorTest, PromotedTrialContinuesOnTheSameWorker) {
  const json study = json::parse(kHyperbandStudy);
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  // Later trials are better, so the last trial of a rung to finish on a
  // single worker is the first one promoted: it continues where it is.
  c.set_value([](const json&, int64_t trial, int epoch) {
    return 0.01 * static_cast<double>(trial) + 0.001 * epoch;
  });
  c.AddWorker("a", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_GT(c.continues(), 0);
  const int64_t id = StudyId(*store, "hb");
  // In the first bracket (trials 0-8, rungs at 1, 3, 9 epochs), trial 8
  // finishes rung 0 last and is the best: one attempt covers epochs 0-3.
  std::vector<AttemptRow> attempts = store->Attempts(id, 8);
  ASSERT_GE(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].from_epoch, 0);
  EXPECT_EQ(attempts[0].to_epoch, 3);
  EXPECT_EQ(attempts[0].state, "done");
  bool continued = false;
  for (const Message& m : c.worker("a").received) {
    if (m.type == MessageType::kDecision && m.body["trial"] == 8 &&
        m.body["action"] == "continue") {
      continued = true;
      EXPECT_EQ(m.body["to_epoch"], 3);
    }
  }
  EXPECT_TRUE(continued);
  // Every epoch of trial 8 went through: 9 epochs over its attempts.
  TrialRow t8 = store->Trials(id).at(8);
  EXPECT_EQ(t8.state, TrialState::kComplete);
  EXPECT_EQ(t8.epochs, 9);
  EXPECT_EQ(t8.attempts, static_cast<int>(attempts.size()));
  ExpectConsistent(*store, "hb");
}

}  // namespace
}  // namespace hpo
