// The coordinator driven directly (coordinator_fakes.h): bad input on the wire.
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

TEST(CoordinatorTest, BadBytesAreDroppedAndTheStudyFinishes) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 2);
  c.Step();
  const size_t before = a.received.size();
  c.SendBytes("a", "");
  c.SendBytes("a", "\xff\x00garbage");
  c.SendBytes("a", "{\"v\": 1, \"type\": \"epoch\"");  // Cut short.
  c.SendBytes("a", std::string(kMaxMessageBytes + 1, '{'));
  c.SendBytes("a", R"({"v": 1, "type": "explode"})");
  c.SendBytes("a", R"({"v": 1, "type": "epoch", "lease": "x"})");
  c.SendBytes("a", "[1, 2, 3]");
  // A message type only the coordinator sends.
  c.Send("a", MessageType::kAssign,
         {{"lease", 1},
          {"trial", 0},
          {"attempt", 1},
          {"study", "t"},
          {"params", json::object()},
          {"from_epoch", 0},
          {"to_epoch", 1}});
  EXPECT_EQ(a.received.size(), before) << "no replies to dropped messages";
  EXPECT_EQ(c.coordinator().stats().dropped_messages, 8);

  // A different protocol version gets an error reply.
  c.SendBytes("a", R"({"v": 99, "type": "heartbeat"})");
  ASSERT_EQ(a.received.size(), before + 1);
  EXPECT_EQ(a.received.back().type, MessageType::kError);
  EXPECT_NE(
      a.received.back().body["message"].get<std::string>().find("version"),
      std::string::npos);
  EXPECT_EQ(c.coordinator().stats().dropped_messages, 9);

  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  EXPECT_EQ(store->Trials(StudyId(*store, "t"), "complete").size(), 4u);
  ExpectConsistent(*store, "t");
}

std::string Msgpack(const json& body) {
  std::vector<uint8_t> bytes = json::to_msgpack(body);
  return std::string(bytes.begin(), bytes.end());
}

TEST(CoordinatorTest, HostileMessagesNeitherThrowNorCrash) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 1);
  const FakeJob job = a.jobs.begin()->second;
  const std::string bad_utf8 = "\xff\xfe";
  std::vector<std::string> hostile = {
      // A hello whose devices, name and host are not UTF-8.
      Msgpack({{"v", 1},
               {"type", "hello"},
               {"name", bad_utf8},
               {"host", bad_utf8},
               {"devices", {bad_utf8}},
               {"slots", 1},
               {"session", 5}}),
      // An unknown type that is not UTF-8.
      Msgpack({{"v", 1}, {"type", bad_utf8}}),
      // An epoch of the live lease with a metric name that is not UTF-8.
      Msgpack({{"v", 1},
               {"type", "epoch"},
               {"lease", job.lease},
               {"trial", job.trial},
               {"epoch", 1},
               {"metrics", {{bad_utf8, 1.0}, {"val_accuracy", 0.5}}}}),
      // A failure whose message is not UTF-8.
      Msgpack({{"v", 1},
               {"type", "failure"},
               {"lease", job.lease},
               {"trial", job.trial},
               {"epoch", 0},
               {"kind", "error"},
               {"message", bad_utf8}}),
      // A million nested arrays (under the size limit).
      Msgpack({{"v", 1}, {"type", "heartbeat"}}) + "\xa1x" +
          std::string(kMaxMessageBytes - 40, '\x91') + '\x00',
  };
  hostile[4][0] = static_cast<char>(0x83);  // Three entries in that map.
  for (size_t i = 0; i < hostile.size(); ++i) {
    EXPECT_NO_THROW(c.SendBytes("a", hostile[i])) << "message " << i;
  }
  EXPECT_EQ(c.coordinator().stats().dropped_messages,
            static_cast<int64_t>(hostile.size()));
  EXPECT_TRUE(store->Metrics(StudyId(*store, "t"), job.trial).empty());
  ASSERT_TRUE(c.RunToEnd());
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, UnknownIdentityIsAskedToRejoin) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.AddWorker("a", 1);
  auto rejoins = [&c] { return c.SentOf(MessageType::kRejoin).size(); };
  c.coordinator().OnMessage(
      "ghost", Encode(MakeMessage(MessageType::kHeartbeat, json::object())));
  EXPECT_EQ(rejoins(), 1u);
  c.coordinator().OnMessage(
      "ghost",
      Encode(MakeMessage(MessageType::kEpoch, {{"lease", 7},
                                               {"trial", 0},
                                               {"epoch", 1},
                                               {"metrics", json::object()}})));
  EXPECT_EQ(rejoins(), 2u);
  c.coordinator().OnMessage(
      "ghost", Encode(MakeMessage(MessageType::kFailure, {{"lease", 7},
                                                          {"trial", 0},
                                                          {"epoch", 0},
                                                          {"kind", "error"},
                                                          {"message", "x"}})));
  EXPECT_EQ(rejoins(), 3u);
  for (const Sent& s : c.SentOf(MessageType::kRejoin)) {
    EXPECT_EQ(s.identity, "ghost");
  }
  const int64_t id = StudyId(*store, "t");
  EXPECT_TRUE(store->Metrics(id, 0).empty());
  EXPECT_EQ(store->Attempts(id).size(), 1u);
  EXPECT_EQ(c.coordinator().stats().workers, 1);
  EXPECT_EQ(c.coordinator().stats().dropped_messages, 3);
}

