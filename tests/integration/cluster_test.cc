// Integration tests: a real hpo-coordinator and real hpo-worker processes
// over ZeroMQ on loopback, with a real SQLite file, killed with real signals.
// Studies use the synthetic trainer (analytic learning curves), so they take
// seconds.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <zmq.hpp>

#include "common/protocol.h"
#include "common/store.h"
#include "common/study_spec.h"
#include "search/scheduler.h"
#include "search/synthetic_curves.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/study_checks.h"
#include "tests/util/workers_table.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::CheckConsistent;
using testutil::CountMetrics;
using testutil::Outcome;
using testutil::Outcomes;
using testutil::Process;
using testutil::ReadFile;
using testutil::RunCommand;
using testutil::SyntheticStudy;
using testutil::WaitFor;

json Hyperband() {
  return {
      {"type", "hyperband"}, {"min_epochs", 1}, {"max_epochs", 9}, {"eta", 3}};
}

class ClusterTest : public testutil::ProcessClusterTest {
 protected:
  ClusterTest() : ProcessClusterTest("hpo_cluster") {}

  using ProcessClusterTest::StartWorker;
  Process* StartWorker(const std::string& endpoint, const std::string& name,
                       int slots) {
    return StartWorker(endpoint, name,
                       {"--slots", std::to_string(slots), "--exit-when-done"});
  }
  // A study run under chaos: a coordinator and three 2-slot workers on
  // `db`; Kill() SIGKILLs the coordinator (restarted with --resume on the
  // same endpoint) or one worker (replaced by a new one).
  struct Chaos {
    ClusterTest* test;
    std::string study, db, endpoint;
    Process* coordinator = nullptr;
    std::vector<Process*> workers;
    int next_worker = 0;

    void AddWorker() {
      workers.push_back(
          test->StartWorker(endpoint, "w" + std::to_string(next_worker++), 2));
    }
    // Waits up to `pause` seconds; false if the study ended meanwhile.
    bool Pause(double pause) {
      return !WaitFor([&] { return coordinator->Wait(0).has_value(); }, pause);
    }
    void KillCoordinator() {
      coordinator->Signal(SIGKILL);
      ASSERT_EQ(coordinator->Wait(10), 128 + SIGKILL);
      std::string again;
      coordinator = test->StartCoordinator(study, db, endpoint, true, &again);
    }
    void KillWorker(size_t victim) {
      workers[victim]->Signal(SIGKILL);
      workers[victim]->Wait(10);
      workers.erase(workers.begin() + static_cast<long>(victim));
      AddWorker();
    }
    // The coordinator's exit code once the study has finished.
    void ExpectFinished() {
      auto code = coordinator->Wait(180);
      ASSERT_TRUE(code.has_value())
          << "the study did not finish after the chaos";
      ASSERT_EQ(*code, 0) << coordinator->log();
    }
  };

  Chaos StartChaos(const std::string& study, const std::string& db) {
    Chaos chaos{this, study, db};
    chaos.coordinator = StartCoordinator(study, db, "tcp://127.0.0.1:*", false,
                                         &chaos.endpoint);
    for (int i = 0; i < 3; ++i) chaos.AddWorker();
    return chaos;
  }

  // Workers that joined the study hear "done" and exit 0. On a loaded
  // machine a worker can start after a short study has ended (LibTorch
  // takes seconds to load): it then waits for the next coordinator, as
  // designed, and is stopped with the test.
  void ExpectJoinedWorkersExit(const std::vector<Process*>& workers) {
    for (Process* w : workers) {
      if (w->log().find("joined study") == std::string::npos) continue;
      EXPECT_EQ(w->Wait(20), 0) << w->log();
    }
  }

  json Plan(const std::string& study) {
    auto r = RunCommand({HPO_COORDINATOR, "--study", study, "--plan"}, dir_);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }

  // The trials as hpo-query reports them (the contract of issue 3).
  json QueryTrials(const std::string& db, const std::string& study) {
    auto r = RunCommand(
        {HPO_QUERY, "--db", db, "trials", "--study", study, "--format", "json"},
        dir_);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }
};

