// Drives hpo::Coordinator directly: a fake clock that the test advances, a
// fake transport that records what the coordinator sends, and fake workers
// that answer assignments with epoch reports. No sockets, no sleeps.
#include "coordinator/coordinator.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"
#include "common/store.h"
#include "common/study_spec.h"
#include "search/scheduler.h"
#include "tests/util/fake_clock.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;

// ---- Fakes ----

struct Sent {
  std::string identity;
  Message message;
};

class FakeTransport : public Transport {
 public:
  void Send(const std::string& identity, const std::string& bytes) override {
    try {
      sent.push_back({identity, Decode(bytes)});
    } catch (const ProtocolError& e) {
      ADD_FAILURE() << "the coordinator sent an invalid message: " << e.what();
    }
  }
  std::vector<Sent> sent;
};

struct FakeJob {
  int64_t lease = 0;
  int64_t arrival = 0;  // Order of assignment: leases are random numbers.
  int64_t trial = 0;
  int attempt = 0;
  json params;
  int epoch = 0;  // Epochs completed.
  int to_epoch = 0;
};

struct FakeWorker {
  std::string identity;
  int64_t session = 1;
  int slots = 1;
  bool alive = true;                // Trains and answers heartbeats.
  std::map<int64_t, FakeJob> jobs;  // By lease.
  std::vector<Message> received;
  std::vector<json> evaluations;  // "evaluate" bodies not yet answered.
  bool done = false;
  int rejoins = 0;
  int errors = 0;

  int Count(MessageType type) const {
    int n = 0;
    for (const Message& m : received) n += m.type == type;
    return n;
  }
};

// The objective a fake worker reports: a deterministic function of the
// trial's parameters and the epoch.
using ValueFn =
    std::function<double(const json& params, int64_t trial, int epoch)>;
// Whether a fake worker fails (with this kind) instead of reporting `epoch`.
using FailFn = std::function<std::optional<std::string>(
    int64_t trial, int attempt, int epoch)>;

double DefaultValue(const json& params, int64_t trial, int epoch) {
  double quality =
      1.0 - std::abs(std::log10(params.at("lr").get<double>()) + 2.5) / 3.0;
  return quality * (1.0 - std::pow(0.5, epoch));
}

const char kRandomStudy[] = R"({
  "name": "t", "seed": 1,
  "objective": {"metric": "val_accuracy", "mode": "max"},
  "trainer": {"model": "synthetic"},
  "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
  "algorithm": {"type": "random", "max_epochs": 3},
  "budget": {"max_trials": 4},
  "execution": {"max_attempts": 2, "heartbeat_s": 1, "lease_timeout_s": 5}
})";

const char kHyperbandStudy[] = R"({
  "name": "hb", "seed": 3,
  "objective": {"metric": "val_accuracy", "mode": "max"},
  "trainer": {"model": "synthetic"},
  "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
  "algorithm": {"type": "hyperband", "min_epochs": 1, "max_epochs": 9,
                "eta": 3},
  "execution": {"max_attempts": 2, "heartbeat_s": 1, "lease_timeout_s": 5}
})";

// A coordinator, its fakes and a set of fake workers.
class Cluster {
 public:
  Cluster(const json& study, Store& store, bool resume = false)
      : store_(store),
        spec_(ParseStudy(study, "test.json")),
        coordinator_(std::make_unique<Coordinator>(
            spec_, study, study.dump(), store, clock_, transport_, resume,
            [this](const std::string& line) { log_.push_back(line); })) {}

  Coordinator& coordinator() { return *coordinator_; }
  FakeClock& clock() { return clock_; }
  FakeTransport& transport() { return transport_; }
  const StudySpec& spec() const { return spec_; }
  const std::vector<std::string>& log() const { return log_; }
  FakeWorker& worker(const std::string& identity) {
    return workers_.at(identity);
  }

