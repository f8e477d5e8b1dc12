// Your own model and your own training script, for real: a coordinator and
// hpo-worker processes over ZeroMQ on loopback run programs of the user's
// own (a POSIX shell script and examples/pytorch_script/train.py, Debian's
// python3 with python3-torch) with real signals and real process groups,
// and train examples/torchscript's exported modules.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/store.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::ReadFile;
using testutil::RunCommand;
using testutil::WaitFor;
namespace fs = std::filesystem;

// A training program in POSIX shell, following the protocol by hand:
//   trainer.sh MODE X
// reports "score" = X * epoch and "resumed_from" (its HPO_FROM_EPOCH) for
// each epoch, EPOCH_SLEEP seconds apart, checks that a checkpoint it resumes
// from holds HPO_FROM_EPOCH, and appends its pid (and its children's) to
// $PID_DIR/pids. MODE: ok; crash (a traceback on stderr, exit 1); config
// (exit 78); hang (its first attempt sleeps in epoch 1); ignore_term (it
// ignores SIGTERM, so only SIGKILL stops it); linger (it does not end after
// its checkpoint line).
constexpr char kScript[] = R"(#!/bin/sh
mode=$1
x=$2
echo $$ >> "$PID_DIR/pids"
[ "$mode" = ignore_term ] && trap '' TERM
case "$mode" in
  crash)
    echo "Traceback (most recent call last):" >&2
    echo "ValueError: boom in trial $HPO_TRIAL" >&2
    exit 1;;
  config)
    echo "--x must be positive" >&2
    exit 78;;
esac
echo "trial $HPO_TRIAL: epochs $HPO_FROM_EPOCH..$HPO_TO_EPOCH"
e=$HPO_FROM_EPOCH
if [ -n "$HPO_CHECKPOINT" ]; then
  read saved < "$HPO_CHECKPOINT"
  [ "$saved" = "$e" ] || { echo "checkpoint holds $saved, not $e" >&2; exit 3; }
fi
while [ "$e" -lt "$HPO_TO_EPOCH" ]; do
  e=$((e + 1))
  if [ "$mode" = hang ] && [ "$HPO_ATTEMPT" = 1 ]; then
    sleep 1000 &
    echo $! >> "$PID_DIR/pids"
    wait
  fi
  sleep "${EPOCH_SLEEP:-0.02}" &
  echo $! >> "$PID_DIR/pids"
  wait
  echo "hpo-metrics {\"epoch\": $e, \"score\": $(awk "BEGIN{print $x * $e}"), \"resumed_from\": $HPO_FROM_EPOCH}"
done
echo "$e" > "$HPO_CHECKPOINT_DIR/state-$e.txt"
echo "hpo-checkpoint {\"epoch\": $e, \"path\": \"state-$e.txt\"}"
if [ "$mode" = linger ]; then
  sleep 1000 &
  echo $! >> "$PID_DIR/pids"
  wait
fi
)";

// Whether `pid` is a live process (a zombie is not).
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() &&
         text[paren + 2] != 'Z';
}

class CommandTrainerTest : public testutil::ProcessClusterTest {
 protected:
  CommandTrainerTest() : ProcessClusterTest("hpo_command") {}

  void SetUp() override {
    ProcessClusterTest::SetUp();
    script_ = dir_ + "/trainer.sh";
    std::ofstream(script_) << kScript;
    fs::permissions(script_, fs::perms::owner_all);
    fs::create_directories(dir_ + "/pids");
  }

  // A study running the shell script; `argv` after the script.
  json ShellStudy(const std::string& name, const json& argv) const {
    json command = json::array({script_});
    for (const json& a : argv) command.push_back(a);
    return {
        {"name", name},
        {"seed", 3},
        {"objective", {{"metric", "score"}, {"mode", "max"}}},
        {"trainer",
         {{"command", command}, {"env", {{"PID_DIR", dir_ + "/pids"}}}}},
        {"search_space",
         {{"x", {{"type", "uniform"}, {"low", 0.1}, {"high", 1.0}}}}},
        {"execution",
         {{"heartbeat_s", 0.5}, {"lease_timeout_s", 10}, {"stop_grace_s", 1}}}};
  }