TEST_F(ClusterTest, HyperbandStudyFinishesWithThePlannedTrials) {
  const std::string study =
      WriteStudy(SyntheticStudy("hb", Hyperband(), 0.005), "hb.json");
  const std::string db = dir_ + "/results.db";
  json plan = Plan(study);
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  std::vector<Process*> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(StartWorker(endpoint, "w" + std::to_string(i), 2));
  }
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  ExpectJoinedWorkersExit(workers);

  json trials = QueryTrials(db, "hb");
  ASSERT_TRUE(trials.is_array());
  // Per bracket and rung: as many trials reached the rung as planned.
  int64_t planned = 0;
  for (size_t b = 0; b < plan["brackets"].size(); ++b) {
    const json& rungs = plan["brackets"][b]["rungs"];
    planned += rungs[0]["trials"].get<int64_t>();
    for (const json& rung : rungs) {
      int reached = 0;
      for (const json& t : trials) {
        reached += t["bracket"] == b && t["epochs"] >= rung["epochs"];
      }
      EXPECT_EQ(reached, rung["trials"]) << "bracket " << b;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(trials.size()), planned);
  int64_t epochs = 0;
  for (const json& t : trials) {
    EXPECT_TRUE(t["state"] == "complete" || t["state"] == "pruned") << t;
    EXPECT_TRUE(t["params"].is_object());
    EXPECT_TRUE(t["value"].is_number());
    epochs += t["epochs"].get<int64_t>();
  }
  EXPECT_EQ(epochs, plan["total_epochs"]);
  CheckConsistent(db, "hb");
  EXPECT_NE(coordinator->log().find("study \"hb\" complete: 17 trials"),
            std::string::npos)
      << coordinator->log();
}

TEST_F(ClusterTest, KilledWorkerTrialIsRetriedAndNothingIsLost) {
  json algorithm = {{"type", "random"}, {"max_epochs", 8}};
  json spec = SyntheticStudy("kill", algorithm, 0.04);
  spec["budget"] = {{"max_trials", 6}};
  const std::string study = WriteStudy(spec, "kill.json");
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* victim = StartWorker(endpoint, "victim", 2);
  Process* survivor = StartWorker(endpoint, "survivor", 1);
  // Kill the victim while its two trials are part way through.
  ASSERT_TRUE(WaitFor([&] { return CountMetrics(db) >= 6; }, 30));
  victim->Signal(SIGKILL);
  EXPECT_EQ(victim->Wait(5), 128 + SIGKILL);
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(survivor->Wait(20), 0);

  auto store = Store::Open(db, true);
  int64_t id = store->FindStudy("kill")->id;
  std::vector<TrialRow> trials = store->Trials(id);
  ASSERT_EQ(trials.size(), 6u);
  for (const TrialRow& t : trials) {
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.epochs, 8);
  }
  int lost = 0;
  for (const AttemptRow& a : store->Attempts(id)) {
    if (a.state == "lost") {
      ++lost;
      EXPECT_EQ(a.worker, "victim");
    }
  }
  EXPECT_GE(lost, 1);
  CheckConsistent(db, "kill");
  EXPECT_NE(coordinator->log().find("worker victim lost"), std::string::npos);
}