  void set_value(ValueFn value) { value_ = std::move(value); }
  // Epoch reports at the end of a job name a checkpoint, as the real
  // trainer's do.
  void set_checkpoints(bool on) { checkpoints_ = on; }
  // How a fake worker answers an evaluation: with a failure of this kind,
  // or (nullopt) with results.
  using EvalFn = std::function<std::optional<std::string>(int64_t trial)>;
  void set_evaluate(EvalFn fn) { evaluate_ = std::move(fn); }
  void set_fail(FailFn fail) { fail_ = std::move(fail); }

  // Hands raw bytes from `identity` to the coordinator, then delivers what
  // it sent.
  void SendBytes(const std::string& identity, const std::string& bytes) {
    coordinator_->OnMessage(identity, bytes);
    Deliver();
  }
  void Send(const std::string& identity, MessageType type, json fields) {
    SendBytes(identity, Encode(MakeMessage(type, std::move(fields))));
  }

  // A worker joins with a hello.
  FakeWorker& AddWorker(const std::string& identity, int slots,
                        int64_t session = 1) {
    FakeWorker& w = workers_[identity];
    w.identity = identity;
    w.slots = slots;
    w.session = session;
    Hello(w);
    return w;
  }
  void Hello(FakeWorker& w) {
    Send(w.identity, MessageType::kHello,
         {{"name", "fake-" + w.identity},
          {"host", "localhost"},
          {"devices", json::array({"cpu"})},
          {"slots", w.slots},
          {"session", w.session},
          {"pid", 1}});
  }

  // Routes what the coordinator sent to the fake workers; live workers
  // answer heartbeats and rejoin requests at once.
  void Deliver() {
    while (delivered_ < transport_.sent.size()) {
      Sent s = transport_.sent[delivered_++];
      auto it = workers_.find(s.identity);
      if (it == workers_.end()) continue;
      FakeWorker& w = it->second;
      w.received.push_back(s.message);
      const json& b = s.message.body;
      switch (s.message.type) {
        case MessageType::kAssign: {
          FakeJob job;
          job.lease = b.at("lease").get<int64_t>();
          job.trial = b.at("trial").get<int64_t>();
          job.attempt = b.at("attempt").get<int>();
          job.params = b.at("params");
          job.epoch = b.at("from_epoch").get<int>();
          job.to_epoch = b.at("to_epoch").get<int>();
          job.arrival = ++arrivals_;
          EXPECT_EQ(w.jobs.count(job.lease), 0u) << "lease handed out twice";
          w.jobs[job.lease] = job;
          EXPECT_LE(static_cast<int>(w.jobs.size()), w.slots)
              << "more assignments than slots for " << w.identity;
          break;
        }
        case MessageType::kDecision: {
          auto job = w.jobs.find(b.at("lease").get<int64_t>());
          if (job == w.jobs.end()) break;
          if (b.at("action") == "continue") {
            ++continues_;
            EXPECT_GT(b.at("to_epoch").get<int>(), job->second.to_epoch);
            job->second.to_epoch = b.at("to_epoch").get<int>();
          } else {
            w.jobs.erase(job);
          }
          break;
        }
        case MessageType::kHeartbeat:
          if (w.alive) {
            json running = json::array();
            for (const auto& [lease, job] : w.jobs) running.push_back(lease);
            coordinator_->OnMessage(
                w.identity, Encode(MakeMessage(MessageType::kHeartbeat,
                                               {{"running", running}})));
          }
          break;
        case MessageType::kDone:
          w.done = true;
          break;
        case MessageType::kEvaluate:
          w.evaluations.push_back(b);
          break;
        case MessageType::kRejoin:
          ++w.rejoins;
          if (w.alive) {
            w.jobs.clear();
            ++w.session;
            Hello(w);
          }
          break;
        case MessageType::kError:
          ++w.errors;
          break;
        default:
          break;
      }
    }
  }

