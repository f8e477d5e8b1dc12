// The coordinator's test fakes: a fake transport that records what the
// coordinator sends, fake workers that answer assignments with epoch
// reports, and a Cluster that wires them to a Coordinator with a fake clock
// (tests/util/fake_clock.h). No sockets, no sleeps.
#ifndef HPO_TESTS_COORDINATOR_COORDINATOR_FAKES_H_
#define HPO_TESTS_COORDINATOR_COORDINATOR_FAKES_H_

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
#include "coordinator/coordinator.h"
#include "search/scheduler.h"
#include "tests/util/fake_clock.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace coordinator_testing {

using nlohmann::json;

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
  std::string checkpoint;  // The assignment's, if any.
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

inline double DefaultValue(const json& params, int64_t trial, int epoch) {
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
  // Every assignment so far, in order.
  const std::vector<FakeJob>& assigned() const { return assigned_; }
  // Epoch reports at the end of a job name a checkpoint, as the real
  // trainer's do.
  void set_checkpoints(bool on) { checkpoints_ = on; }
  // Epoch reports name the trial's best checkpoint (trainer.keep "best")
  // when the epoch beats the trial's best so far, as the real worker's do.
  void set_best_checkpoints(bool on) { best_checkpoints_ = on; }
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
          if (b.contains("checkpoint") && b["checkpoint"].is_string()) {
            job.checkpoint = b["checkpoint"].get<std::string>();
          }
          job.arrival = ++arrivals_;
          assigned_.push_back(job);
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
    json body = {{"lease", job.lease},
                 {"trial", job.trial},
                 {"epoch", epoch},
                 {"metrics", {{"val_accuracy", v}, {"train_loss", 1 - v}}},
                 {"checkpoint", checkpoint}};
    if (best_checkpoints_) {
      auto it = best_.find(job.trial);
      if (it == best_.end() || v > it->second) {
        best_[job.trial] = v;
        body["best_checkpoint"] =
            "hb/trial-" + std::to_string(job.trial) + "/best.pt";
      }
    }
    Send(identity, MessageType::kEpoch, std::move(body));
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
  bool best_checkpoints_ = false;
  std::map<int64_t, double> best_;  // Each trial's best value reported.
  std::vector<FakeJob> assigned_;
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

inline int64_t StudyId(Store& store, const std::string& name) {
  std::optional<StudyRow> s = store.FindStudy(name);
  return s ? s->id : -1;
}

// Trial number -> parameters.
inline std::map<int64_t, json> TrialParams(Store& store,
                                           const std::string& name) {
  std::map<int64_t, json> out;
  for (const TrialRow& t : store.Trials(StudyId(store, name))) {
    out[t.number] = t.params;
  }
  return out;
}

// Checks the recorded results of a finished study: every trial final, and
// as many metric rows as epochs (each epoch 1..epochs once).
inline void ExpectConsistent(Store& store, const std::string& name) {
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

inline int64_t PlannedTrials(const json& plan) {
  if (plan.contains("trials")) return plan["trials"].get<int64_t>();
  int64_t n = 0;
  for (const json& b : plan.at("brackets")) {
    n += b.at("rungs").at(0).at("trials").get<int64_t>();
  }
  return n;
}

// Runs `study` from scratch on a fresh in-memory store with the standard
// workers; returns trial number -> params.
inline std::map<int64_t, json> Uninterrupted(const json& study) {
  auto store = Store::Open(":memory:");
  Cluster c(study, *store);
  c.AddWorker("a", 1);
  c.AddWorker("b", 2);
  EXPECT_TRUE(c.RunToEnd());
  return TrialParams(*store, study["name"]);
}

// Resumes `study` from `path` with new workers and runs it to the end.
inline void ResumeToEnd(const json& study, const std::string& path) {
  auto store = Store::Open(path);
  Cluster c(study, *store, /*resume=*/true);
  EXPECT_FALSE(c.coordinator().finished());
  c.AddWorker("c", 2);
  c.AddWorker("d", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
}

// Checks a resumed study against an uninterrupted run of the same file.
inline void ExpectSameAsUninterrupted(const json& study,
                                      const std::string& path) {
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

// Runs a first session of `study` on a new database file (`session` drives
// its cluster until it stops, crashes or is destroyed), then resumes the
// study there to the end and checks it against an uninterrupted run.
inline void ExpectResumeLikeUninterrupted(
    const json& study, const std::function<void(Cluster&, Store&)>& session) {
  ScratchDir dir;
  const std::string path = dir.path() + "/resume.db";
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    session(c, *store);
  }
  ResumeToEnd(study, path);
  ExpectSameAsUninterrupted(study, path);
}

// Runs `study` in a child process on the file `path` for `steps` steps and
// kills it there (no destructors run: the open batch is lost, as in a
// crash).
// Runs `session` in a child process. The session ends it with _exit(code)
// while its Store is still open, so nothing left uncommitted reaches the
// file: a crash. (5 if it throws, 6 if it returns.) Expects code 0.
inline void RunCrashingSession(const std::function<void()>& session) {
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

inline void CrashAfter(const json& study, const std::string& path, int steps) {
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

}  // namespace coordinator_testing
}  // namespace hpo

#endif  // HPO_TESTS_COORDINATOR_COORDINATOR_FAKES_H_