  // Runs `study` with `workers` workers (one slot each, --allow-commands)
  // to the end; returns the database path.
  std::string Run(const json& study, int workers = 2,
                  const std::vector<std::string>& worker_extra = {}) {
    const std::string file =
        WriteStudy(study, study["name"].get<std::string>() + ".json");
    const std::string db =
        dir_ + "/" + study["name"].get<std::string>() + ".db";
    std::string endpoint;
    testutil::Process* coordinator =
        StartCoordinator(file, db, "tcp://127.0.0.1:*", false, &endpoint);
    std::vector<testutil::Process*> started;
    for (int i = 0; i < workers; ++i) {
      std::vector<std::string> extra = {"--data", dir_, "--checkpoints",
                                        dir_ + "/ck", "--exit-when-done"};
      if (allow_commands_) extra.push_back("--allow-commands");
      extra.insert(extra.end(), worker_extra.begin(), worker_extra.end());
      started.push_back(
          StartWorker(endpoint, "w" + std::to_string(i + 1), extra));
    }
    EXPECT_EQ(coordinator->Wait(240), 0) << coordinator->log();
    // --exit-when-done: each worker ends once its programs have.
    for (testutil::Process* w : started) EXPECT_EQ(w->Wait(30), 0) << w->log();
    return db;
  }

  std::vector<pid_t> RecordedPids() const {
    std::ifstream in(dir_ + "/pids/pids");
    std::vector<pid_t> pids;
    for (pid_t p; in >> p;) pids.push_back(p);
    return pids;
  }

  // Makes small shards at DIR/shards/demo, where the examples' studies
  // look (data.shards, relative to the workers' --data).
  void MakeShards() {
    auto r = RunCommand(
        {HPO_PREP, "synth", "--out", dir_ + "/synth", "--classes", "3",
         "--tracks-per-class", "12", "--seconds", "2", "--seed", "5"},
        dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    r = RunCommand(
        {HPO_PREP, "fma", "--metadata", dir_ + "/synth/tracks.csv", "--audio",
         dir_ + "/synth/audio", "--out", dir_ + "/shards/demo", "--n-mels",
         "32", "--frames", "32", "--segments", "2", "--min-seconds", "1"},
        dir_);
    ASSERT_EQ(r.code, 0) << r.err;
  }

  std::string script_;
  bool allow_commands_ = true;
};

TEST_F(CommandTrainerTest, AShellScriptRunsHyperbandAndResumesPromotedTrials) {
  json study = ShellStudy("shell_hyperband", {"ok", "{x}"});
  study["algorithm"] = {
      {"type", "hyperband"}, {"min_epochs", 1}, {"max_epochs", 9}, {"eta", 3}};
  const std::string db = Run(study);
  auto store = Store::Open(db, /*read_only=*/true);
  const StudyRow s = store->Studies().at(0);
  EXPECT_EQ(s.state, "complete");
  const std::vector<TrialRow> trials = store->Trials(s.id);
  // The plan: 9 + 5 + 3 trials (hpo-coordinator --plan).
  EXPECT_EQ(trials.size(), 17u);
  int promoted = 0;
  for (const TrialRow& t : trials) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << t.number << ": " << t.error;
    // The objective is the script's own metric, X * epoch.
    ASSERT_TRUE(t.value) << t.number;
    EXPECT_NEAR(*t.value, t.params.at("x").get<double>() * t.epochs, 1e-4);
    std::map<int, json> by_epoch;
    for (const MetricRow& m : store->Metrics(s.id, t.number)) {
      by_epoch[m.epoch] = m.metrics;
    }
    ASSERT_EQ(static_cast<int>(by_epoch.size()), t.epochs) << t.number;
    // Each run of the program starts after a rung (1, 3 or 9 epochs): a
    // promoted trial's program ran again from its checkpoint.
    std::set<int> starts;
    for (const auto& [epoch, metrics] : by_epoch) {
      starts.insert(metrics.at("resumed_from").get<int>());
    }
    for (int start : starts) {
      EXPECT_TRUE(start == 0 || start == 1 || start == 3) << start;
    }
    promoted += starts.size() > 1;
    // Only the newest checkpoint is kept: the one the coordinator holds.
    if (t.state == TrialState::kComplete) {
      const fs::path trial_dir =
          fs::path(dir_ + "/ck/" + t.checkpoint).parent_path();
      int files = 0;
      for (const auto& entry : fs::directory_iterator(trial_dir)) {
        files += entry.is_regular_file();
      }
      EXPECT_EQ(files, 1) << trial_dir;
      EXPECT_TRUE(fs::exists(dir_ + "/ck/" + t.checkpoint)) << t.checkpoint;
    }
  }
  // Bracket s=2 promotes 3 trials (one of them twice), s=1 one.
  EXPECT_EQ(promoted, 4);
  EXPECT_NE(ReadFile(dir_ + "/coordinator-1.log").find("trainer.command"),
            std::string::npos);
  for (pid_t pid : RecordedPids()) EXPECT_FALSE(Alive(pid)) << pid;
}