// hpo-worker --device auto trains on cuda:0 where LibTorch sees a GPU and on
// the CPU elsewhere (CI: a CPU build of LibTorch), says which at start, and
// the coordinator records it in the workers table. Whether this machine has
// a GPU is asked of hpo-worker itself: --device cuda is refused at once
// (exit 2, before connecting) where LibTorch sees none.
TEST_F(ClusterTest, DeviceAutoIsWhatLibTorchSeesAndIsRecorded) {
  auto probe = RunCommand(
      {HPO_WORKER, "--connect", "not-an-endpoint", "--device", "cuda"}, dir_);
  ASSERT_EQ(probe.code, 2) << probe.err;
  const bool gpu =
      probe.err.find("LibTorch sees no CUDA device") == std::string::npos;
  if (!gpu) {
    EXPECT_NE(probe.err.find("use --device cpu or auto"), std::string::npos)
        << probe.err;
  }
  const std::string expected = gpu ? "cuda:0" : "cpu";

  json spec =
      SyntheticStudy("auto", {{"type", "random"}, {"max_epochs", 2}}, 0.01);
  spec["budget"] = {{"max_trials", 2}};
  const std::string study = WriteStudy(spec, "auto.json");
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  processes_.push_back(std::make_unique<Process>(
      std::vector<std::string>{HPO_WORKER, "--connect", endpoint, "--name",
                               "auto", "--device", "auto", "--exit-when-done"},
      dir_ + "/auto.log"));
  Process* worker = processes_.back().get();
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(worker->Wait(20), 0) << worker->log();
  EXPECT_NE(worker->log().find("slot(s) on " + expected +
                               " (--device auto: " + "LibTorch sees"),
            std::string::npos)
      << worker->log();
  std::vector<testutil::WorkerTableRow> rows = testutil::WorkerRows(db, "auto");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(json::parse(rows[0].devices), json::array({expected}));
  EXPECT_NE(coordinator->log().find("devices [\"" + expected + "\"]"),
            std::string::npos)
      << coordinator->log();
}

// The set of (trial number, parameters) of a finished study.
std::map<int64_t, json> Configurations(const std::string& db,
                                       const std::string& name) {
  auto store = Store::Open(db, true);
  std::map<int64_t, json> out;
  for (const TrialRow& t : store->Trials(store->FindStudy(name)->id)) {
    out[t.number] = t.params;
  }
  return out;
}

TEST_F(ClusterTest, KilledCoordinatorResumesToTheSameConfigurations) {
  const std::string study =
      WriteStudy(SyntheticStudy("resume", Hyperband(), 0.03), "resume.json");
  // An uninterrupted run, for reference.
  const std::string reference_db = dir_ + "/reference.db";
  {
    std::string endpoint;
    Process* c = StartCoordinator(study, reference_db, "tcp://127.0.0.1:*",
                                  false, &endpoint);
    StartWorker(endpoint, "r1", 2);
    StartWorker(endpoint, "r2", 2);
    ASSERT_EQ(c->Wait(60), 0) << c->log();
  }
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* first =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* w1 = StartWorker(endpoint, "w1", 2);
  Process* w2 = StartWorker(endpoint, "w2", 2);
  ASSERT_TRUE(WaitFor([&] { return CountMetrics(db) >= 12; }, 30));
  first->Signal(SIGKILL);
  EXPECT_EQ(first->Wait(5), 128 + SIGKILL);
  {
    auto store = Store::Open(db, true);
    ASSERT_EQ(store->FindStudy("resume")->state, "running")
        << "the study ended before the coordinator was killed";
  }

  // Without --resume the recorded study is refused.
  auto refused = RunCommand(
      {HPO_COORDINATOR, "--study", study, "--db", db, "--bind", endpoint},
      dir_);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("pass --resume"), std::string::npos)
      << refused.err;

  // Same endpoint: the workers reconnect by themselves.
  std::string again;
  Process* second = StartCoordinator(study, db, endpoint, true, &again);
  ASSERT_EQ(second->Wait(60), 0) << second->log();
  EXPECT_NE(second->log().find("resuming study"), std::string::npos);
  EXPECT_EQ(second->log().find(" 0 jobs queued to restart"), std::string::npos)
      << second->log();
  EXPECT_EQ(w1->Wait(20), 0) << w1->log();
  EXPECT_EQ(w2->Wait(20), 0) << w2->log();
  EXPECT_EQ(Configurations(db, "resume"),
            Configurations(reference_db, "resume"));
  CheckConsistent(db, "resume");
}