  // Answers the evaluations `w` was asked for.
  void Evaluate(FakeWorker& w) {
    std::vector<json> pending = std::move(w.evaluations);
    w.evaluations.clear();
    for (const json& b : pending) {
      std::optional<std::string> kind =
          evaluate_ ? evaluate_(b.at("trial").get<int64_t>()) : std::nullopt;
      if (kind) {
        Send(w.identity, MessageType::kFailure,
             {{"lease", b.at("lease")},
              {"trial", b.at("trial")},
              {"epoch", b.at("epoch")},
              {"kind", *kind},
              {"message", "fake evaluation failure"}});
        continue;
      }
      Send(w.identity, MessageType::kEvaluation,
           {{"lease", b.at("lease")},
            {"trial", b.at("trial")},
            {"split", b.at("split")},
            {"metrics",
             {{"test_loss", 0.75},
              {"test_accuracy", 0.625},
              {"test_track_accuracy", 0.5},
              {"samples", 8},
              {"tracks", 4}}},
            {"confusion", {{3, 1}, {2, 2}}},
            {"classes", {"Rock", "Folk"}}});
    }
  }

  // One epoch of every job of `w` (or a failure, if fail_ says so), in the
  // order the jobs arrived, so that a run does not depend on the random
  // lease numbers.
  void Train(FakeWorker& w) {
    std::vector<std::pair<int64_t, int64_t>> by_arrival;
    for (const auto& [lease, job] : w.jobs) {
      by_arrival.emplace_back(job.arrival, lease);
    }
    std::sort(by_arrival.begin(), by_arrival.end());
    std::vector<int64_t> leases;
    for (const auto& [arrival, lease] : by_arrival) leases.push_back(lease);
    for (int64_t lease : leases) {
      auto it = w.jobs.find(lease);
      if (it == w.jobs.end() || it->second.epoch >= it->second.to_epoch) {
        continue;
      }
      FakeJob& job = it->second;
      const int epoch = job.epoch + 1;
      std::optional<std::string> kind =
          fail_ ? fail_(job.trial, job.attempt, epoch) : std::nullopt;
      if (kind) {
        const int64_t trial = job.trial;
        w.jobs.erase(it);
        Send(w.identity, MessageType::kFailure,
             {{"lease", lease},
              {"trial", trial},
              {"epoch", epoch - 1},
              {"kind", *kind},
              {"message", "fake failure"}});
        continue;
      }
      job.epoch = epoch;
      SendEpoch(w.identity, job, epoch);
    }
  }

  void SendEpoch(const std::string& identity, const FakeJob& job, int epoch,
                 std::optional<double> value = std::nullopt) {
    const double v = value ? *value : value_(job.params, job.trial, epoch);
    ++epoch_reports_;
    json checkpoint = nullptr;
    if (checkpoints_ && epoch == job.to_epoch) {
      checkpoint = "hb/trial-" + std::to_string(job.trial) + "/epoch-" +
                   std::to_string(epoch) + ".pt";
    }
    Send(identity, MessageType::kEpoch,
         {{"lease", job.lease},
          {"trial", job.trial},
          {"epoch", epoch},
          {"metrics", {{"val_accuracy", v}, {"train_loss", 1 - v}}},
          {"checkpoint", checkpoint}});
  }

  // Every live worker trains one epoch of each of its jobs; then time
  // passes and the coordinator ticks.
  void Step(double dt = 0.05) {
    for (auto& [identity, w] : workers_) {
      if (w.alive) Train(w);
      if (w.alive) Evaluate(w);
    }
    clock_.Advance(dt);
    coordinator_->Tick();
    Deliver();
  }

  // Steps until the study finishes; false if it does not within `max_steps`.
  bool RunToEnd(int max_steps = 5000) {
    for (int i = 0; i < max_steps && !coordinator_->finished(); ++i) Step();
    return coordinator_->finished();
  }

  // Messages of `type` sent to anyone.
  std::vector<Sent> SentOf(MessageType type) const {
    std::vector<Sent> out;
    for (const Sent& s : transport_.sent) {
      if (s.message.type == type) out.push_back(s);
    }
    return out;
  }

  int continues() const { return continues_; }
  int epoch_reports() const { return epoch_reports_; }

  // Destroys the coordinator without Stop() (the store is left as is).
  void Crash() { coordinator_.reset(); }