TEST_F(CommandTrainerTest, ACrashFailsItsAttemptWithStderrAndTheWorkerGoesOn) {
  json study = ShellStudy("shell_crash", {"{mode}", "{x}"});
  study["search_space"]["mode"] = {{"type", "choice"},
                                   {"values", {"ok", "crash", "config"}}};
  study["algorithm"] = {{"type", "random"}, {"max_epochs", 2}};
  study["budget"] = {{"max_trials", 4}};
  study["execution"]["max_attempts"] = 2;
  study["enqueue"] = {{{"mode", "crash"}},
                      {{"mode", "config"}},
                      {{"mode", "ok"}},
                      {{"mode", "ok"}}};
  const std::string db = Run(study, 1);
  auto store = Store::Open(db, true);
  const StudyRow s = store->Studies().at(0);
  const std::vector<TrialRow> trials = store->Trials(s.id);
  ASSERT_EQ(trials.size(), 4u);
  // A crash (exit 1) is retried, then fails the trial; each attempt keeps
  // the end of stderr.
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_EQ(trials[0].attempts, 2);
  for (const AttemptRow& a : store->Attempts(s.id, 0)) {
    EXPECT_EQ(a.state, "failed");
    EXPECT_NE(a.reason.find("exit code 1"), std::string::npos) << a.reason;
    EXPECT_NE(a.reason.find("ValueError: boom in trial 0"), std::string::npos)
        << a.reason;
  }
  // Exit 78 says the configuration cannot work: not retried.
  EXPECT_EQ(trials[1].state, TrialState::kFailed);
  EXPECT_EQ(trials[1].attempts, 1);
  EXPECT_NE(trials[1].error.find("--x must be positive"), std::string::npos)
      << trials[1].error;
  // The same worker took the next jobs.
  EXPECT_EQ(trials[2].state, TrialState::kComplete);
  EXPECT_EQ(trials[3].state, TrialState::kComplete);
  EXPECT_EQ(trials[3].worker, "w1");
}

TEST_F(CommandTrainerTest, AHangingProgramIsKilledAndItsAttemptRetried) {
  json study = ShellStudy("shell_hang", {"{mode}", "{x}"});
  study["search_space"]["mode"] = {{"type", "choice"},
                                   {"values", {"ok", "hang"}}};
  study["algorithm"] = {{"type", "random"}, {"max_epochs", 2}};
  study["budget"] = {{"max_trials", 1}};
  study["enqueue"] = {{{"mode", "hang"}}};
  study["execution"]["epoch_timeout_s"] = 1;
  const std::string db = Run(study, 1);
  auto store = Store::Open(db, true);
  const StudyRow s = store->Studies().at(0);
  const TrialRow t = store->Trials(s.id).at(0);
  EXPECT_EQ(t.state, TrialState::kComplete) << t.error;
  EXPECT_EQ(t.attempts, 2);
  const std::vector<AttemptRow> attempts = store->Attempts(s.id, 0);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, "failed");
  EXPECT_NE(attempts[0].reason.find("execution.epoch_timeout_s"),
            std::string::npos)
      << attempts[0].reason;
  // The hanging program and its `sleep 1000` are gone.
  for (pid_t pid : RecordedPids()) EXPECT_FALSE(Alive(pid)) << pid;
}

TEST_F(CommandTrainerTest, AProgramLingeringAfterItsCheckpointIsStopped) {
  json study = ShellStudy("shell_linger", {"{mode}", "{x}"});
  study["search_space"]["mode"] = {{"type", "choice"},
                                   {"values", {"ok", "linger"}}};
  study["algorithm"] = {{"type", "random"}, {"max_epochs", 2}};
  study["budget"] = {{"max_trials", 1}};
  study["enqueue"] = {{{"mode", "linger"}}};
  const std::string db = Run(study, 1);
  auto store = Store::Open(db, true);
  const TrialRow t = store->Trials(store->Studies().at(0).id).at(0);
  // Its work was done: the trial completes on its first attempt, with the
  // checkpoint it reported.
  EXPECT_EQ(t.state, TrialState::kComplete) << t.error;
  EXPECT_EQ(t.attempts, 1);
  EXPECT_EQ(t.checkpoint, "shell_linger/trial-00000/state-2.txt");
  EXPECT_NE(ReadFile(dir_ + "/w1.log")
                .find("did not end within execution.stop_grace_s"),
            std::string::npos);
  for (pid_t pid : RecordedPids()) EXPECT_FALSE(Alive(pid)) << pid;
}

