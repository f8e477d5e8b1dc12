// Drives hpo::WorkerCore directly, as coordinator_test drives the
// coordinator: a fake transport that records what the worker sends, a fake
// clock the test advances, and scripted trainers. Trials run on their own
// threads as in hpo-worker; the test waits for their reports (no sleeps
// for timing, no sockets).
#include "worker/worker_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "tests/util/fake_clock.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;

class FakeTransport : public WorkerTransport {
 public:
  void Send(const std::string& bytes) override {
    try {
      sent.push_back(Decode(bytes));
    } catch (const ProtocolError& e) {
      ADD_FAILURE() << "the worker sent an invalid message: " << e.what();
    }
  }
  void Reconnect() override { ++reconnects; }

  std::vector<Message> sent;
  int reconnects = 0;
};

// What a scripted trainer does, shared by every trainer a test makes.
struct Script {
  // An epoch at which TrainEpoch throws this failure (0: none).
  int fail_at = 0;
  FailureKind fail_kind = FailureKind::kDiverged;
  // TrainEpoch blocks until the test releases this many epochs (-1: free
  // running) or the trial is cancelled.
  std::mutex mutex;
  std::condition_variable cv;
  int released = -1;
  std::vector<TrialTask> tasks;  // Every task a trainer was made for.
  // The objective each epoch reports (empty: 0.1 x epoch).
  std::vector<double> values;
  std::vector<int> best_saved;  // Epochs SaveBest was called after.

  void Release(int epochs) {
    std::lock_guard<std::mutex> lock(mutex);
    released = epochs;
    cv.notify_all();
  }
};

class ScriptedTrainer : public Trainer {
 public:
  ScriptedTrainer(Script& script, const TrialTask& task)
      : script_(script), task_(task) {}

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    if (epoch == script_.fail_at) {
      throw TrialFailure(script_.fail_kind, "scripted failure");
    }
    std::unique_lock<std::mutex> lock(script_.mutex);
    while (!cancel && script_.released >= 0 && epoch > script_.released) {
      script_.cv.wait_for(lock, std::chrono::milliseconds(5));
    }
    if (cancel) return json::object();
    if (!script_.values.empty()) {
      return {{"val_accuracy", script_.values.at(epoch - 1)}};
    }
    return {{"val_accuracy", 0.1 * epoch}};
  }
  std::string SaveBest(int epoch) override {
    std::lock_guard<std::mutex> lock(script_.mutex);
    script_.best_saved.push_back(epoch);
    return "trial-" + std::to_string(task_.trial) + "/best.pt";
  }
  json Evaluate(const std::string& split,
                const std::atomic<bool>& cancel) override {
    return {{"metrics", {{split + "_accuracy", 0.5}}},
            {"confusion", {{1, 0}, {0, 1}}},
            {"classes", {"a", "b"}}};
  }
  std::string SaveCheckpoint(int epoch) override {
    return "trial-" + std::to_string(task_.trial) + "/epoch-" +
           std::to_string(epoch) + ".pt";
  }

 private:
  Script& script_;
  TrialTask task_;
};

const char kStudy[] = R"({
  "name": "w", "seed": 1,
  "objective": {"metric": "val_accuracy", "mode": "max"},
  "trainer": {"model": "synthetic"},
  "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
  "algorithm": {"type": "random", "max_epochs": 9},
  "budget": {"max_trials": 4},
  "execution": {"heartbeat_s": 1, "lease_timeout_s": 5}
})";

// A worker core, its fakes, and the trials' wake-ups.
class Worker {
 public:
  explicit Worker(WorkerOptions options = Defaults())
      : core_(
            options, transport_, clock_,
            [this](const std::string& line) { log_.push_back(line); },
            [this] {
              std::lock_guard<std::mutex> lock(mutex_);
              ++wakes_;
              cv_.notify_all();
            },
            [this](const TrialTask& task) {
              std::lock_guard<std::mutex> lock(script_.mutex);
              script_.tasks.push_back(task);
              return std::make_unique<ScriptedTrainer>(script_, task);
            }) {}