TEST_F(ClusterTest, SigtermStopsCleanlyAndResumeFinishes) {
  json spec = SyntheticStudy("term", Hyperband(), 0.02);
  const std::string study = WriteStudy(spec, "term.json");
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* first =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* worker = StartWorker(endpoint, "w", 3);
  ASSERT_TRUE(WaitFor([&] { return CountMetrics(db) >= 5; }, 30));
  first->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(10), 128 + SIGTERM) << first->log();
  EXPECT_NE(first->log().find("--resume"), std::string::npos);
  {
    auto store = Store::Open(db, true);
    std::optional<StudyRow> row = store->FindStudy("term");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->state, "interrupted");
    for (const AttemptRow& a : store->Attempts(row->id)) {
      EXPECT_NE(a.state, "running");
    }
  }
  // A changed search space is refused, naming the change.
  json changed = spec;
  changed["search_space"]["lr"]["high"] = 0.5;
  auto refused = RunCommand(
      {HPO_COORDINATOR, "--study", WriteStudy(changed, "changed.json"), "--db",
       db, "--bind", endpoint, "--resume"},
      dir_);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("search_space.lr.high: 0.1 -> 0.5"),
            std::string::npos)
      << refused.err;

  std::string again;
  Process* second = StartCoordinator(study, db, endpoint, true, &again);
  ASSERT_EQ(second->Wait(60), 0) << second->log();
  EXPECT_EQ(worker->Wait(20), 0) << worker->log();
  CheckConsistent(db, "term");
}

TEST_F(ClusterTest, MalformedMessagesDoNotDisturbARunningStudy) {
  const std::string study =
      WriteStudy(SyntheticStudy("noise", Hyperband(), 0.01), "noise.json");
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* worker = StartWorker(endpoint, "w", 2);
  ASSERT_TRUE(WaitFor([&] { return CountMetrics(db) >= 3; }, 30));

  zmq::context_t context;
  zmq::socket_t rogue(context, zmq::socket_type::dealer);
  rogue.set(zmq::sockopt::linger, 0);
  rogue.connect(endpoint);
  auto send = [&](const std::string& bytes) {
    rogue.send(zmq::buffer(bytes), zmq::send_flags::none);
  };
  send("");
  send("\xc1\xff garbage");
  send("[1, 2, 3]");
  send(R"({"v": 1, "type": "launch_missiles"})");
  send(R"({"v": 1, "type": "epoch", "lease": "x"})");
  send(R"({"v": 1, "type": "epoch", "lease": 42, "trial": 0, "epoch": 1,
           "metrics": {"val_accuracy": 0.99}})");
  send(std::string(2 * kMaxMessageBytes, 'x'));
  send(R"({"v": 99, "type": "hello"})");
  // A wrong version gets a clear error back.
  zmq::pollitem_t item = {rogue.handle(), 0, ZMQ_POLLIN, 0};
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    zmq::message_t reply;
    while (rogue.recv(reply, zmq::recv_flags::dontwait)) {
      json body = json::from_msgpack(reply.to_string(), true, false);
      if (body.value("type", "") == "error") {
        answered = true;
        EXPECT_NE(body["message"].get<std::string>().find("protocol version"),
                  std::string::npos);
      }
    }
  }
  EXPECT_TRUE(answered);

  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(worker->Wait(20), 0);
  CheckConsistent(db, "noise");
  const std::string log = coordinator->log();
  EXPECT_NE(log.find("dropped a message"), std::string::npos) << log;
  EXPECT_NE(log.find("unknown message type"), std::string::npos) << log;
  // The forged epoch for lease 42 was not recorded.
  auto store = Store::Open(db, true);
  for (const MetricRow& m : store->Metrics(store->FindStudy("noise")->id, -1)) {
    EXPECT_NE(m.metrics.value("val_accuracy", 0.0), 0.99);
  }
}