 private:
  Store& store_;
  FakeClock clock_;
  FakeTransport transport_;
  std::vector<std::string> log_;
  const StudySpec spec_;
  std::map<std::string, FakeWorker> workers_;
  ValueFn value_ = DefaultValue;
  FailFn fail_;
  int64_t arrivals_ = 0;  // Jobs assigned so far, over all workers.
  EvalFn evaluate_;
  bool checkpoints_ = false;
  size_t delivered_ = 0;
  int continues_ = 0;
  int epoch_reports_ = 0;
  std::unique_ptr<Coordinator> coordinator_;
};

// A directory that exists for the life of the object.
// A scratch directory named for this suite.
class ScratchDir : public testutil::ScratchDir {
 public:
  ScratchDir() : testutil::ScratchDir("hpo_coord") {}
};

int64_t StudyId(Store& store, const std::string& name) {
  std::optional<StudyRow> s = store.FindStudy(name);
  return s ? s->id : -1;
}

// Trial number -> parameters.
std::map<int64_t, json> TrialParams(Store& store, const std::string& name) {
  std::map<int64_t, json> out;
  for (const TrialRow& t : store.Trials(StudyId(store, name))) {
    out[t.number] = t.params;
  }
  return out;
}

// Checks the recorded results of a finished study: every trial final, and
// as many metric rows as epochs (each epoch 1..epochs once).
void ExpectConsistent(Store& store, const std::string& name) {
  const int64_t id = StudyId(store, name);
  ASSERT_GE(id, 0);
  std::map<int64_t, std::vector<int>> epochs;
  for (const MetricRow& m : store.Metrics(id, -1)) {
    epochs[m.trial].push_back(m.epoch);
  }
  for (const TrialRow& t : store.Trials(id)) {
    EXPECT_TRUE(IsFinal(t.state))
        << "trial " << t.number << " is " << ToString(t.state);
    std::vector<int> expected;
    for (int e = 1; e <= t.epochs; ++e) expected.push_back(e);
    EXPECT_EQ(epochs[t.number], expected) << "trial " << t.number;
  }
  for (const AttemptRow& a : store.Attempts(id)) {
    EXPECT_NE(a.state, "running")
        << "attempt " << a.id << " of trial " << a.trial;
    EXPECT_TRUE(a.ended_at.has_value());
  }
}

int64_t PlannedTrials(const json& plan) {
  if (plan.contains("trials")) return plan["trials"].get<int64_t>();
  int64_t n = 0;
  for (const json& b : plan.at("brackets")) {
    n += b.at("rungs").at(0).at("trials").get<int64_t>();
  }
  return n;
}

// ---- Dispatch and a whole study ----

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

// ---- Leases, failures and retries ----

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

// ---- Bad input on the wire ----

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

// Defined with the resume tests below.
std::map<int64_t, json> Uninterrupted(const json& study);
void ResumeToEnd(const json& study, const std::string& path);
void CrashAfter(const json& study, const std::string& path, int steps);

// ---- Every algorithm, with failures and workers coming and going ----

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

// ---- Stopping and resuming ----

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

// Runs `study` from scratch on a fresh in-memory store with the standard
// workers; returns trial number -> params.
std::map<int64_t, json> Uninterrupted(const json& study) {
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  c.AddWorker("a", 1);
  c.AddWorker("b", 2);
  EXPECT_TRUE(c.RunToEnd());
  return TrialParams(*store, study["name"]);
}