  static WorkerOptions Defaults() {
    WorkerOptions o;
    o.connect = "tcp://127.0.0.1:1";
    o.name = "w1";
    o.host = "h";
    o.slots = 1;
    return o;
  }

  std::optional<int> Deliver(const Message& m) {
    return core_.OnMessage(Encode(m));
  }
  // Hello, then the coordinator's welcome (with `study`, kStudy's JSON by
  // default).
  void Join(const json& study = json::parse(kStudy)) {
    core_.Tick();
    ASSERT_EQ(Deliver(WelcomeMessage({7, "w", study, 1, 5})), std::nullopt);
    ASSERT_TRUE(core_.joined());
  }
  Message Assign(int64_t lease, int64_t trial, int from, int to) {
    return AssignMessage(
        {lease, trial, 1, "w", {{"lr", 0.01}}, from, to, std::nullopt});
  }
  // Forwards trial output until `done` holds (or fails the test after a
  // generous deadline: this waits for threads, it does not time them).
  void PumpUntil(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(20),
                     [this] { return wakes_ > 0; });
        wakes_ = 0;
      }
      core_.OnTrialOutput();
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL() << "timed out waiting for the trials";
      }
    }
  }
  std::vector<Message> Sent(MessageType type) const {
    std::vector<Message> out;
    for (const Message& m : transport_.sent) {
      if (m.type == type) out.push_back(m);
    }
    return out;
  }
  int Count(MessageType type) const {
    return static_cast<int>(Sent(type).size());
  }

  FakeClock clock_;
  FakeTransport transport_;
  Script script_;
  std::vector<std::string> log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int wakes_ = 0;
  WorkerCore core_;
};

TEST(WorkerCoreTest, SaysHelloUntilWelcomedThenHeartbeats) {
  Worker w;
  w.core_.Tick();
  w.core_.Tick();  // Within hello_interval_s: no second hello.
  ASSERT_EQ(w.Count(MessageType::kHello), 1);
  const json hello = w.Sent(MessageType::kHello)[0].body;
  EXPECT_EQ(hello.at("name"), "w1");
  EXPECT_EQ(hello.at("slots"), 1);
  EXPECT_EQ(hello.at("devices"), json::array({"cpu"}));
  EXPECT_EQ(hello.at("session"), w.core_.session());
  w.clock_.Advance(1.0);
  w.core_.Tick();
  EXPECT_EQ(w.Count(MessageType::kHello), 2) << "hellos repeat until answered";

  ASSERT_EQ(w.Deliver(WelcomeMessage({7, "w", json::parse(kStudy), 1, 5})),
            std::nullopt);
  EXPECT_TRUE(w.core_.joined());
  w.clock_.Advance(10);  // Hellos stop once joined...
  w.Deliver(CoordinatorHeartbeatMessage());
  w.core_.Tick();
  EXPECT_EQ(w.Count(MessageType::kHello), 2);
  EXPECT_EQ(w.Count(MessageType::kHeartbeat), 1)
      << "...and heartbeats start (heartbeat_s 1)";
  w.core_.Tick();
  EXPECT_EQ(w.Count(MessageType::kHeartbeat), 1) << "one per heartbeat_s";
}