TEST_F(ClusterTest, TimeBudgetEndsTheStudy) {
  json spec =
      SyntheticStudy("budget", {{"type", "random"}, {"max_epochs", 10}}, 0.05);
  spec["budget"] = {{"max_trials", 50}, {"max_hours", 1.0 / 3600}};
  const std::string study = WriteStudy(spec, "budget.json");
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* worker = StartWorker(endpoint, "w", 2);
  ASSERT_EQ(coordinator->Wait(30), 0) << coordinator->log();
  ExpectJoinedWorkersExit({worker});
  EXPECT_NE(coordinator->log().find("budget.max_hours reached"),
            std::string::npos);
  auto store = Store::Open(db, true);
  std::optional<StudyRow> row = store->FindStudy("budget");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, "time_limit");
  EXPECT_GE(row->elapsed_s, 1.0);
  std::vector<TrialRow> trials = store->Trials(row->id);
  EXPECT_LT(trials.size(), 50u);
  for (const TrialRow& t : trials) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kQueued)
        << ToString(t.state);
  }
}

// Chaos: workers SIGKILLed mid-trial and replaced, the coordinator SIGKILLed
// and restarted with --resume, at random moments, while a Hyperband study
// runs. At the end the study must hold exactly what an undisturbed run with
// the same seed holds. HPO_CHAOS_FAULTS (default 14) sets how many faults
// to inject; HPO_CHAOS_SEED varies the moments.
TEST_F(ClusterTest, ChaosKillsLoseNothingAndChangeNoDecision) {
  const int faults = std::getenv("HPO_CHAOS_FAULTS")
                         ? std::atoi(std::getenv("HPO_CHAOS_FAULTS"))
                         : 14;
  const unsigned seed = std::getenv("HPO_CHAOS_SEED")
                            ? std::atoi(std::getenv("HPO_CHAOS_SEED"))
                            : 20261121;
  json spec = SyntheticStudy("chaos",
                             {{"type", "hyperband"},
                              {"min_epochs", 1},
                              {"max_epochs", 27},
                              {"eta", 3}},
                             0.02);
  // Kills are not the trials' fault: never give up on one.
  spec["execution"]["max_attempts"] = 100;
  const std::string study = WriteStudy(spec, "chaos.json");
  const int64_t planned = [&] {
    json plan = Plan(study);
    int64_t n = 0;
    for (const json& b : plan.at("brackets")) {
      n += b.at("rungs").at(0).at("trials").get<int64_t>();
    }
    return n;
  }();

  const std::string reference_db = dir_ + "/reference.db";
  {
    std::string endpoint;
    Process* c = StartCoordinator(study, reference_db, "tcp://127.0.0.1:*",
                                  false, &endpoint);
    for (int i = 0; i < 3; ++i)
      StartWorker(endpoint, "r" + std::to_string(i), 2);
    ASSERT_EQ(c->Wait(120), 0) << c->log();
  }

  const std::string db = dir_ + "/chaos.db";
  Chaos chaos = StartChaos(study, db);
  std::mt19937 rng(seed);
  int worker_kills = 0, coordinator_kills = 0;
  for (int f = 0; f < faults; ++f) {
    // Wait 0.2-0.8 s, or less if the study ends first.
    if (!chaos.Pause(std::uniform_real_distribution<>(0.2, 0.8)(rng))) break;
    if (std::uniform_int_distribution<>(0, 3)(rng) == 0) {
      ASSERT_NO_FATAL_FAILURE(chaos.KillCoordinator());
      ++coordinator_kills;
    } else {
      chaos.KillWorker(std::uniform_int_distribution<size_t>(
          0, chaos.workers.size() - 1)(rng));
      ++worker_kills;
    }
  }
  ASSERT_NO_FATAL_FAILURE(chaos.ExpectFinished());
  Process* coordinator = chaos.coordinator;
  const std::vector<Process*>& workers = chaos.workers;
  // Workers that joined the last coordinator hear "done" and exit; others
  // were still reconnecting (their backoff grows to 2 s with each restart)
  // when it finished, and wait for the next coordinator, as designed.
  const std::string last = coordinator->log();
  for (Process* w : workers) {
    const std::string name = w->log_path().substr(
        w->log_path().rfind('/') + 1,
        w->log_path().size() - w->log_path().rfind('/') - 5);
    if (last.find("worker " + name + " joined") != std::string::npos) {
      EXPECT_EQ(w->Wait(30), 0) << w->log();
    }
  }

  CheckConsistent(db, "chaos");
  const std::map<int64_t, Outcome> got = Outcomes(db, "chaos");
  const std::map<int64_t, Outcome> want = Outcomes(reference_db, "chaos");
  EXPECT_EQ(static_cast<int64_t>(want.size()), planned);
  ASSERT_EQ(got.size(), want.size());
  size_t metrics = 0;
  for (const auto& [number, o] : want) {
    auto it = got.find(number);
    ASSERT_NE(it, got.end()) << "trial " << number << " missing";
    EXPECT_TRUE(it->second == o)
        << "trial " << number << ": " << it->second.state << " after "
        << it->second.epochs << " epochs, undisturbed " << o.state << " after "
        << o.epochs;
    EXPECT_NE(o.state, "failed");
    metrics += o.values.size();
  }
  std::cout << "chaos: survived " << worker_kills << " worker kills and "
            << coordinator_kills << " coordinator kills; " << got.size()
            << " trials (" << planned << " planned) and " << metrics
            << " epoch metrics identical to an undisturbed run\n";
  EXPECT_GT(worker_kills + coordinator_kills, 0);
}