// Resumes `study` from `path` with new workers and runs it to the end.
void ResumeToEnd(const json& study, const std::string& path) {
  auto store = Store::Open(path);
  Cluster c(study, *store, /*resume=*/true);
  EXPECT_FALSE(c.coordinator().finished());
  c.AddWorker("c", 2);
  c.AddWorker("d", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
}

// Checks a resumed study against an uninterrupted run of the same file.
void ExpectSameAsUninterrupted(const json& study, const std::string& path) {
  auto store = Store::Open(path);
  const std::string name = study["name"];
  EXPECT_EQ(store->FindStudy(name)->state, "complete");
  std::map<int64_t, json> resumed = TrialParams(*store, name);
  EXPECT_EQ(resumed, Uninterrupted(study));
  ExpectConsistent(*store, name);
  if (study["algorithm"]["type"] == "hyperband") {
    const json plan = NewScheduler(ParseStudy(study, "s.json"))->Plan();
    EXPECT_EQ(
        static_cast<int64_t>(store->Metrics(StudyId(*store, name), -1).size()),
        plan["total_epochs"].get<int64_t>());
  }
}

// Runs `study` in a child process on the file `path` for `steps` steps and
// kills it there (no destructors run: the open batch is lost, as in a
// crash).
// Runs `session` in a child process. The session ends it with _exit(code)
// while its Store is still open, so nothing left uncommitted reaches the
// file: a crash. (5 if it throws, 6 if it returns.) Expects code 0.
void RunCrashingSession(const std::function<void()>& session) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      session();
    } catch (...) {
      _exit(5);
    }
    _exit(6);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child did not crash mid-study";
}

void CrashAfter(const json& study, const std::string& path, int steps) {
  RunCrashingSession([&] {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.AddWorker("b", 2);
    // Steps of 0.07 s: a batch is committed every third step.
    for (int i = 0; i < steps; ++i) c.Step(0.07);
    // Make sure some writes are in flight, not yet committed.
    for (int k = 0;
         k < 300 && store->pending_writes() == 0 && !c.coordinator().finished();
         ++k) {
      c.Step(0.001);
    }
    int code = 0;
    if (c.coordinator().finished()) code = 3;
    if (store->pending_writes() == 0) code = 4;
    _exit(code);  // With the store open: its batch is never committed.
  });
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
  ScratchDir dir;
  const std::string path = dir.path() + "/hb.db";
  const json study = json::parse(kHyperbandStudy);
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.AddWorker("b", 2);
    for (int i = 0; i < 12; ++i) c.Step();
    c.coordinator().Stop("interrupted");
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
}

TEST(CoordinatorResumeTest, AfterCoordinatorDestroyedWithoutStop) {
  // The coordinator object goes away mid-study; its store saves the batch
  // when it closes (an orderly shutdown that skipped Stop()).
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kRandomStudy);
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.AddWorker("a", 1);
    c.AddWorker("b", 2);
    for (int i = 0; i < 4; ++i) c.Step();
    c.Crash();
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
}

TEST(CoordinatorResumeTest, RetryWaitingForAWorkerAtTheCrash) {
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kRandomStudy);
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    FakeWorker& dead = c.AddWorker("dead", 1);
    c.AddWorker("busy", 1);  // Answers heartbeats, never trains.
    dead.alive = false;
    for (int i = 0; i < 60; ++i) {  // 6 s: "dead" is lost.
      c.clock().Advance(0.1);
      c.coordinator().Tick();
      c.Deliver();
    }
    EXPECT_EQ(c.coordinator().stats().queued, 1);
    store->Commit();
    c.Crash();
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
}