TEST(WorkerCoreTest, TrainsToTheTargetAndFollowsDecisions) {
  Worker w;
  w.Join();
  ASSERT_EQ(w.Deliver(w.Assign(11, 3, 0, 2)), std::nullopt);
  w.PumpUntil([&] { return w.Count(MessageType::kEpoch) == 2; });
  std::vector<Message> epochs = w.Sent(MessageType::kEpoch);
  EXPECT_EQ(epochs[0].body.at("epoch"), 1);
  EXPECT_TRUE(epochs[0].body.at("checkpoint").is_null());
  EXPECT_EQ(epochs[1].body.at("checkpoint"), "trial-3/epoch-2.pt")
      << "a checkpoint at the end of the job";
  EXPECT_EQ(epochs[1].body.at("lease"), 11);
  EXPECT_EQ(epochs[1].body.at("trial"), 3);
  EXPECT_EQ(w.core_.ActiveRuns(), 1) << "the slot is held until a decision";

  // "continue" to epoch 4: the same thread trains on, no reload.
  w.Deliver(DecisionMessage(11, 3, /*go_on=*/true, 4));
  w.PumpUntil([&] { return w.Count(MessageType::kEpoch) == 4; });
  EXPECT_EQ(w.script_.tasks.size(), 1u);
  w.Deliver(DecisionMessage(11, 3, /*go_on=*/false, 4));
  EXPECT_EQ(w.core_.ActiveRuns(), 0) << "stop frees the slot at once";
  w.PumpUntil([&] { return w.core_.threads() == 0; });
  EXPECT_EQ(w.Count(MessageType::kFailure), 0);
}

// trainer.keep "best": an epoch whose objective beats every one before it
// (this job's, and the trial's best so far that the assignment carries) is
// saved with SaveBest and named in its epoch message.
TEST(WorkerCoreTest, KeepBestSavesEachEpochThatBeatsTheTrialsBest) {
  Worker w;
  json study = json::parse(kStudy);
  study["trainer"] = {{"model", "cnn"}, {"keep", "best"}};
  study["data"] = {{"shards", "shards/small"}};
  w.Join(study);
  w.script_.values = {0.3, 0.5, 0.4, 0.6};
  Message assign = w.Assign(11, 3, 0, 4);
  assign.body["best_value"] = 0.45;  // From an earlier attempt.
  ASSERT_EQ(w.Deliver(assign), std::nullopt);
  w.PumpUntil([&] { return w.Count(MessageType::kEpoch) == 4; });
  std::vector<Message> epochs = w.Sent(MessageType::kEpoch);
  for (int e : {0, 2}) {
    EXPECT_FALSE(epochs[e].body.contains("best_checkpoint")) << e + 1;
  }
  for (int e : {1, 3}) {
    EXPECT_EQ(epochs[e].body.value("best_checkpoint", ""), "trial-3/best.pt")
        << e + 1;
  }
  EXPECT_EQ(w.script_.best_saved, (std::vector<int>{2, 4}));
  EXPECT_EQ(epochs[3].body.at("checkpoint"), "trial-3/epoch-4.pt");
  w.Deliver(DecisionMessage(11, 3, /*go_on=*/false, 4));
  w.PumpUntil([&] { return w.core_.threads() == 0; });
}

TEST(WorkerCoreTest, StopsAPrunedTrialBetweenEpochs) {
  Worker w;
  w.Join();
  w.script_.Release(1);
  w.Deliver(w.Assign(12, 4, 0, 9));
  w.PumpUntil([&] { return w.Count(MessageType::kEpoch) == 1; });
  w.Deliver(DecisionMessage(12, 4, /*go_on=*/false, 1));
  w.script_.Release(9);
  w.PumpUntil([&] { return w.core_.threads() == 0; });
  EXPECT_LE(w.Count(MessageType::kEpoch), 2)
      << "at most the epoch in flight after the stop";
}

TEST(WorkerCoreTest, RefusesWorkBeyondItsSlotsAndOutsideTheStudy) {
  Worker w;
  w.Join();
  w.script_.Release(0);
  w.Deliver(w.Assign(21, 1, 0, 3));
  w.Deliver(w.Assign(22, 2, 0, 3));  // One slot only.
  ASSERT_EQ(w.Count(MessageType::kFailure), 1);
  json f = w.Sent(MessageType::kFailure)[0].body;
  EXPECT_EQ(f.at("lease"), 22);
  EXPECT_EQ(f.at("kind"), "error");
  EXPECT_EQ(f.at("message"), "the worker has no free slot");

  w.Deliver(AssignMessage(
      {23, 3, 1, "w", {{"lr", 5.0}}, 0, 3, std::nullopt}));  // lr > high.
  ASSERT_EQ(w.Count(MessageType::kFailure), 2);
  f = w.Sent(MessageType::kFailure)[1].body;
  EXPECT_EQ(f.at("lease"), 23);
  EXPECT_EQ(f.at("kind"), "config") << "checked as a study file is";
  EXPECT_EQ(w.core_.threads(), 1) << "nothing trains with it";
  w.script_.Release(9);
}