// The same chaos with a learning sampler (BOHB under Hyperband, TPE under
// ASHA). What a learning sampler proposes depends on the order in which
// results arrived, which the kills change, so the check is the replay
// contract instead: every trial in the file has exactly the parameters,
// state and epochs that a scheduler rebuilt from the recorded events gives
// it, and the study is consistent and complete.
class LearnedChaosTest : public ClusterTest,
                         public ::testing::WithParamInterface<const char*> {};

TEST_P(LearnedChaosTest, KillsLoseNothingAndTheEventsRebuildEveryProposal) {
  json algorithm = json::parse(GetParam());
  json spec = SyntheticStudy("learned", algorithm, 0.02);
  spec["execution"]["max_attempts"] = 100;
  if (algorithm["type"] == "asha") spec["budget"] = {{"max_trials", 40}};
  const bool pbt = algorithm["type"] == "pbt";
  if (pbt) {
    // State in checkpoint files, copied between members and workers.
    spec["trainer"]["curves"] = "annealing";
    spec["search_space"].erase("scheduler");
  }
  const std::string study = WriteStudy(spec, "learned.json");
  const std::string db = dir_ + "/learned.db";
  Chaos chaos = StartChaos(study, db);
  std::mt19937 rng(20261202);
  int kills = 0;
  for (int f = 0; f < 8; ++f) {
    if (!chaos.Pause(std::uniform_real_distribution<>(0.2, 0.6)(rng))) break;
    if (f % 3 == 1) {
      ASSERT_NO_FATAL_FAILURE(chaos.KillCoordinator());
    } else {
      chaos.KillWorker(static_cast<size_t>(f) % chaos.workers.size());
    }
    ++kills;
  }
  ASSERT_NO_FATAL_FAILURE(chaos.ExpectFinished());
  EXPECT_GT(kills, 0);
  CheckConsistent(db, "learned");

  auto store = Store::Open(db, true);
  const StudyRow row = *store->FindStudy("learned");
  EXPECT_EQ(row.state, "complete");
  std::vector<SchedulerEvent> events;
  for (const std::string& e : store->Events(row.id)) {
    events.push_back(SchedulerEvent::FromJson(json::parse(e)));
  }
  std::unique_ptr<Scheduler> replayed =
      NewScheduler(ParseStudy(json::parse(row.spec), "learned.json"));
  Replay(*replayed, events);
  const std::vector<TrialRow> trials = store->Trials(row.id);
  ASSERT_EQ(trials.size(), replayed->trials().size());
  for (const TrialRow& t : trials) {
    const TrialRecord& r = replayed->trials().at(t.number);
    EXPECT_EQ(t.params, r.params) << "trial " << t.number;
    EXPECT_EQ(ToString(t.state), ToString(r.state)) << "trial " << t.number;
    EXPECT_EQ(t.epochs, r.epochs) << "trial " << t.number;
  }
  EXPECT_EQ(replayed->NextJob().type, Decision::Type::kDone);
  if (pbt) {
    // Every exploit in the file is one the rebuilt scheduler makes.
    std::vector<Exploit> want = replayed->TakeExploits();
    std::vector<ExploitRow> got = store->Exploits(row.id);
    EXPECT_FALSE(got.empty());
    ASSERT_EQ(got.size(), want.size());
    std::map<std::pair<int64_t, int>, Exploit> by_key;
    for (const Exploit& e : want) by_key[{e.trial, e.epoch}] = e;
    for (const ExploitRow& g : got) {
      auto it = by_key.find({g.trial, g.epoch});
      ASSERT_NE(it, by_key.end());
      EXPECT_EQ(g.parent, it->second.parent);
      EXPECT_EQ(g.new_params, it->second.new_params);
    }
    for (const TrialRow& t : trials) {
      EXPECT_EQ(ToString(t.state), "complete");
      EXPECT_EQ(t.epochs, 12);
    }
  }
  std::cout << "learned chaos (" << algorithm["sampler"]["type"] << " under "
            << algorithm["type"] << "): " << kills << " kills, "
            << trials.size() << " trials rebuilt from " << events.size()
            << " events\n";
}