TEST(CoordinatorResumeTest, JobQueuedBeforeAnyWorkerCame) {
  ScratchDir dir;
  const std::string path = dir.path() + "/r.db";
  const json study = json::parse(kHyperbandStudy);
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    for (int i = 0; i < 10; ++i) c.Step(0.1);  // No workers.
    EXPECT_EQ(c.coordinator().stats().queued, 1);
    store->Commit();
    c.Crash();
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
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

// ---- The best trial on the test split, and checkpoints nobody needs ----

// kHyperbandStudy with the real trainer (the coordinator never runs it).
json RealHyperbandStudy() {
  json study = json::parse(kHyperbandStudy);
  study["trainer"] = {{"model", "cnn"}};
  study["data"] = {{"shards", "shards/small"}};
  return study;
}

// The best complete trial by its last value (the study maximises).
int64_t BestComplete(Store& store, int64_t id) {
  int64_t best = -1;
  double value = -1;
  for (const TrialRow& t : store.Trials(id, "complete")) {
    if (t.value && *t.value > value) {
      best = t.number;
      value = *t.value;
    }
  }
  return best;
}

TEST(CoordinatorEvaluationTest, TheBestTrialIsEvaluatedOnTheTestSplit) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "hb");
  EXPECT_EQ(store->FindStudy("hb")->state, "complete");
  std::vector<Sent> asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 1u);
  const json& b = asked[0].message.body;
  const int64_t best = BestComplete(*store, id);
  EXPECT_EQ(b["trial"], best);
  EXPECT_EQ(b["split"], "test");
  EXPECT_EQ(b["epoch"], 9);
  EXPECT_EQ(b["checkpoint"],
            "hb/trial-" + std::to_string(best) + "/epoch-9.pt");
  EXPECT_EQ(b["params"], TrialParams(*store, "hb").at(best));
  // "done" only after the evaluation.
  std::vector<Sent> done = c.SentOf(MessageType::kDone);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(store->Evaluations(id).size(), 1u);
  const EvaluationRow e = store->Evaluations(id).at(0);
  EXPECT_EQ(e.trial, best);
  EXPECT_EQ(e.state, "done");
  EXPECT_EQ(e.split, "test");
  EXPECT_EQ(e.epoch, 9);
  EXPECT_EQ(e.loss, 0.75);
  EXPECT_EQ(e.accuracy, 0.625);
  EXPECT_EQ(e.track_accuracy, 0.5);
  EXPECT_EQ(e.samples, 8);
  EXPECT_EQ(e.tracks, 4);
  EXPECT_EQ(e.confusion, (std::vector<std::vector<int64_t>>{{3, 1}, {2, 2}}));
  EXPECT_EQ(e.classes, (std::vector<std::string>{"Rock", "Folk"}));
  EXPECT_EQ(e.worker, "fake-" + asked[0].identity);
  ExpectConsistent(*store, "hb");
}

TEST(CoordinatorEvaluationTest, CheckpointsOfPrunedTrialsAreForgotten) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "hb");
  std::multiset<std::string> forgotten;
  for (const Sent& s : c.SentOf(MessageType::kForget)) {
    EXPECT_EQ(s.message.body["study"], "hb");
    for (const json& p : s.message.body["checkpoints"]) {
      forgotten.insert(p.get<std::string>());
    }
  }
  std::multiset<std::string> expected;
  int pruned = 0;
  for (const TrialRow& t : store->Trials(id)) {
    if (t.state == TrialState::kPruned) {
      ++pruned;
      EXPECT_TRUE(t.checkpoint.empty()) << "trial " << t.number;
      expected.insert("hb/trial-" + std::to_string(t.number) + "/epoch-" +
                      std::to_string(t.epochs) + ".pt");
    } else {
      ASSERT_EQ(t.state, TrialState::kComplete);
      EXPECT_EQ(t.checkpoint, "hb/trial-" + std::to_string(t.number) +
                                  "/epoch-" + std::to_string(t.epochs) + ".pt");
    }
  }
  EXPECT_GT(pruned, 5);
  EXPECT_EQ(forgotten, expected);
  // Each "forget" went out before "done".
  size_t last_forget = 0, first_done = SIZE_MAX;
  const auto& sent = c.transport().sent;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].message.type == MessageType::kForget) last_forget = i;
    if (sent[i].message.type == MessageType::kDone) {
      first_done = std::min(first_done, i);
    }
  }
  EXPECT_LT(last_forget, first_done);
}

TEST(CoordinatorEvaluationTest, AFailedEvaluationIsRetriedThenRecorded) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  int calls = 0;
  c.set_evaluate([&](int64_t) -> std::optional<std::string> {
    ++calls;
    return std::string(calls == 1 ? "error" : "config");
  });
  c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(calls, 2);  // "error" is retried, "config" is not.
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  std::vector<EvaluationRow> rows = store->Evaluations(StudyId(*store, "hb"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "failed");
  EXPECT_NE(rows[0].error.find("config: fake evaluation failure"),
            std::string::npos)
      << rows[0].error;
  EXPECT_TRUE(rows[0].worker == "fake-a" || rows[0].worker == "fake-b")
      << rows[0].worker;
  EXPECT_FALSE(rows[0].accuracy.has_value());
}