TEST(WorkerCoreTest, ReportsATrainerFailureWithItsKind) {
  Worker w;
  w.Join();
  w.script_.fail_at = 2;
  w.script_.fail_kind = FailureKind::kOom;
  w.Deliver(w.Assign(31, 5, 0, 3));
  w.PumpUntil([&] { return w.Count(MessageType::kFailure) == 1; });
  const json f = w.Sent(MessageType::kFailure)[0].body;
  EXPECT_EQ(f.at("kind"), "oom");
  EXPECT_EQ(f.at("epoch"), 1) << "the epochs completed before it failed";
  EXPECT_EQ(f.at("message"), "scripted failure");
  EXPECT_EQ(w.core_.ActiveRuns(), 0) << "a failed trial frees its slot";
}

TEST(WorkerCoreTest, EvaluatesACheckpointOnASplit) {
  Worker w;
  w.Join();
  w.Deliver(EvaluateMessage(
      {41, 6, "w", {{"lr", 0.01}}, 3, "trial-6/epoch-3.pt", "test"}));
  w.PumpUntil([&] { return w.Count(MessageType::kEvaluation) == 1; });
  const json e = w.Sent(MessageType::kEvaluation)[0].body;
  EXPECT_EQ(e.at("lease"), 41);
  EXPECT_EQ(e.at("split"), "test");
  EXPECT_EQ(e.at("metrics").at("test_accuracy"), 0.5);
  ASSERT_EQ(w.script_.tasks.size(), 1u);
  EXPECT_EQ(w.script_.tasks[0].evaluate_split, "test");
  EXPECT_EQ(w.script_.tasks[0].from_epoch, 3);
  EXPECT_EQ(w.script_.tasks[0].checkpoint, "trial-6/epoch-3.pt");
}

TEST(WorkerCoreTest, HeartbeatsListTheTrialsHoldingSlots) {
  WorkerOptions o = Worker::Defaults();
  o.slots = 2;
  Worker w(o);
  w.Join();
  w.script_.Release(0);
  w.Deliver(w.Assign(51, 1, 0, 3));
  w.Deliver(w.Assign(52, 2, 0, 3));
  w.clock_.Advance(1.5);
  w.Deliver(CoordinatorHeartbeatMessage());
  w.core_.Tick();
  ASSERT_EQ(w.Count(MessageType::kHeartbeat), 1);
  std::vector<int64_t> running =
      w.Sent(MessageType::kHeartbeat)[0].body.at("running");
  std::sort(running.begin(), running.end());
  EXPECT_EQ(running, (std::vector<int64_t>{51, 52}));
  w.script_.Release(9);
}

TEST(WorkerCoreTest, RejoinsWhenTheCoordinatorGoesSilent) {
  Worker w;
  w.Join();
  w.script_.Release(0);
  w.Deliver(w.Assign(61, 1, 0, 3));
  const int64_t session = w.core_.session();
  w.clock_.Advance(5.5);  // Past lease_timeout_s, nothing heard.
  w.core_.Tick();
  EXPECT_EQ(w.transport_.reconnects, 1) << "on a fresh connection";
  EXPECT_FALSE(w.core_.joined());
  EXPECT_NE(w.core_.session(), session) << "a new session";
  EXPECT_EQ(w.Count(MessageType::kHello), 2);
  EXPECT_EQ(w.Sent(MessageType::kHello)[1].body.at("session"),
            w.core_.session());
  EXPECT_EQ(w.core_.ActiveRuns(), 0) << "its trial is abandoned";
  w.script_.Release(9);
  w.PumpUntil([&] { return w.core_.threads() == 0; });
  EXPECT_EQ(w.Count(MessageType::kEpoch), 0)
      << "an abandoned trial reports nothing";
}