TEST_F(CommandTrainerTest, AStoppedTrialsProgramIsGoneWithinTheGracePeriod) {
  // Median stopping: two good trials complete, then two poor ones are
  // stopped mid-job; one of them ignores SIGTERM.
  json study = ShellStudy("shell_stop", {"{mode}", "{x}"});
  study["search_space"]["mode"] = {{"type", "choice"},
                                   {"values", {"ok", "ignore_term"}}};
  study["trainer"]["env"]["EPOCH_SLEEP"] = "0.3";
  study["algorithm"] = {{"type", "median"},
                        {"max_epochs", 6},
                        {"warmup_epochs", 1},
                        {"min_trials", 2}};
  study["budget"] = {{"max_trials", 4}};
  study["enqueue"] = {{{"mode", "ok"}, {"x", 0.9}},
                      {{"mode", "ok"}, {"x", 0.8}},
                      {{"mode", "ok"}, {"x", 0.1}},
                      {{"mode", "ignore_term"}, {"x", 0.1}}};
  const std::string db = Run(study, 1);
  auto store = Store::Open(db, true);
  const StudyRow s = store->Studies().at(0);
  const std::vector<TrialRow> trials = store->Trials(s.id);
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[2].state, TrialState::kPruned);
  EXPECT_EQ(trials[3].state, TrialState::kPruned);
  EXPECT_LT(trials[3].epochs, 6);
  const std::string log = ReadFile(dir_ + "/w1.log");
  // SIGTERM ended the plain script; the one ignoring it got SIGKILL once
  // the grace period (1 s) was over.
  EXPECT_NE(log.find("trial 2: stopped the program (killed by SIGTERM"),
            std::string::npos)
      << log;
  const size_t at = log.find("trial 3: stopped the program (killed by SIGKILL");
  ASSERT_NE(at, std::string::npos) << log;
  const int ms = std::atoi(log.c_str() + log.find(", ", at) + 2);
  EXPECT_GE(ms, 900);
  EXPECT_LT(ms, 3000);
  for (pid_t pid : RecordedPids()) EXPECT_FALSE(Alive(pid)) << pid;
}

TEST_F(CommandTrainerTest, AWorkerKilledBySigkillTakesItsProgramsWithIt) {
  json study = ShellStudy("shell_kill", {"ok", "{x}"});
  study["trainer"]["env"]["EPOCH_SLEEP"] = "30";
  study["algorithm"] = {{"type", "random"}, {"max_epochs", 3}};
  study["budget"] = {{"max_trials", 2}};
  const std::string file = WriteStudy(study, "kill.json");
  std::string endpoint;
  StartCoordinator(file, dir_ + "/kill.db", "tcp://127.0.0.1:*", false,
                   &endpoint);
  testutil::Process* worker =
      StartWorker(endpoint, "w1",
                  {"--data", dir_, "--checkpoints", dir_ + "/ck", "--slots",
                   "2", "--allow-commands"});
  // Both programs and their sleeps have started.
  ASSERT_TRUE(WaitFor([&] { return RecordedPids().size() >= 4; }, 30))
      << worker->log();
  for (pid_t pid : RecordedPids()) ASSERT_TRUE(Alive(pid)) << pid;
  worker->Signal(SIGKILL);
  EXPECT_TRUE(WaitFor(
      [&] {
        for (pid_t pid : RecordedPids()) {
          if (Alive(pid)) return false;
        }
        return true;
      },
      10));
}