std::string LearnedChaosName(size_t index) {
  static const char* const kNames[] = {"HyperbandBohb", "AshaTpe", "Pbt"};
  return kNames[index];
}

INSTANTIATE_TEST_SUITE_P(
    Samplers, LearnedChaosTest,
    ::testing::Values(
        R"({"type": "hyperband", "min_epochs": 1, "max_epochs": 9, "eta": 3,
            "iterations": 2, "sampler": {"type": "bohb"}})",
        R"({"type": "asha", "min_epochs": 1, "max_epochs": 9, "eta": 3,
            "sampler": {"type": "tpe", "n_startup_trials": 5}})",
        R"({"type": "pbt", "population": 8, "max_epochs": 12, "interval": 3,
            "sampler": {"type": "random"}})"),
    [](const auto& info) { return LearnedChaosName(info.index); });

// Population-based training with real workers and real checkpoint files:
// a population of 8 on 8 one-slot workers. Each member continues on the
// worker it started on, so every exploit resumes a checkpoint another
// worker wrote, from the shared --checkpoints directory. The synthetic
// trainer's annealing curves keep their state in those files, noise-free:
// the child's first epoch after an exploit must be exactly what training
// on from the parent's state with the new parameters gives.
TEST_F(ClusterTest, PbtPopulationCopiesCheckpointsAcrossWorkers) {
  json spec = SyntheticStudy("pbt",
                             {{"type", "pbt"},
                              {"population", 8},
                              {"max_epochs", 12},
                              {"interval", 3},
                              {"mutable", {"lr"}}},
                             0.25);
  spec["trainer"]["curves"] = "annealing";
  spec["trainer"]["noise"] = 0;
  spec["search_space"].erase("scheduler");
  const std::string study = WriteStudy(spec, "pbt.json");
  const std::string db = dir_ + "/pbt.db";
  const std::string checkpoints = dir_ + "/shared-checkpoints";
  // The workers are up before the coordinator binds, so all eight join at
  // once and each member starts on its own worker (and stays there: a
  // member whose job ends continues in place when no other waits).
  std::string endpoint;
  {
    zmq::context_t context;
    zmq::socket_t probe(context, zmq::socket_type::rep);
    probe.bind("tcp://127.0.0.1:*");
    endpoint = probe.get(zmq::sockopt::last_endpoint);
  }
  std::vector<Process*> workers;
  for (int i = 0; i < 8; ++i) {
    workers.push_back(
        StartWorker(endpoint, "p" + std::to_string(i),
                    {"--checkpoints", checkpoints, "--exit-when-done"}));
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (Process* w : workers) {
          if (w->log().find("connecting to") == std::string::npos) {
            return false;
          }
        }
        return true;
      },
      60));
  std::string bound;
  Process* c = StartCoordinator(study, db, endpoint, false, &bound);
  ASSERT_EQ(c->Wait(120), 0) << c->log();
  ExpectJoinedWorkersExit(workers);
  CheckConsistent(db, "pbt");

  auto store = Store::Open(db, true);
  const StudyRow row = *store->FindStudy("pbt");
  EXPECT_EQ(row.state, "complete");
  const std::vector<TrialRow> trials = store->Trials(row.id);
  ASSERT_EQ(trials.size(), 8u);
  for (const TrialRow& t : trials) {
    EXPECT_EQ(ToString(t.state), "complete") << t.number;
    EXPECT_EQ(t.epochs, 12);
  }
  const std::vector<ExploitRow> exploits = store->Exploits(row.id);
  ASSERT_GE(exploits.size(), 3u) << c->log();

  const StudySpec parsed = ParseStudy(spec, "pbt.json");
  const CurveOptions options = SyntheticTrainerOptions(parsed);
  const SyntheticCurves curves(parsed.search_space, options);
  const double chance = 1.0 / options.classes;
  std::map<int64_t, std::string> worker_of_attempt;
  for (const AttemptRow& a : store->Attempts(row.id)) {
    worker_of_attempt[a.id] = a.worker;
  }
  auto metric = [&](int64_t trial, int epoch) -> MetricRow {
    for (const MetricRow& m : store->Metrics(row.id, trial)) {
      if (m.epoch == epoch) return m;
    }
    ADD_FAILURE() << "no metrics for trial " << trial << " epoch " << epoch;
    return {};
  };
  for (const ExploitRow& e : exploits) {
    SCOPED_TRACE("trial " + std::to_string(e.trial) + " copies " +
                 std::to_string(e.parent) + " after epoch " +
                 std::to_string(e.epoch));
    const MetricRow parent = metric(e.parent, e.epoch);
    const MetricRow child = metric(e.trial, e.epoch + 1);
    // A different worker resumed it than wrote it.
    EXPECT_NE(worker_of_attempt[parent.attempt_id],
              worker_of_attempt[child.attempt_id]);
    // The parent's state after its epoch, trained on with the new lr.
    CurveState state;
    state.skill = (parent.metrics.at("val_accuracy").get<double>() - chance) /
                  (0.85 - chance);
    const double want =
        curves.Train(e.new_params, e.epoch + 1, state).val_accuracy;
    EXPECT_NEAR(child.metrics.at("val_accuracy").get<double>(), want, 1e-9);
  }
  // Superseded checkpoints were deleted: each member's last one is left.
  size_t files = 0;
  for (const auto& f :
       std::filesystem::recursive_directory_iterator(checkpoints)) {
    if (f.is_regular_file()) {
      ++files;
      EXPECT_NE(f.path().string().find("epoch-0012"), std::string::npos)
          << f.path();
    }
  }
  EXPECT_EQ(files, 8u);
  // hpo-query lists the lineage.
  auto r = RunCommand(
      {HPO_QUERY, "--db", db, "lineage", "--study", "pbt", "--format", "json"},
      dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), exploits.size()) << r.out;
  std::cout << "pbt: 8 members, " << exploits.size()
            << " exploits, each resumed on another worker\n";
}

TEST(CoordinatorCli, WorkerWithoutConnectIsBadUsage) {
  testutil::ScratchDir scratch("hpo_cli");
  const std::string tmpl = scratch.path();
  auto r = RunCommand({HPO_WORKER, "--slots", "2"}, tmpl);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--connect"), std::string::npos) << r.err;
  r = RunCommand(
      {HPO_WORKER, "--connect", "tcp://127.0.0.1:1", "--device", "tpu"}, tmpl);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--device tpu"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hpo