TEST(WorkerCoreTest, RejoinsWhenAsked) {
  Worker w;
  w.Join();
  w.Deliver(RejoinMessage("the coordinator does not know this worker"));
  EXPECT_FALSE(w.core_.joined());
  EXPECT_EQ(w.Count(MessageType::kHello), 2);
  EXPECT_EQ(w.transport_.reconnects, 0);
  // Work before the new welcome is not taken.
  w.Deliver(w.Assign(71, 1, 0, 3));
  EXPECT_EQ(w.core_.threads(), 0);
}

TEST(WorkerCoreTest, DoneEndsOrWaitsForTheNextStudy) {
  {
    Worker w;
    w.Join();
    EXPECT_EQ(w.Deliver(DoneMessage("w")), std::nullopt);
    ASSERT_EQ(w.Count(MessageType::kBye), 1);
    EXPECT_EQ(w.Sent(MessageType::kBye)[0].body.at("why"),
              "waiting for the next study");
    EXPECT_FALSE(w.core_.joined()) << "says hello for the next study";
  }
  WorkerOptions o = Worker::Defaults();
  o.exit_when_done = true;
  Worker w(o);
  w.Join();
  EXPECT_EQ(w.Deliver(DoneMessage("w")), 0);
  EXPECT_EQ(w.Sent(MessageType::kBye)[0].body.at("why"),
            "exiting (--exit-when-done)");
}

TEST(WorkerCoreTest, StopAbandonsTrialsAndSaysBye) {
  Worker w;
  w.Join();
  w.script_.Release(0);
  w.Deliver(w.Assign(81, 1, 0, 3));
  w.core_.Stop();
  ASSERT_EQ(w.Count(MessageType::kBye), 1);
  EXPECT_EQ(w.Sent(MessageType::kBye)[0].body.at("why"),
            "the worker was stopped");
  EXPECT_EQ(w.core_.ActiveRuns(), 0);
  w.PumpUntil([&] { return w.core_.threads() == 0; });
}

TEST(WorkerCoreTest, EndsOnARefusalOrAnotherProtocol) {
  {
    Worker w;
    w.Join();
    EXPECT_EQ(w.Deliver(ErrorMessage("bad key")), 2);
  }
  Worker w;
  json other = {{"v", kProtocolVersion + 1}, {"type", "heartbeat"}};
  EXPECT_EQ(w.core_.OnMessage(other.dump()), 2);
  EXPECT_EQ(w.core_.OnMessage("not a message"), std::nullopt)
      << "a bad message is dropped";
}

TEST(WorkerCoreTest, RefusesAStudyItCannotRun) {
  Worker w;
  w.core_.Tick();
  json study = json::parse(kStudy);
  study["algorithm"]["max_epochs"] = -1;
  EXPECT_EQ(w.Deliver(WelcomeMessage({7, "w", study, 1, 5})), 2);
  EXPECT_FALSE(w.core_.joined());
}

TEST(WorkerCoreTest, ForgetsCheckpointsInsideItsDirectoryOnly) {
  testutil::ScratchDir dir("worker_core_forget");
  namespace fs = std::filesystem;
  const fs::path root = dir.path();
  fs::create_directories(root / "ck" / "trial-1");
  std::ofstream(root / "ck" / "trial-1" / "epoch-3.pt") << "x";
  std::ofstream(root / "outside.pt") << "x";
  WorkerOptions o = Worker::Defaults();
  o.checkpoint_dir = (root / "ck").string();
  Worker w(o);
  w.Join();
  w.Deliver(ForgetMessage("w", {"trial-1/epoch-3.pt", "../outside.pt"}));
  EXPECT_FALSE(fs::exists(root / "ck" / "trial-1"))
      << "the checkpoint and its emptied trial directory";
  EXPECT_TRUE(fs::exists(root / "outside.pt"));
  bool refused = false;
  for (const std::string& line : w.log_) {
    refused = refused || line.find(
                             "refused to delete checkpoint "
                             "../outside.pt") != std::string::npos;
  }
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace hpo