TEST_F(CommandTrainerTest, WithoutAllowCommandsAWorkerRefusesTheStudy) {
  json study = ShellStudy("shell_refused", {"ok", "{x}"});
  study["algorithm"] = {{"type", "random"}, {"max_epochs", 1}};
  study["budget"] = {{"max_trials", 2}};
  const std::string file = WriteStudy(study, "refused.json");
  std::string endpoint;
  testutil::Process* coordinator = StartCoordinator(
      file, dir_ + "/refused.db", "tcp://127.0.0.1:*", false, &endpoint);
  testutil::Process* refusing = StartWorker(
      endpoint, "plain", {"--data", dir_, "--checkpoints", dir_ + "/ck"});
  EXPECT_EQ(refusing->Wait(30), 2) << refusing->log();
  EXPECT_NE(refusing->log().find("start hpo-worker with --allow-commands"),
            std::string::npos)
      << refusing->log();
  EXPECT_TRUE(RecordedPids().empty());
  // The study goes on with a worker that allows commands.
  StartWorker(endpoint, "allowed",
              {"--data", dir_, "--checkpoints", dir_ + "/ck",
               "--exit-when-done", "--allow-commands"});
  EXPECT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  auto store = Store::Open(dir_ + "/refused.db", true);
  for (const TrialRow& t : store->Trials(store->Studies().at(0).id)) {
    EXPECT_EQ(t.state, TrialState::kComplete) << t.error;
  }
}

// examples/pytorch_script as its README runs it: the study file as written
// (only told where train.py is), on small hpo-prep shards, with Debian's
// python3 and PyTorch.
TEST_F(CommandTrainerTest, ThePytorchScriptExampleRunsItsHyperbandPlan) {
  const std::string source = std::getenv("HPO_SOURCE_DIR");
  ASSERT_NO_FATAL_FAILURE(MakeShards());
  const std::string example = source + "/examples/pytorch_script";
  json study = json::parse(ReadFile(example + "/study.json"));
  study["trainer"]["cwd"] = example;
  // "python3" is Debian's, with python3-torch.
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", ("/usr/bin:" + path).c_str(), 1);
  const std::string db = Run(study);
  setenv("PATH", path.c_str(), 1);
  auto store = Store::Open(db, true);
  const StudyRow s = store->Studies().at(0);
  EXPECT_EQ(s.state, "complete");
  const std::vector<TrialRow> trials = store->Trials(s.id);
  EXPECT_EQ(trials.size(), 17u);
  int resumed = 0;
  double best = 0;
  for (const TrialRow& t : trials) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << t.number << ": " << t.error;
    if (t.best_value) best = std::max(best, *t.best_value);
    for (const MetricRow& m : store->Metrics(s.id, t.number)) {
      const int from = m.metrics.at("resumed_from").get<int>();
      EXPECT_LT(from, m.epoch);
      // The script resumed from the checkpoint of the rung it was
      // promoted from.
      if (from > 0 && m.epoch == from + 1) ++resumed;
    }
  }
  EXPECT_EQ(resumed, 5);
  EXPECT_GT(best, 0.45) << "chance is 1/3";
}

// examples/torchscript as its README runs it: export.py writes two CNNs as
// TorchScript, and the study file as written trains them with hpo's own
// trainer (no --allow-commands: nothing but hpo runs), test split included.
TEST_F(CommandTrainerTest, TheTorchScriptExampleRunsItsHyperbandPlan) {
  const std::string source = std::getenv("HPO_SOURCE_DIR");
  ASSERT_NO_FATAL_FAILURE(MakeShards());
  auto r = RunCommand(
      {"/usr/bin/python3", source + "/examples/torchscript/export.py",
       "--shards", dir_ + "/shards/demo", "--out", dir_ + "/nets"},
      dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  allow_commands_ = false;
  const std::string db =
      Run(json::parse(ReadFile(source + "/examples/torchscript/study.json")));
  auto store = Store::Open(db, true);
  const StudyRow s = store->Studies().at(0);
  EXPECT_EQ(s.state, "complete");
  const std::vector<TrialRow> trials = store->Trials(s.id);
  EXPECT_EQ(trials.size(), 17u);
  std::set<std::string> modules;
  double best = 0;
  for (const TrialRow& t : trials) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << t.number << ": " << t.error;
    modules.insert(t.params.at("module").get<std::string>());
    if (t.best_value) best = std::max(best, *t.best_value);
  }
  EXPECT_EQ(modules.size(), 2u);
  EXPECT_GT(best, 0.45) << "chance is 1/3";
  // Promoted trials went on from their checkpoints.
  int resumed = 0;
  for (const AttemptRow& a : store->Attempts(s.id)) resumed += a.from_epoch > 0;
  EXPECT_GE(resumed, 1);
  const std::vector<EvaluationRow> evaluations = store->Evaluations(s.id);
  ASSERT_EQ(evaluations.size(), 1u);
  EXPECT_EQ(evaluations[0].state, "done") << evaluations[0].error;
  EXPECT_EQ(evaluations[0].epoch, 9);
}

}  // namespace
}  // namespace hpo