TEST(CoordinatorTest, HelloAgainWithTheSameSessionKeepsTheAttempts) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 2);
  ASSERT_EQ(a.jobs.size(), 2u);
  c.Step();
  c.Hello(a);  // A repeated hello (e.g. the welcome was slow).
  EXPECT_EQ(a.Count(MessageType::kWelcome), 2);
  EXPECT_EQ(a.Count(MessageType::kAssign), 2) << "no extra work: slots full";
  const int64_t id = StudyId(*store, "t");
  for (const AttemptRow& row : store->Attempts(id)) {
    EXPECT_EQ(row.state, "running");
  }
  EXPECT_EQ(c.coordinator().stats().workers, 1);
  ASSERT_TRUE(c.RunToEnd());
  for (const TrialRow& t : store->Trials(id)) EXPECT_EQ(t.attempts, 1);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, HelloWithANewSessionLosesTheOldAttempts) {
  auto store = Store::Open(":memory:");
  json study = json::parse(kRandomStudy);
  study["execution"]["max_attempts"] = 3;
  Cluster c(study, *store);
  FakeWorker& a = c.AddWorker("a", 2);
  ASSERT_EQ(a.jobs.size(), 2u);
  std::map<int64_t, FakeJob> old_jobs = a.jobs;
  c.Step();
  // The worker restarted: its old runs are gone.
  a.jobs.clear();
  a.session = 2;
  c.Hello(a);
  const int64_t id = StudyId(*store, "t");
  for (const auto& [lease, job] : old_jobs) {
    std::vector<AttemptRow> attempts = store->Attempts(id, job.trial);
    ASSERT_EQ(attempts.size(), 2u);
    EXPECT_EQ(attempts[0].state, "lost");
    EXPECT_EQ(attempts[1].state, "running");
    EXPECT_EQ(attempts[1].from_epoch, 0);
    EXPECT_EQ(attempts[1].worker, "fake-a");
  }
  EXPECT_EQ(a.jobs.size(), 2u) << "the same trials again, on new leases";
  for (const auto& [lease, job] : a.jobs) {
    EXPECT_EQ(old_jobs.count(lease), 0u);
    EXPECT_EQ(job.attempt, 2);
  }
  // A late epoch of an old lease is ignored.
  const FakeJob& stale = old_jobs.begin()->second;
  c.SendEpoch("a", stale, 2, 0.333);
  ASSERT_TRUE(c.RunToEnd());
  for (const MetricRow& m : store->Metrics(id, -1)) {
    EXPECT_NE(m.objective, 0.333);
  }
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, DuplicateAndOutOfOrderEpochsAreNotCounted) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 1);
  const FakeJob job = a.jobs.begin()->second;
  c.SendEpoch("a", job, 1);
  c.SendEpoch("a", job, 1, 0.9);  // A duplicate with another value.
  c.SendEpoch("a", job, 3);       // Skips epoch 2.
  c.SendEpoch("a", job, 2);
  c.SendEpoch("a", job, 2);
  c.SendEpoch("a", job, 1);
  const int64_t id = StudyId(*store, "t");
  EXPECT_EQ(c.coordinator().stats().epochs, 2);
  std::vector<MetricRow> metrics = store->Metrics(id, job.trial);
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_NE(metrics[0].objective, 0.9);
  // Trial rows are written with each batch commit.
  c.clock().Advance(0.1);
  c.coordinator().Tick();
  EXPECT_EQ(store->Trials(id).at(static_cast<size_t>(job.trial)).epochs, 2);
  EXPECT_EQ(c.coordinator().stats().dropped_messages, 4);
  // The scheduler saw each epoch once: its event log has two epoch events.
  int epoch_events = 0;
  for (const std::string& e : store->Events(id)) {
    epoch_events += json::parse(e)["type"] == "epoch";
  }
  EXPECT_EQ(epoch_events, 2);

  a.jobs.begin()->second.epoch = 2;
  // Epoch 3 ends the job; repeating it after the end is stale.
  c.SendEpoch("a", job, 3);
  c.SendEpoch("a", job, 3);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().stats().epochs, 12);
  ExpectConsistent(*store, "t");
}

TEST(CoordinatorTest, EpochBeyondTheTargetIsDropped) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  FakeWorker& a = c.AddWorker("a", 1);
  FakeJob job = a.jobs.begin()->second;
  for (int e = 1; e <= 3; ++e) c.SendEpoch("a", job, e);
  // The job ended at epoch 3 (to_epoch); the coordinator said stop.
  c.SendEpoch("a", job, 4);
  EXPECT_EQ(store->Metrics(StudyId(*store, "t"), job.trial).size(), 3u);
}

TEST(CoordinatorTest, NanObjectiveIsRecordedAsMissing) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kRandomStudy), *store);
  c.set_value([](const json& params, int64_t trial, int epoch) {
    return trial == 0 ? std::nan("") : DefaultValue(params, trial, epoch);
  });
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "t");
  TrialRow t0 = store->Trials(id).at(0);
  EXPECT_FALSE(t0.value.has_value());
  EXPECT_FALSE(t0.best_value.has_value());
  for (const MetricRow& m : store->Metrics(id, 0)) {
    EXPECT_FALSE(m.objective.has_value());
  }
  EXPECT_NE(c.coordinator().stats().best_trial, 0);
}

}  // namespace
}  // namespace hpo