// A worker that cannot read the data fails the evaluation as "data": it
// goes to the other worker, whatever execution.max_attempts; once both
// have failed that way it is recorded as failed.
TEST(CoordinatorEvaluationTest, ADataFailureMovesTheEvaluationToAnotherWorker) {
  for (bool second_fails : {false, true}) {
    auto store = Store::Open(":memory:");
    json spec = RealHyperbandStudy();
    spec["execution"]["max_attempts"] = 1;
    Cluster c(spec, *store);
    c.set_checkpoints(true);
    int calls = 0;
    c.set_evaluate([&](int64_t) -> std::optional<std::string> {
      ++calls;
      if (calls == 1 || second_fails) return std::string("data");
      return std::nullopt;
    });
    c.AddWorker("a", 1);
    c.AddWorker("b", 1);
    ASSERT_TRUE(c.RunToEnd());
    EXPECT_EQ(calls, 2);
    std::vector<EvaluationRow> rows = store->Evaluations(StudyId(*store, "hb"));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].state, second_fails ? "failed" : "done") << rows[0].error;
  }
}

TEST(CoordinatorEvaluationTest, ALostWorkersEvaluationGoesToAnother) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  FakeWorker& a = c.AddWorker("a", 1);
  FakeWorker& b = c.AddWorker("b", 1);
  for (int i = 0; i < 5000 && c.SentOf(MessageType::kEvaluate).empty(); ++i) {
    for (FakeWorker* w : {&a, &b}) c.Train(*w);
    c.coordinator().Tick();
    c.Deliver();
  }
  std::vector<Sent> asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 1u);
  FakeWorker& first = asked[0].identity == "a" ? a : b;
  FakeWorker& other = &first == &a ? b : a;
  first.alive = false;
  first.evaluations.clear();
  EXPECT_FALSE(c.coordinator().finished());
  EXPECT_EQ(c.coordinator().stats().evaluating_trial,
            asked[0].message.body["trial"]);
  ASSERT_TRUE(c.RunToEnd());
  asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1].identity, other.identity);
  EXPECT_EQ(store->Evaluations(StudyId(*store, "hb")).at(0).state, "done");
}

TEST(CoordinatorEvaluationTest, AResumeEvaluatesWhatACrashInterrupted) {
  ScratchDir dir;
  const std::string path = dir.path() + "/e.db";
  const json study = RealHyperbandStudy();
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.set_checkpoints(true);
    FakeWorker& a = c.AddWorker("a", 2);
    for (int i = 0; i < 5000 && c.SentOf(MessageType::kEvaluate).empty(); ++i) {
      c.Train(a);
      c.coordinator().Tick();
      c.Deliver();
    }
    ASSERT_EQ(c.SentOf(MessageType::kEvaluate).size(), 1u);
    c.clock().Advance(1);
    c.coordinator().Tick();  // Commits the batch.
    c.Crash();               // Before the answer.
  }
  {
    auto store = Store::Open(path);
    EXPECT_EQ(store->FindStudy("hb")->state, "running");
    Cluster c(study, *store, /*resume=*/true);
    c.set_checkpoints(true);
    c.AddWorker("b", 1);
    ASSERT_TRUE(c.RunToEnd());
    EXPECT_EQ(c.SentOf(MessageType::kAssign).size(), 0u);
    EXPECT_EQ(c.SentOf(MessageType::kEvaluate).size(), 1u);
    EXPECT_EQ(store->Evaluations(StudyId(*store, "hb")).size(), 1u);
    EXPECT_EQ(store->FindStudy("hb")->state, "complete");
  }
}

TEST(CoordinatorEvaluationTest, SyntheticStudiesHaveNoEvaluation) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kHyperbandStudy), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_TRUE(c.SentOf(MessageType::kEvaluate).empty());
  EXPECT_TRUE(store->Evaluations(StudyId(*store, "hb")).empty());
}

}  // namespace
}  // namespace hpo
