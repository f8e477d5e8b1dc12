// Runs the real hpo-query binary on results databases written through
// hpo::Store: every command in the JSON, CSV and table outputs, filters,
// exit codes and messages for bad usage and bad trial numbers, version 1
// files, and reading while a writer holds a batch open.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/store.h"
#include "common/trial_state.h"
#include "tests/util/skip.h"

extern char** environ;

namespace hpo {
namespace {

using nlohmann::json;

struct Output {
  int exit_code = -1;
  std::string out;  // stdout.
  std::string err;  // stderr.
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `program` (a path, or a name looked up in PATH) with `args` (no
// shell, so no quoting) and collects its stdout, stderr and exit code. The
// exit code is -1 when it cannot start.
Output RunProgram(const std::string& program,
                  const std::vector<std::string>& args) {
  // A file of its own, as tests may run in parallel (ctest -j).
  std::string err_path = testing::TempDir() + "/hpo_query_stderr_XXXXXX";
  int err_fd = mkstemp(err_path.data());
  EXPECT_GE(err_fd, 0) << err_path;
  close(err_fd);
  int out_pipe[2];
  EXPECT_EQ(pipe(out_pipe), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, out_pipe[1]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_strings = {program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(),
                        environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  Output output;
  if (rc != 0) {
    close(out_pipe[0]);
    std::remove(err_path.c_str());
    return output;
  }
  char buffer[4096];
  ssize_t n;
  while ((n = read(out_pipe[0], buffer, sizeof buffer)) > 0) {
    output.out.append(buffer, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  output.err = ReadFile(err_path);
  std::remove(err_path.c_str());
  return output;
}

Output RunQuery(const std::vector<std::string>& args) {
  Output output = RunProgram(HPO_QUERY, args);
  EXPECT_NE(output.exit_code, -1) << "cannot start " << HPO_QUERY;
  return output;
}

// A minimal RFC 4180 reader: records of fields, CRLF or LF line ends.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      record.push_back(field);
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      record.push_back(field);
      field.clear();
      records.push_back(record);
      record.clear();
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  EXPECT_TRUE(field.empty() && record.empty()) << "no line end at the end";
  return records;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

// The first line of `lines` that starts with `prefix`; "" when none does.
std::string LineStarting(const std::vector<std::string>& lines,
                         const std::string& prefix) {
  for (const std::string& line : lines) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

// The index of column `name` in a CSV header; fails the test when absent.
size_t Column(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  ADD_FAILURE() << "no column " << name;
  return header.size();
}

constexpr char kFailure[] = "diverged: loss is NaN, \"lr\" too high\nepoch 3";

TrialRow Trial(int64_t number, TrialState state, json params,
               std::optional<double> value, int epochs) {
  TrialRow trial;
  trial.number = number;
  trial.state = state;
  trial.params = std::move(params);
  trial.value = value;
  trial.best_value = value;
  trial.epochs = epochs;
  trial.attempts = epochs > 0 ? 1 : 0;
  trial.worker = epochs > 0 ? "gpu-node1/cuda:0" : "";
  trial.updated_at = 1700000000;
  return trial;
}

StudyRow Study(const std::string& name, const std::string& algorithm,
               const std::string& mode) {
  StudyRow study;
  study.name = name;
  study.spec = "{}";
  study.spec_hash = HashText(study.spec);
  study.algorithm = algorithm;
  study.metric = mode == "max" ? "val_accuracy" : "val_loss";
  study.mode = mode;
  study.state = "running";
  study.created_at = 1700000000;
  study.updated_at = 1700000100;
  study.elapsed_s = 125.5;
  return study;
}

class QueryTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "/hpo_query_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/results.db";
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Writes two studies: "lr_sweep" (hyperband, max) with five trials in
  // different states, and "asha_demo" (asha, min) with one.
  void WriteTwoStudies() {
    std::unique_ptr<Store> store = Store::Open(db_);
    int64_t sweep = store->CreateStudy(Study("lr_sweep", "hyperband", "max"));
    TrialRow best =
        Trial(0, TrialState::kComplete,
              {{"lr", 0.001}, {"batch_size", 32}, {"scheduler", "onecycle"}},
              0.61, 27);
    best.best_value = 0.63;
    best.bracket = 2;
    best.rung = 3;
    store->PutTrial(sweep, best);
    store->PutTrial(sweep, Trial(1, TrialState::kPruned,
                                 {{"lr", 0.1},
                                  {"batch_size", 64},
                                  {"scheduler", "cyclic, \"wide\""},
                                  {"cyclic_max_lr_factor", 4.5}},
                                 0.25, 3));
    TrialRow failed =
        Trial(2, TrialState::kFailed,
              {{"lr", 0.05}, {"batch_size", 16}, {"channels", {32, 64}}},
              std::nullopt, 2);
    failed.error = kFailure;
    store->PutTrial(sweep, failed);
    store->PutTrial(sweep, Trial(3, TrialState::kRunning,
                                 {{"lr", 2e-5}, {"batch_size", 128}}, 0.4, 1));
    store->PutTrial(
        sweep, Trial(4, TrialState::kQueued, {{"lr", 3e-4}, {"batch_size", 48}},
                     std::nullopt, 0));
    MetricRow metrics;
    metrics.trial = 0;
    metrics.epoch = 1;
    metrics.metrics = {{"val_accuracy", 0.61}, {"train_loss", 1.2}};
    metrics.objective = 0.61;
    metrics.recorded_at = 1700000050;
    store->PutMetrics(sweep, metrics);
    StudyRow demo_row = Study("asha_demo", "asha", "min");
    demo_row.spec =
        R"({"algorithm": {"type": "asha", "sampler": {"type": "tpe",
            "multivariate": true}}, "enqueue": [{"lr": 0.01}]})";
    demo_row.spec_hash = HashText(demo_row.spec);
    int64_t demo = store->CreateStudy(demo_row);
    store->PutTrial(demo,
                    Trial(0, TrialState::kComplete, {{"lr", 0.01}}, 1.5, 9));
    store->Commit();
  }

  // Writes one study, "solo", with two complete trials.
  void WriteOneStudy() {
    std::unique_ptr<Store> store = Store::Open(db_);
    int64_t solo = store->CreateStudy(Study("solo", "random", "max"));
    store->PutTrial(solo,
                    Trial(0, TrialState::kComplete, {{"lr", 0.01}}, 0.5, 5));
    store->PutTrial(solo,
                    Trial(1, TrialState::kComplete, {{"lr", 0.02}}, 0.7, 5));
    store->Commit();
  }

  // Writes one study, "fma_cnn" (max val_accuracy), as a finished study
  // leaves it: trial 0, complete, restarted once after a lost worker, with
  // three epochs and a test-split evaluation; trial 1, complete but worse;
  // trial 2, pruned with a higher value (after one epoch); trial 3, failed;
  // trial 4, queued. Returns the study's id.
  int64_t WriteEvaluatedStudy() {
    std::unique_ptr<Store> store = Store::Open(db_);
    StudyRow spec = Study("fma_cnn", "asha", "max");
    int64_t study = store->CreateStudy(spec);
    TrialRow best = Trial(0, TrialState::kComplete,
                          {{"lr", 0.0012345678901},
                           {"batch_size", 32},
                           {"scheduler", "onecycle"}},
                          0.61, 3);
    best.best_value = 0.63;
    best.attempts = 2;
    best.rung = 1;
    best.worker = "gpu-node2/cuda:1";
    best.checkpoint = "fma_cnn/trial-00000/epoch-0003.pt";
    best.checkpoint_epoch = 3;
    store->PutTrial(study, best);
    AttemptRow lost;
    lost.trial = 0;
    lost.attempt = 1;
    lost.lease = 11;
    lost.worker = "gpu-node1/cuda:0";
    lost.from_epoch = 0;
    lost.to_epoch = 3;
    lost.state = "running";
    lost.started_at = 1700000000;  // 2023-11-14 22:13:20 UTC.
    int64_t first = store->AddAttempt(study, lost);
    store->EndAttempt(first, "lost", "no heartbeat for 20 s", 1700000030);
    AttemptRow retry = lost;
    retry.attempt = 2;
    retry.lease = 12;
    retry.worker = "gpu-node2/cuda:1";
    retry.from_epoch = 1;
    int64_t second = store->AddAttempt(study, retry);
    store->EndAttempt(second, "done", "", 1700000090);
    const double accuracy[] = {0.4, 0.63, 0.61};
    for (int epoch = 1; epoch <= 3; ++epoch) {
      MetricRow m;
      m.trial = 0;
      m.epoch = epoch;
      m.attempt_id = epoch == 1 ? first : second;
      m.metrics = {{"train_loss", 2.0 / epoch},
                   {"val_loss", 1.5 / epoch},
                   {"val_accuracy", accuracy[epoch - 1]},
                   {"lr", 0.001 * epoch},
                   {"grad_norm", 10.0 + epoch}};
      m.objective = accuracy[epoch - 1];
      m.recorded_at = 1700000000 + 20 * epoch;
      store->PutMetrics(study, m);
    }
    TrialRow second_best = Trial(1, TrialState::kComplete,
                                 {{"lr", 0.01}, {"batch_size", 64}}, 0.55, 3);
    store->PutTrial(study, second_best);
    for (int epoch = 1; epoch <= 3; ++epoch) {
      MetricRow m;
      m.trial = 1;
      m.epoch = epoch;
      m.metrics = {{"train_loss", 1.0 / epoch}, {"val_accuracy", 0.5}};
      m.objective = epoch == 3 ? 0.55 : 0.5;
      store->PutMetrics(study, m);
    }
    store->PutTrial(study, Trial(2, TrialState::kPruned,
                                 {{"lr", 0.05}, {"batch_size", 16}}, 0.70, 1));
    MetricRow pruned;
    pruned.trial = 2;
    pruned.epoch = 1;
    pruned.metrics = {{"val_accuracy", 0.70}};
    pruned.objective = 0.70;
    store->PutMetrics(study, pruned);
    TrialRow failed =
        Trial(3, TrialState::kFailed, {{"lr", 0.5}, {"batch_size", 128}},
              std::nullopt, 0);
    failed.error = kFailure;
    store->PutTrial(study, failed);
    store->PutTrial(
        study, Trial(4, TrialState::kQueued,
                     {{"lr", 0.002}, {"batch_size", 48}}, std::nullopt, 0));
    EvaluationRow test;
    test.trial = 0;
    test.state = "done";
    test.checkpoint = best.checkpoint;
    test.epoch = 3;
    test.loss = 1.05;
    test.accuracy = 0.8;
    test.track_accuracy = 0.9;
    test.samples = 30;
    test.tracks = 10;
    test.metrics = {{"test_loss", 1.05},
                    {"test_accuracy", 0.8},
                    {"test_track_accuracy", 0.9},
                    {"samples", 30},
                    {"tracks", 10}};
    test.confusion = {{8, 1, 1}, {2, 6, 2}, {0, 0, 10}};
    test.classes = {"Hip-Hop", "Pop", "Rock"};
    test.worker = "gpu-node2";
    test.recorded_at = 1700000100;
    store->PutEvaluation(study, test);
    store->Commit();
    return study;
  }

  // Writes "pbt_demo" (pbt, max) with four members and three exploits:
  // after epoch 4, trial 2 took trial 0's checkpoint (lr and dropout
  // changed) and trial 3 took trial 1's (lr alone); after epoch 8, trial 3
  // took trial 0's and kept its parameters. Also "plain" (random), with no
  // exploits.
  void WritePbtStudy() {
    std::unique_ptr<Store> store = Store::Open(db_);
    int64_t pbt = store->CreateStudy(Study("pbt_demo", "pbt", "max"));
    for (int64_t n = 0; n < 4; ++n) {
      store->PutTrial(pbt, Trial(n, TrialState::kComplete,
                                 {{"lr", 0.01 * static_cast<double>(n + 1)},
                                  {"dropout", 0.3},
                                  {"batch_size", 32}},
                                 0.5, 12));
    }
    ExploitRow x;
    x.trial = 2;
    x.epoch = 4;
    x.parent = 0;
    x.parent_epoch = 4;
    x.old_params = {{"lr", 0.03}, {"dropout", 0.3}, {"batch_size", 32}};
    x.new_params = {{"lr", 0.012}, {"dropout", 0.24}, {"batch_size", 32}};
    x.recorded_at = 1700000040;
    store->AddExploit(pbt, x);
    x.trial = 3;
    x.parent = 1;
    x.old_params = {{"lr", 0.04}, {"dropout", 0.3}, {"batch_size", 32}};
    x.new_params = {{"lr", 0.0123456789}, {"dropout", 0.3}, {"batch_size", 32}};
    store->AddExploit(pbt, x);
    x.epoch = 8;
    x.parent = 0;
    x.parent_epoch = 8;
    x.old_params = x.new_params;
    x.recorded_at = 1700000080;
    store->AddExploit(pbt, x);
    int64_t plain = store->CreateStudy(Study("plain", "random", "max"));
    store->PutTrial(plain,
                    Trial(0, TrialState::kComplete, {{"lr", 0.01}}, 0.5, 5));
    store->Commit();
  }

  std::string dir_;
  std::string db_;
};

TEST_F(QueryTest, TrialsAsJson) {
  WriteTwoStudies();
  Output out = RunQuery(
      {"--db", db_, "trials", "--study", "lr_sweep", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "");
  json trials = json::parse(out.out);
  ASSERT_TRUE(trials.is_array());
  ASSERT_EQ(trials.size(), 5u);
  const json& best = trials[0];
  EXPECT_EQ(best["number"], 0);
  EXPECT_TRUE(best["number"].is_number_integer());
  EXPECT_EQ(best["state"], "complete");
  EXPECT_EQ(
      best["params"],
      (json{{"lr", 0.001}, {"batch_size", 32}, {"scheduler", "onecycle"}}));
  EXPECT_DOUBLE_EQ(best["value"].get<double>(), 0.61);
  EXPECT_DOUBLE_EQ(best["best_value"].get<double>(), 0.63);
  EXPECT_EQ(best["epochs"], 27);
  EXPECT_EQ(best["attempts"], 1);
  EXPECT_EQ(best["bracket"], 2);
  EXPECT_EQ(best["rung"], 3);
  EXPECT_EQ(best["worker"], "gpu-node1/cuda:0");
  EXPECT_TRUE(best["error"].is_null());
  const json& failed = trials[2];
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_TRUE(failed["value"].is_null());
  EXPECT_EQ(failed["error"], kFailure);
  EXPECT_EQ(failed["params"]["channels"], (json{32, 64}));
  EXPECT_TRUE(trials[4]["worker"].is_null());
  EXPECT_EQ(trials[4]["state"], "queued");
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i]["number"], i);
  }
}

TEST_F(QueryTest, StudiesAsJson) {
  WriteTwoStudies();
  Output out = RunQuery({"--db", db_, "studies", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json studies = json::parse(out.out);
  ASSERT_TRUE(studies.is_array());
  ASSERT_EQ(studies.size(), 2u);
  const json& sweep = studies[0];
  EXPECT_EQ(sweep["name"], "lr_sweep");
  EXPECT_EQ(sweep["state"], "running");
  EXPECT_EQ(sweep["algorithm"], "hyperband");
  EXPECT_EQ(sweep["sampler"], "random");
  EXPECT_EQ(studies[1]["sampler"], "tpe multivariate, 1 enqueued");
  EXPECT_EQ(sweep["metric"], "val_accuracy");
  EXPECT_EQ(sweep["mode"], "max");
  EXPECT_EQ(sweep["trials"], 5);
  EXPECT_EQ(sweep["complete"], 1);
  EXPECT_EQ(sweep["pruned"], 1);
  EXPECT_EQ(sweep["failed"], 1);
  EXPECT_DOUBLE_EQ(sweep["best_value"].get<double>(), 0.61);
  EXPECT_DOUBLE_EQ(sweep["elapsed_s"].get<double>(), 125.5);
  EXPECT_EQ(studies[1]["name"], "asha_demo");
  EXPECT_EQ(studies[1]["mode"], "min");
  EXPECT_DOUBLE_EQ(studies[1]["best_value"].get<double>(), 1.5);

  Output one = RunQuery(
      {"--db", db_, "studies", "--study", "asha_demo", "--format", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  json only = json::parse(one.out);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0]["name"], "asha_demo");
}

TEST_F(QueryTest, TrialsAsCsv) {
  WriteTwoStudies();
  Output out = RunQuery(
      {"--db", db_, "trials", "--study", "lr_sweep", "--format", "csv"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out.substr(0, out.out.find("\r\n")),
            "number,state,value,best_value,epochs,attempts,bracket,rung,"
            "worker,params_batch_size,params_channels,params_cyclic_max_lr_"
            "factor,params_lr,params_scheduler,error");
  std::vector<std::vector<std::string>> rows = ParseCsv(out.out);
  ASSERT_EQ(rows.size(), 6u);
  for (const auto& row : rows) ASSERT_EQ(row.size(), rows[0].size());
  // Trial 0: a whole row.
  EXPECT_EQ(rows[1],
            (std::vector<std::string>{"0", "complete", "0.61", "0.63", "27",
                                      "1", "2", "3", "gpu-node1/cuda:0", "32",
                                      "", "", "0.001", "onecycle", ""}));
  // Quoting: a comma and quotes in a value, an array, a multi-line error.
  EXPECT_EQ(rows[2][13], "cyclic, \"wide\"");
  EXPECT_TRUE(Contains(out.out, "\"cyclic, \"\"wide\"\"\""));
  EXPECT_EQ(rows[3][10], "[32,64]");
  EXPECT_EQ(rows[3][14], kFailure);
  EXPECT_EQ(rows[3][2], "");  // No value: an empty field.
  EXPECT_EQ(rows[4][12], "2e-05");
}

TEST_F(QueryTest, StudiesAsCsvAndEmptyResults) {
  WriteTwoStudies();
  Output studies = RunQuery({"--db", db_, "studies", "--format", "csv"});
  ASSERT_EQ(studies.exit_code, 0) << studies.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(studies.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "name");
  EXPECT_EQ(rows[2][0], "asha_demo");

  // No trial is paused: a header and no rows; JSON: an empty array.
  Output csv = RunQuery({"--db", db_, "trials", "--study", "lr_sweep",
                         "--state", "paused", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(ParseCsv(csv.out).size(), 1u);
  Output json_out = RunQuery({"--db", db_, "trials", "--study", "lr_sweep",
                              "--state", "paused", "--format", "json"});
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  EXPECT_EQ(json::parse(json_out.out), json::array());
}

TEST_F(QueryTest, TableShowsEveryTrial) {
  WriteTwoStudies();
  Output out = RunQuery({"--db", db_, "trials", "--study", "lr_sweep"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::vector<std::string> lines;
  std::istringstream stream(out.out);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  // A header, a rule, five trials, each on one line.
  ASSERT_EQ(lines.size(), 7u) << out.out;
  EXPECT_EQ(lines[0].rfind("number  state", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("------", 0), 0u) << lines[1];
  for (const char* state :
       {"complete", "pruned", "failed", "running", "queued"}) {
    EXPECT_TRUE(Contains(out.out, state)) << state;
  }
  EXPECT_TRUE(Contains(lines[2], "batch_size=32 lr=0.001 scheduler=onecycle"))
      << lines[2];
  EXPECT_TRUE(Contains(lines[4], "channels=[32,64]")) << lines[4];
  EXPECT_TRUE(Contains(lines[4], "diverged: loss is NaN")) << lines[4];
  EXPECT_TRUE(Contains(lines[5], "lr=2e-05")) << lines[5];
  // Columns line up: "state" starts at the same place on every line.
  size_t state_column = lines[0].find("state");
  EXPECT_EQ(lines[2].find("complete"), state_column);
  EXPECT_EQ(lines[6].find("queued"), state_column);

  Output studies = RunQuery({"--db", db_, "studies"});
  ASSERT_EQ(studies.exit_code, 0) << studies.err;
  EXPECT_TRUE(Contains(studies.out, "lr_sweep")) << studies.out;
  EXPECT_TRUE(Contains(studies.out, "asha_demo")) << studies.out;
}

TEST_F(QueryTest, StateFilter) {
  WriteTwoStudies();
  Output out = RunQuery({"--db", db_, "trials", "--study", "lr_sweep",
                         "--state", "pruned", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json trials = json::parse(out.out);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0]["number"], 1);
  EXPECT_EQ(trials[0]["state"], "pruned");

  Output bad = RunQuery(
      {"--db", db_, "trials", "--study", "lr_sweep", "--state", "runing"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_TRUE(Contains(bad.err,
                       "--state runing: unknown state (did you mean "
                       "\"running\"?)"))
      << bad.err;
  EXPECT_TRUE(Contains(bad.err,
                       "queued, running, paused, complete, pruned, "
                       "failed, lost"))
      << bad.err;
}

TEST_F(QueryTest, UnknownStudyNamesTheStudies) {
  WriteTwoStudies();
  Output out = RunQuery({"--db", db_, "trials", "--study", "lr_swep"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err, db_ +
                         ": no study named \"lr_swep\" (did you mean "
                         "\"lr_sweep\"?); it holds lr_sweep, asha_demo (pass "
                         "one of them with --study)\n");
}

TEST_F(QueryTest, StudyMayBeLeftOutOnlyWhenThereIsOne) {
  WriteTwoStudies();
  Output two = RunQuery({"--db", db_, "trials"});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_TRUE(Contains(two.err, "--study")) << two.err;
  EXPECT_TRUE(Contains(two.err, "lr_sweep, asha_demo")) << two.err;

  db_ = dir_ + "/solo.db";
  WriteOneStudy();
  Output one = RunQuery({"--db", db_, "trials", "--format", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out).size(), 2u);
}

TEST_F(QueryTest, MissingDatabaseIsNotCreated) {
  std::string missing = dir_ + "/missing.db";
  Output out = RunQuery({"--db", missing, "studies"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err.rfind(missing + ": no such file", 0), 0u) << out.err;
  struct stat info;
  EXPECT_NE(stat(missing.c_str(), &info), 0) << "hpo-query created " << missing;

  Output none = RunQuery({"studies"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(Contains(none.err, "--db FILE is required")) << none.err;

  std::string empty = dir_ + "/empty.db";
  std::ofstream(empty).close();
  Output empty_out = RunQuery({"--db", empty, "studies"});
  EXPECT_EQ(empty_out.exit_code, 2);
  EXPECT_TRUE(Contains(empty_out.err, "not an hpo results database"))
      << empty_out.err;

  Output directory = RunQuery({"--db", dir_, "studies"});
  EXPECT_EQ(directory.exit_code, 2);
  EXPECT_TRUE(Contains(directory.err, "is a directory")) << directory.err;
}

TEST_F(QueryTest, NotAResultsDatabase) {
  std::ofstream(db_) << "name,value\nx,1\n";
  Output out = RunQuery({"--db", db_, "studies"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err.rfind(db_ + ": ", 0), 0u) << out.err;
}

TEST_F(QueryTest, UsageErrorsExitTwo) {
  WriteTwoStudies();
  Output format = RunQuery({"--db", db_, "studies", "--format", "xml"});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_TRUE(Contains(format.err,
                       "--format xml: unknown format; use table, "
                       "csv or json"))
      << format.err;

  Output command = RunQuery({"--db", db_, "trails"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(Contains(command.err,
                       "unknown command \"trails\" (did you "
                       "mean \"trials\"?); use one of studies, "
                       "trials"))
      << command.err;

  Output no_command = RunQuery({"--db", db_});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_TRUE(Contains(no_command.err, "studies, trials")) << no_command.err;

  EXPECT_EQ(RunQuery({"--db", db_, "studies", "--state", "failed"}).exit_code,
            2);
  EXPECT_EQ(RunQuery({"--db", db_, "trials", "extra"}).exit_code, 2);
  EXPECT_EQ(RunQuery({"--db", db_, "studies", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(RunQuery({"--db"}).exit_code, 2);

  Output help = RunQuery({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(Contains(help.out, "--format")) << help.out;
  EXPECT_TRUE(Contains(help.out, "trials [--study NAME] [--state STATE]"))
      << help.out;
  for (const char* synopsis :
       {"best [--study NAME]", "trial ID [--study NAME]",
        "curves ID... | all [--study NAME]",
        "export [--study NAME] [--state STATE]", "lineage [--study NAME]"}) {
    EXPECT_TRUE(Contains(help.out, synopsis)) << help.out;
  }
}

TEST_F(QueryTest, BestAsTableShowsTestResultsAndConfusionMatrix) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "best"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "");
  std::vector<std::string> lines = Lines(out.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0],
            "study fma_cnn: best trial (complete trials first, then highest "
            "val_accuracy)");
  // The trial as a record: the complete trial 0, not the pruned trial 2
  // with its higher value.
  EXPECT_EQ(LineStarting(lines, "  trial "), "  trial             0");
  EXPECT_EQ(LineStarting(lines, "  state "), "  state             complete");
  EXPECT_EQ(LineStarting(lines, "  objective "),
            "  objective         val_accuracy (max)");
  EXPECT_EQ(LineStarting(lines, "  value "), "  value             0.61");
  EXPECT_EQ(LineStarting(lines, "  best_value "), "  best_value        0.63");
  EXPECT_EQ(LineStarting(lines, "  checkpoint "),
            "  checkpoint        fma_cnn/trial-00000/epoch-0003.pt");
  // Parameters in full, to copy into a study file.
  EXPECT_EQ(LineStarting(lines, "  lr "), "  lr          0.0012345678901");
  EXPECT_EQ(LineStarting(lines, "  scheduler "), "  scheduler   onecycle");
  // The test split.
  EXPECT_EQ(LineStarting(lines, "test split"), "test split");
  EXPECT_EQ(LineStarting(lines, "  accuracy "), "  accuracy        0.8");
  EXPECT_EQ(LineStarting(lines, "  track_accuracy "), "  track_accuracy  0.9");
  EXPECT_EQ(LineStarting(lines, "  loss "), "  loss            1.05");
  EXPECT_EQ(LineStarting(lines, "  tracks "), "  tracks          10");
  // The confusion matrix: true classes down, predictions across, recall.
  auto grid = std::find(lines.begin(), lines.end(),
                        "confusion matrix (segments; rows: true class, "
                        "columns: predicted)");
  ASSERT_NE(grid, lines.end()) << out.out;
  ASSERT_EQ(lines.end() - grid, 6) << out.out;
  EXPECT_EQ(grid[1], "  true \\ predicted  Hip-Hop  Pop  Rock  recall");
  EXPECT_EQ(grid[2], "  ----------------  -------  ---  ----  ------");
  EXPECT_EQ(grid[3], "  Hip-Hop                 8    1     1     0.8");
  EXPECT_EQ(grid[4], "  Pop                     2    6     2     0.6");
  EXPECT_EQ(grid[5], "  Rock                    0    0    10       1");
}

TEST_F(QueryTest, BestAsJson) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json best = json::parse(out.out);
  ASSERT_TRUE(best.is_object()) << out.out;
  EXPECT_EQ(best["study"], "fma_cnn");
  EXPECT_EQ(best["trial"], 0);
  EXPECT_EQ(best["state"], "complete");
  EXPECT_EQ(best["metric"], "val_accuracy");
  EXPECT_EQ(best["mode"], "max");
  EXPECT_DOUBLE_EQ(best["value"].get<double>(), 0.61);
  EXPECT_DOUBLE_EQ(best["best_value"].get<double>(), 0.63);
  EXPECT_EQ(best["epochs"], 3);
  EXPECT_EQ(best["attempts"], 2);
  EXPECT_EQ(best["checkpoint_epoch"], 3);
  EXPECT_EQ(best["params"], (json{{"lr", 0.0012345678901},
                                  {"batch_size", 32},
                                  {"scheduler", "onecycle"}}));
  const json& test = best["test"];
  ASSERT_TRUE(test.is_object()) << out.out;
  EXPECT_EQ(test["split"], "test");
  EXPECT_EQ(test["state"], "done");
  EXPECT_TRUE(test["error"].is_null());
  EXPECT_DOUBLE_EQ(test["loss"].get<double>(), 1.05);
  EXPECT_DOUBLE_EQ(test["accuracy"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(test["track_accuracy"].get<double>(), 0.9);
  EXPECT_EQ(test["samples"], 30);
  EXPECT_EQ(test["tracks"], 10);
  EXPECT_EQ(test["epoch"], 3);
  EXPECT_EQ(test["classes"], (json{"Hip-Hop", "Pop", "Rock"}));
  EXPECT_EQ(test["confusion"], (json{{8, 1, 1}, {2, 6, 2}, {0, 0, 10}}));
  ASSERT_EQ(test["recall"].size(), 3u);
  EXPECT_DOUBLE_EQ(test["recall"][0].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(test["recall"][1].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(test["recall"][2].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(test["metrics"]["test_accuracy"].get<double>(), 0.8);
}

TEST_F(QueryTest, BestAsCsvIsOneRow) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "best", "--format", "csv"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(out.out);
  ASSERT_EQ(rows.size(), 2u) << out.out;
  const std::vector<std::string>& header = rows[0];
  const std::vector<std::string>& best = rows[1];
  ASSERT_EQ(best.size(), header.size());
  EXPECT_EQ(best.at(Column(header, "study")), "fma_cnn");
  EXPECT_EQ(best.at(Column(header, "trial")), "0");
  EXPECT_EQ(best.at(Column(header, "value")), "0.61");
  EXPECT_EQ(best.at(Column(header, "params_lr")), "0.0012345678901");
  EXPECT_EQ(best.at(Column(header, "params_batch_size")), "32");
  EXPECT_EQ(best.at(Column(header, "test_state")), "done");
  EXPECT_EQ(best.at(Column(header, "test_accuracy")), "0.8");
  EXPECT_EQ(best.at(Column(header, "test_track_accuracy")), "0.9");
  EXPECT_EQ(best.at(Column(header, "test_error")), "");
  // The matrix and its classes as JSON text in one field each.
  EXPECT_EQ(json::parse(best.at(Column(header, "test_confusion"))),
            (json{{8, 1, 1}, {2, 6, 2}, {0, 0, 10}}));
  EXPECT_EQ(json::parse(best.at(Column(header, "test_classes"))),
            (json{"Hip-Hop", "Pop", "Rock"}));
}

TEST_F(QueryTest, BestRanksAsTheLeaderboard) {
  std::unique_ptr<Store> store = Store::Open(db_);
  int64_t study = store->CreateStudy(Study("loss", "asha", "min"));
  store->PutTrial(study,
                  Trial(0, TrialState::kComplete, {{"lr", 0.1}}, 1.5, 9));
  store->PutTrial(study, Trial(1, TrialState::kPruned, {{"lr", 0.2}}, 0.5, 1));
  store->PutTrial(study,
                  Trial(2, TrialState::kComplete, {{"lr", 0.3}}, 1.25, 9));
  store->PutTrial(study,
                  Trial(3, TrialState::kComplete, {{"lr", 0.4}}, 1.25, 9));
  store->PutTrial(study, Trial(4, TrialState::kRunning, {{"lr", 0.5}}, 0.1, 2));
  store->Commit();
  // Complete before pruned and running, lowest value first, and the lower
  // number of two equal values.
  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json::parse(out.out)["trial"], 2) << out.out;
  Output table = RunQuery({"--db", db_, "best"});
  EXPECT_TRUE(Contains(table.out, "then lowest val_loss")) << table.out;

  // No complete trial yet: the best of the others.
  std::string other = dir_ + "/running.db";
  std::unique_ptr<Store> running = Store::Open(other);
  int64_t id = running->CreateStudy(Study("early", "asha", "max"));
  running->PutTrial(id, Trial(0, TrialState::kPruned, {{"lr", 0.1}}, 0.3, 1));
  running->PutTrial(id, Trial(1, TrialState::kRunning, {{"lr", 0.2}}, 0.4, 2));
  running->Commit();
  out = RunQuery({"--db", other, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json::parse(out.out)["trial"], 1) << out.out;
}

TEST_F(QueryTest, LeaderboardRanksTrialsWithAValue) {
  std::unique_ptr<Store> store = Store::Open(db_);
  int64_t study = store->CreateStudy(Study("loss", "asha", "min"));
  store->PutTrial(study,
                  Trial(0, TrialState::kComplete, {{"lr", 0.1}}, 1.5, 9));
  store->PutTrial(study, Trial(1, TrialState::kPruned, {{"lr", 0.2}}, 0.5, 1));
  store->PutTrial(study,
                  Trial(2, TrialState::kComplete, {{"lr", 0.3}}, 1.25, 9));
  store->PutTrial(study,
                  Trial(3, TrialState::kComplete, {{"lr", 0.4}}, 1.25, 9));
  TrialRow queued = Trial(4, TrialState::kQueued, {{"lr", 0.5}}, 0.1, 0);
  queued.value.reset();
  store->PutTrial(study, queued);
  store->Commit();
  Output out = RunQuery({"--db", db_, "leaderboard", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json rows = json::parse(out.out);
  ASSERT_EQ(rows.size(), 4u) << out.out;  // Trial 4 has no value.
  std::vector<int64_t> order;
  for (const json& r : rows) order.push_back(r["number"].get<int64_t>());
  EXPECT_EQ(order, (std::vector<int64_t>{2, 3, 0, 1}));
  EXPECT_EQ(rows[0]["rank"], 1);
  EXPECT_EQ(rows[3]["rank"], 4);
  out = RunQuery(
      {"--db", db_, "leaderboard", "--state", "complete", "--format", "csv"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(Contains(out.out, "rank,number,state,value")) << out.out;
  EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 4) << out.out;
}

TEST_F(QueryTest, BestWithoutAnEvaluation) {
  WriteOneStudy();
  Output table = RunQuery({"--db", db_, "best"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  EXPECT_EQ(LineStarting(lines, "  trial "), "  trial             1");
  EXPECT_EQ(lines.back(),
            "test split: not evaluated (when the search ends, hpo-coordinator "
            "evaluates the best complete trial that has a checkpoint)");
  EXPECT_FALSE(Contains(table.out, "confusion")) << table.out;

  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json best = json::parse(out.out);
  EXPECT_EQ(best["trial"], 1);
  EXPECT_TRUE(best["test"].is_null());

  Output csv = RunQuery({"--db", db_, "best", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].at(Column(rows[0], "trial")), "1");
  EXPECT_EQ(rows[1].at(Column(rows[0], "test_state")), "");
  EXPECT_EQ(rows[1].at(Column(rows[0], "test_confusion")), "");
}

TEST_F(QueryTest, BestSaysWhichTrialWasEvaluated) {
  int64_t study = WriteEvaluatedStudy();
  // Trial 1 has since overtaken trial 0 (as while a study still runs).
  std::unique_ptr<Store> store = Store::Open(db_);
  store->PutTrial(study,
                  Trial(1, TrialState::kComplete, {{"lr", 0.01}}, 0.9, 3));
  store->Commit();
  Output out = RunQuery({"--db", db_, "best"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(Lines(out.out).back(),
            "test split: trial 0 was evaluated, not this one (hpo-query "
            "trial 0 shows it)");
}

TEST_F(QueryTest, BestShowsAFailedEvaluation) {
  int64_t study = WriteEvaluatedStudy();
  std::unique_ptr<Store> store = Store::Open(db_);
  EvaluationRow failed;
  failed.trial = 0;
  failed.state = "failed";
  failed.error = "data: fma_cnn/test-000.npy: checksum mismatch";
  failed.checkpoint = "fma_cnn/trial-00000/epoch-0003.pt";
  failed.epoch = 3;
  failed.recorded_at = 1700000200;
  store->PutEvaluation(study, failed);
  store->Commit();

  Output table = RunQuery({"--db", db_, "best"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  EXPECT_EQ(LineStarting(lines, "  state       failed"),
            "  state       failed");
  EXPECT_EQ(LineStarting(lines, "  error       data:"),
            "  error       data: fma_cnn/test-000.npy: checksum mismatch");
  EXPECT_FALSE(Contains(table.out, "confusion")) << table.out;

  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json test = json::parse(out.out)["test"];
  EXPECT_EQ(test["state"], "failed");
  EXPECT_EQ(test["error"], failed.error);
  EXPECT_TRUE(test["accuracy"].is_null());
  EXPECT_EQ(test["confusion"], json::array());

  Output csv = RunQuery({"--db", db_, "best", "--format", "csv"});
  std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].at(Column(rows[0], "test_state")), "failed");
  EXPECT_EQ(rows[1].at(Column(rows[0], "test_error")), failed.error);
}

// A study that has just started has no best trial yet: that is an answer,
// not an error.
TEST_F(QueryTest, BestBeforeAnyValue) {
  std::unique_ptr<Store> store = Store::Open(db_);
  int64_t study = store->CreateStudy(Study("fresh", "random", "max"));
  store->PutTrial(
      study, Trial(0, TrialState::kRunning, {{"lr", 0.1}}, std::nullopt, 0));
  store->PutTrial(
      study, Trial(1, TrialState::kQueued, {{"lr", 0.2}}, std::nullopt, 0));
  store->PutTrial(
      study, Trial(2, TrialState::kQueued, {{"lr", 0.3}}, std::nullopt, 0));
  store->Commit();
  Output table = RunQuery({"--db", db_, "best"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out,
            "study fresh: no trial has a val_accuracy value yet (3 trials: 2 "
            "queued, 1 running)\n");
  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(json::parse(out.out).is_null()) << out.out;
  Output csv = RunQuery({"--db", db_, "best", "--format", "csv"});
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(csv.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "study");
}

TEST_F(QueryTest, BestNeedsTheStudyWhenThereAreSeveral) {
  WriteTwoStudies();
  Output out = RunQuery({"--db", db_, "best"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.out, "");
  EXPECT_EQ(out.err, db_ +
                         ": holds 2 studies (lr_sweep, asha_demo); pass one "
                         "with --study NAME\n");
  Output one = RunQuery(
      {"--db", db_, "best", "--study", "asha_demo", "--format", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["study"], "asha_demo");
  EXPECT_EQ(json::parse(one.out)["mode"], "min");
}

TEST_F(QueryTest, TrialAsTable) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "trial", "0"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::vector<std::string> lines = Lines(out.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "study fma_cnn: trial 0");
  EXPECT_EQ(LineStarting(lines, "  attempts "), "  attempts          2");
  EXPECT_EQ(LineStarting(lines, "  worker "),
            "  worker            gpu-node2/cuda:1");
  EXPECT_EQ(LineStarting(lines, "  error "), "  error             -");
  EXPECT_EQ(LineStarting(lines, "  lr "), "  lr          0.0012345678901");
  // The attempts, one line each.
  auto attempts = std::find(lines.begin(), lines.end(), "attempts");
  ASSERT_NE(attempts, lines.end()) << out.out;
  ASSERT_GE(lines.end() - attempts, 5);
  EXPECT_EQ(
      attempts[1],
      "  attempt  worker            epochs  state  reason                 "
      "started (UTC)        ended (UTC)");
  EXPECT_EQ(
      attempts[3],
      "        1  gpu-node1/cuda:0  0->3    lost   no heartbeat for 20 s  "
      "2023-11-14 22:13:20  2023-11-14 22:13:50");
  EXPECT_EQ(
      attempts[4],
      "        2  gpu-node2/cuda:1  1->3    done   -                      "
      "2023-11-14 22:13:20  2023-11-14 22:14:50");
  // The epochs: a column per metric, the ones workers report first.
  auto epochs =
      std::find(lines.begin(), lines.end(), "epochs (objective: val_accuracy)");
  ASSERT_NE(epochs, lines.end()) << out.out;
  ASSERT_GE(lines.end() - epochs, 6);
  EXPECT_EQ(epochs[1],
            "  epoch  attempt  objective  train_loss  val_loss  val_accuracy  "
            "   lr  grad_norm");
  EXPECT_EQ(epochs[3],
            "      1        1        0.4           2       1.5           0.4  "
            "0.001         11");
  EXPECT_EQ(epochs[5],
            "      3        2       0.61      0.6667       0.5          0.61  "
            "0.003         13");
  // Its test-split evaluation, as in best.
  EXPECT_EQ(LineStarting(lines, "  Rock  "),
            "  Rock                    0    0    10       1");
}

TEST_F(QueryTest, TrialAsJson) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "trial", "0", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json trial = json::parse(out.out);
  ASSERT_TRUE(trial.is_object());
  EXPECT_EQ(trial["trial"], 0);
  EXPECT_EQ(trial["state"], "complete");
  EXPECT_EQ(trial["rung"], 1);
  EXPECT_EQ(trial["checkpoint"], "fma_cnn/trial-00000/epoch-0003.pt");
  EXPECT_EQ(trial["params"]["batch_size"], 32);
  const json& history = trial["attempt_history"];
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["attempt"], 1);
  EXPECT_EQ(history[0]["worker"], "gpu-node1/cuda:0");
  EXPECT_EQ(history[0]["from_epoch"], 0);
  EXPECT_EQ(history[0]["to_epoch"], 3);
  EXPECT_EQ(history[0]["state"], "lost");
  EXPECT_EQ(history[0]["reason"], "no heartbeat for 20 s");
  EXPECT_DOUBLE_EQ(history[0]["started_at"].get<double>(), 1700000000);
  EXPECT_DOUBLE_EQ(history[0]["ended_at"].get<double>(), 1700000030);
  EXPECT_TRUE(history[1]["reason"].is_null());
  const json& epochs = trial["epoch_metrics"];
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_EQ(epochs[0]["epoch"], 1);
  EXPECT_EQ(epochs[0]["attempt"], 1);
  EXPECT_EQ(epochs[2]["attempt"], 2);
  EXPECT_DOUBLE_EQ(epochs[2]["objective"].get<double>(), 0.61);
  EXPECT_DOUBLE_EQ(epochs[2]["metrics"]["grad_norm"].get<double>(), 13);
  EXPECT_DOUBLE_EQ(epochs[2]["metrics"]["lr"].get<double>(), 0.003);
  EXPECT_EQ(trial["test"]["confusion"],
            (json{{8, 1, 1}, {2, 6, 2}, {0, 0, 10}}));

  // A trial with no evaluation, attempts or epochs.
  Output queued = RunQuery({"--db", db_, "trial", "4", "--format", "json"});
  ASSERT_EQ(queued.exit_code, 0) << queued.err;
  json fresh = json::parse(queued.out);
  EXPECT_EQ(fresh["state"], "queued");
  EXPECT_EQ(fresh["attempt_history"], json::array());
  EXPECT_EQ(fresh["epoch_metrics"], json::array());
  EXPECT_TRUE(fresh["test"].is_null());
  EXPECT_TRUE(fresh["value"].is_null());
}

TEST_F(QueryTest, TrialWithNothingYetAsTable) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "trial", "3"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  std::vector<std::string> lines = Lines(out.out);
  // A multi-line error stays on its line.
  EXPECT_EQ(LineStarting(lines, "  error "),
            "  error             diverged: loss is NaN, \"lr\" too high "
            "epoch 3");
  auto attempts = std::find(lines.begin(), lines.end(), "attempts");
  ASSERT_NE(attempts, lines.end()) << out.out;
  EXPECT_EQ(attempts[1], "  (none)");
  EXPECT_EQ(lines.back(), "  (none)");  // Epochs.
  EXPECT_FALSE(Contains(out.out, "test split")) << out.out;
}

TEST_F(QueryTest, TrialAsCsvIsItsCurves) {
  WriteEvaluatedStudy();
  Output trial = RunQuery({"--db", db_, "trial", "0", "--format", "csv"});
  ASSERT_EQ(trial.exit_code, 0) << trial.err;
  Output curves = RunQuery({"--db", db_, "curves", "0", "--format", "csv"});
  ASSERT_EQ(curves.exit_code, 0) << curves.err;
  EXPECT_EQ(trial.out, curves.out);
  std::vector<std::vector<std::string>> rows = ParseCsv(trial.out);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{
                         "trial", "epoch", "attempt", "objective", "train_loss",
                         "val_loss", "val_accuracy", "lr", "grad_norm"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"0", "1", "1", "0.4", "2.0",
                                               "1.5", "0.4", "0.001", "11.0"}));
}

TEST_F(QueryTest, CurvesOfSomeTrialsAndOfAll) {
  WriteEvaluatedStudy();
  // Trials in the order given, a repeated one once; columns for the metrics
  // of those trials only.
  Output some =
      RunQuery({"--db", db_, "curves", "2", "1", "2", "--format", "csv"});
  ASSERT_EQ(some.exit_code, 0) << some.err;
  std::vector<std::vector<std::string>> rows = ParseCsv(some.out);
  ASSERT_EQ(rows.size(), 5u) << some.out;
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"trial", "epoch", "attempt", "objective",
                                      "train_loss", "val_accuracy"}));
  EXPECT_EQ(rows[1][0], "2");
  EXPECT_EQ(rows[1][4], "");  // Trial 2 has no train_loss.
  EXPECT_EQ(rows[2][0], "1");
  EXPECT_EQ(rows[4][1], "3");

  Output all = RunQuery({"--db", db_, "curves", "all", "--format", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  json curves = json::parse(all.out);
  ASSERT_EQ(curves.size(), 7u);  // 3 + 3 + 1 epochs.
  EXPECT_EQ(curves[0]["trial"], 0);
  EXPECT_EQ(curves[0]["epoch"], 1);
  EXPECT_DOUBLE_EQ(curves[0]["grad_norm"].get<double>(), 11);
  EXPECT_TRUE(curves[3]["grad_norm"].is_null());
  EXPECT_TRUE(curves[3]["attempt"].is_null());  // Written with no attempt.
  EXPECT_EQ(curves[6]["trial"], 2);

  Output table = RunQuery({"--db", db_, "curves", "all"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 9u) << table.out;
  EXPECT_EQ(lines[0].rfind("trial  epoch  attempt  objective", 0), 0u)
      << lines[0];
}

TEST_F(QueryTest, ExportCsvLoadsAsOneRowPerTrialAndEpoch) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "export", "--format", "csv"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "");
  std::vector<std::vector<std::string>> rows = ParseCsv(out.out);
  // 3 + 3 + 1 epochs, and one row each for the two trials without epochs.
  ASSERT_EQ(rows.size(), 1u + 9u) << out.out;
  const std::vector<std::string>& header = rows[0];
  EXPECT_EQ(header, (std::vector<std::string>{"study",      "trial",
                                              "state",      "value",
                                              "best_value", "epochs",
                                              "attempts",   "bracket",
                                              "rung",       "worker",
                                              "error",      "params_batch_size",
                                              "params_lr",  "params_scheduler",
                                              "epoch",      "attempt",
                                              "objective",  "train_loss",
                                              "val_loss",   "val_accuracy",
                                              "lr",         "grad_norm"}));
  // What pandas needs: unique column names, the same number of fields on
  // every row.
  std::set<std::string> unique(header.begin(), header.end());
  EXPECT_EQ(unique.size(), header.size());
  for (const auto& row : rows) ASSERT_EQ(row.size(), header.size());
  size_t trial = Column(header, "trial"), epoch = Column(header, "epoch");
  std::vector<std::pair<std::string, std::string>> keys;
  for (size_t i = 1; i < rows.size(); ++i) {
    keys.emplace_back(rows[i].at(trial), rows[i].at(epoch));
  }
  EXPECT_EQ(keys,
            (std::vector<std::pair<std::string, std::string>>{{"0", "1"},
                                                              {"0", "2"},
                                                              {"0", "3"},
                                                              {"1", "1"},
                                                              {"1", "2"},
                                                              {"1", "3"},
                                                              {"2", "1"},
                                                              {"3", ""},
                                                              {"4", ""}}));
  // Trial columns repeat on each of its rows.
  for (size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(rows[i].at(Column(header, "params_lr")), "0.0012345678901");
    EXPECT_EQ(rows[i].at(Column(header, "value")), "0.61");
  }
  EXPECT_EQ(rows[3].at(Column(header, "grad_norm")), "13.0");
  EXPECT_EQ(rows[2].at(Column(header, "attempt")), "2");
  EXPECT_EQ(rows[8].at(Column(header, "error")), kFailure);
  EXPECT_EQ(rows[8].at(Column(header, "objective")), "");
  EXPECT_EQ(rows[9].at(Column(header, "state")), "queued");
}

TEST_F(QueryTest, ExportAsJsonAndTableAndByState) {
  WriteEvaluatedStudy();
  Output out = RunQuery({"--db", db_, "export", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json rows = json::parse(out.out);
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[0]["params"]["scheduler"], "onecycle");
  EXPECT_EQ(rows[0]["epoch"], 1);
  EXPECT_TRUE(rows[8]["epoch"].is_null());

  Output complete = RunQuery(
      {"--db", db_, "export", "--state", "complete", "--format", "csv"});
  ASSERT_EQ(complete.exit_code, 0) << complete.err;
  std::vector<std::vector<std::string>> csv = ParseCsv(complete.out);
  ASSERT_EQ(csv.size(), 7u);
  for (size_t i = 1; i < csv.size(); ++i) {
    EXPECT_EQ(csv[i].at(Column(csv[0], "state")), "complete");
  }

  Output pruned =
      RunQuery({"--db", db_, "export", "--state", "pruned", "--format", "csv"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  csv = ParseCsv(pruned.out);
  ASSERT_EQ(csv.size(), 2u);
  // Only the metrics that trial 2 reported.
  EXPECT_EQ(csv[0].back(), "val_accuracy");

  Output table = RunQuery({"--db", db_, "export"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 11u) << table.out;
  EXPECT_TRUE(Contains(lines[2], "batch_size=32")) << lines[2];
}

TEST_F(QueryTest, BadTrialIdsNameTheStudyAndItsTrials) {
  WriteEvaluatedStudy();
  Output unknown = RunQuery({"--db", db_, "trial", "99"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.out, "");
  EXPECT_EQ(unknown.err,
            "hpo-query: study \"fma_cnn\" has no trial 99, only trials 0 to 4 "
            "(hpo-query trials --study fma_cnn lists them)\n");

  Output word = RunQuery({"--db", db_, "trial", "best"});
  EXPECT_EQ(word.exit_code, 2);
  EXPECT_EQ(word.err,
            "hpo-query: trial ID \"best\" is not an integer; study \"fma_cnn\" "
            "has trials 0 to 4 (hpo-query trials --study fma_cnn lists "
            "them)\n");
  for (const char* id : {"1.5", "2x", "", "99999999999999999999"}) {
    Output bad = RunQuery({"--db", db_, "trial", id});
    EXPECT_EQ(bad.exit_code, 2) << id;
    EXPECT_TRUE(Contains(bad.err, "is not an integer")) << bad.err;
  }
  Output negative = RunQuery({"--db", db_, "trial", "-1"});
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_TRUE(Contains(negative.err, "trial ID -1: trials are numbered from 0"))
      << negative.err;

  Output curves = RunQuery({"--db", db_, "curves", "0", "7"});
  EXPECT_EQ(curves.exit_code, 2);
  EXPECT_EQ(curves.out, "");
  EXPECT_TRUE(Contains(curves.err, "has no trial 7, only trials 0 to 4"))
      << curves.err;
  EXPECT_TRUE(Contains(curves.err, "or pass all")) << curves.err;
  Output mixed = RunQuery({"--db", db_, "curves", "0", "all"});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_TRUE(Contains(mixed.err, "trial numbers or all, not both"))
      << mixed.err;

  Output missing = RunQuery({"--db", db_, "trial"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err,
            "hpo-query: trial takes 1 argument, got 0; usage: trial ID "
            "[--study NAME]\n");
  EXPECT_EQ(RunQuery({"--db", db_, "trial", "0", "1"}).exit_code, 2);
  EXPECT_TRUE(Contains(RunQuery({"--db", db_, "curves"}).err,
                       "curves takes at least 1 argument, got 0"));
  EXPECT_EQ(RunQuery({"--db", db_, "best", "0"}).exit_code, 2);
  EXPECT_EQ(
      RunQuery({"--db", db_, "trial", "0", "--state", "complete"}).exit_code,
      2);

  // Trials numbered with gaps, and a study with none.
  std::string other = dir_ + "/gaps.db";
  std::unique_ptr<Store> store = Store::Open(other);
  int64_t gaps = store->CreateStudy(Study("gaps", "random", "max"));
  store->PutTrial(gaps, Trial(2, TrialState::kComplete, {}, 0.5, 1));
  store->PutTrial(gaps, Trial(5, TrialState::kComplete, {}, 0.5, 1));
  store->CreateStudy(Study("empty", "random", "max"));
  store->Commit();
  EXPECT_TRUE(
      Contains(RunQuery({"--db", other, "trial", "3", "--study", "gaps"}).err,
               "has no trial 3, only 2 trials, numbered 2 to 5"));
  Output none = RunQuery({"--db", other, "trial", "0", "--study", "empty"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err,
            "hpo-query: study \"empty\" has no trials yet, so no trial 0\n");
}

TEST_F(QueryTest, EveryCommandSuggestsTheStudy) {
  WriteTwoStudies();
  for (std::vector<std::string> command : {std::vector<std::string>{"best"},
                                           {"trial", "0"},
                                           {"curves", "all"},
                                           {"export"},
                                           {"lineage"}}) {
    command.insert(command.end(), {"--study", "lr-sweep"});
    command.insert(command.begin(), {"--db", db_});
    Output out = RunQuery(command);
    EXPECT_EQ(out.exit_code, 2) << command[2];
    EXPECT_EQ(out.out, "") << command[2];
    EXPECT_EQ(out.err, db_ +
                           ": no study named \"lr-sweep\" (did you mean "
                           "\"lr_sweep\"?); it holds lr_sweep, asha_demo "
                           "(pass one of them with --study)\n")
        << command[2];
  }
  Output command = RunQuery({"--db", db_, "curve", "all"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_TRUE(Contains(command.err, "(did you mean \"curves\"?)"))
      << command.err;
}

// A Hyperband-like study whose objective depends on lr (log scale) far
// more than on batch_size, and not on the scheduler: 30 trials after one
// epoch, the best 12 after three.
void WriteImportanceStudy(const std::string& db) {
  std::unique_ptr<Store> store = Store::Open(db);
  StudyRow row = Study("tuned", "hyperband", "max");
  row.spec = R"({"name": "tuned",
      "objective": {"metric": "val_accuracy", "mode": "max"},
      "trainer": {"model": "synthetic"},
      "search_space": {
        "lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
        "batch_size": {"type": "int", "low": 16, "high": 128},
        "scheduler": {"type": "choice", "values": ["none", "cyclic"]}},
      "algorithm": {"type": "hyperband", "min_epochs": 1, "max_epochs": 9,
                    "eta": 3}})";
  row.spec_hash = HashText(row.spec);
  const int64_t study = store->CreateStudy(row);
  for (int i = 0; i < 30; ++i) {
    const double lr = std::pow(10.0, -5 + 4 * ((i * 7) % 30) / 29.0);
    const int batch = 16 + (i * 11) % 113;
    const double score = 0.3 + 0.1 * (std::log10(lr) + 5) + 0.0005 * batch;
    const int epochs = i < 12 ? 3 : 1;
    store->PutTrial(study, Trial(i, TrialState::kComplete,
                                 {{"lr", lr},
                                  {"batch_size", batch},
                                  {"scheduler", i % 2 ? "cyclic" : "none"}},
                                 score, epochs));
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      MetricRow m;
      m.trial = i;
      m.epoch = epoch;
      m.objective = score + 0.01 * epoch;
      m.metrics = {{"val_accuracy", *m.objective}};
      m.recorded_at = 1700000000 + i;
      store->PutMetrics(study, m);
    }
  }
  store->Commit();
}

TEST_F(QueryTest, ImportanceInEachFormat) {
  WriteImportanceStudy(db_);
  Output table = RunQuery({"--db", db_, "importance"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  // Epoch 3: the largest that at least 10 trials reached.
  EXPECT_TRUE(Contains(table.out,
                       "study tuned: importance of 3 parameters for "
                       "val_accuracy after epoch 3 (12 trials, the largest "
                       "epoch that enough trials reached"))
      << table.out;
  const std::vector<std::string> lines = Lines(table.out);
  ASSERT_GE(lines.size(), 6u) << table.out;
  EXPECT_EQ(lines[3].find("  lr "), 0u) << table.out;  // Ranked first.
  EXPECT_TRUE(Contains(table.out, "largest interactions: the variance a pair"))
      << table.out;

  Output one = RunQuery({"--db", db_, "importance", "1", "--format", "json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const json doc = json::parse(one.out);
  EXPECT_EQ(doc["study"], "tuned");
  EXPECT_EQ(doc["epoch"], 1);
  EXPECT_EQ(doc["trials"], 30);
  ASSERT_EQ(doc["params"].size(), 3u);
  EXPECT_EQ(doc["params"][0]["parameter"], "lr");
  EXPECT_GT(doc["params"][0]["importance"].get<double>(), 0.8);
  double sum = 0;
  for (const json& p : doc["params"]) sum += p["importance"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_EQ(doc["pairs"].size(), 3u);

  Output csv = RunQuery({"--db", db_, "importance", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto records = ParseCsv(csv.out);
  ASSERT_EQ(records.size(), 4u) << csv.out;
  EXPECT_EQ(records[0],
            (std::vector<std::string>{"parameter", "importance",
                                      "variance_fraction", "fraction_std"}));

  for (const auto& [args, says] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"importance", "three"}, "importance three: EPOCH is an epoch"},
           {{"importance", "9"},
            "0 trial(s) have a val_accuracy value after epoch 9"}}) {
    std::vector<std::string> argv = {"--db", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    Output bad = RunQuery(argv);
    EXPECT_EQ(bad.exit_code, 2) << bad.out;
    EXPECT_TRUE(Contains(bad.err, says)) << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  }
}

TEST_F(QueryTest, LineageAsTable) {
  WritePbtStudy();
  Output out = RunQuery({"--db", db_, "lineage", "--study", "pbt_demo"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.err, "");
  EXPECT_EQ(out.out,
            "study pbt_demo: 3 exploits (after epoch epochs, trial continued "
            "from parent's checkpoint after parent_epoch epochs)\n"
            "  trial  epoch  parent  parent_epoch  changed\n"
            "  -----  -----  ------  ------------  "
            "---------------------------------\n"
            "      2      4       0             4  dropout 0.3->0.24, lr "
            "0.03->0.012\n"
            "      3      4       1             4  lr 0.04->0.01235\n"
            "      3      8       0             8  -\n");
}

TEST_F(QueryTest, LineageAsJsonAndCsvHasTheFullParameters) {
  WritePbtStudy();
  Output out = RunQuery(
      {"--db", db_, "lineage", "--study", "pbt_demo", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json rows = json::parse(out.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["trial"], 2);
  EXPECT_EQ(rows[0]["epoch"], 4);
  EXPECT_EQ(rows[0]["parent"], 0);
  EXPECT_EQ(rows[0]["parent_epoch"], 4);
  EXPECT_EQ(rows[0]["changed"],
            (json{{"lr", {0.03, 0.012}}, {"dropout", {0.3, 0.24}}}));
  EXPECT_EQ(rows[0]["old_params"],
            (json{{"lr", 0.03}, {"dropout", 0.3}, {"batch_size", 32}}));
  EXPECT_EQ(rows[0]["new_params"],
            (json{{"lr", 0.012}, {"dropout", 0.24}, {"batch_size", 32}}));
  EXPECT_EQ(rows[0]["recorded_at"], 1700000040.0);
  EXPECT_EQ(rows[1]["changed"], (json{{"lr", {0.04, 0.0123456789}}}));
  EXPECT_EQ(rows[2]["changed"], json::object());

  Output csv = RunQuery(
      {"--db", db_, "lineage", "--study", "pbt_demo", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::vector<std::string>> records = ParseCsv(csv.out);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0],
            (std::vector<std::string>{
                "trial", "epoch", "parent", "parent_epoch", "changed",
                "old_params_batch_size", "old_params_dropout", "old_params_lr",
                "new_params_batch_size", "new_params_dropout", "new_params_lr",
                "recorded_at"}));
  const std::vector<std::string>& second = records[2];
  EXPECT_EQ(second[Column(records[0], "trial")], "3");
  EXPECT_EQ(second[Column(records[0], "parent")], "1");
  EXPECT_EQ(json::parse(second[Column(records[0], "changed")]),
            (json{{"lr", {0.04, 0.0123456789}}}));
  EXPECT_EQ(second[Column(records[0], "old_params_lr")], "0.04");
  EXPECT_EQ(second[Column(records[0], "new_params_lr")], "0.0123456789");
}

TEST_F(QueryTest, LineageWithoutExploitsIsAnEmptyAnswer) {
  WritePbtStudy();
  Output table = RunQuery({"--db", db_, "lineage", "--study", "plain"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out,
            "no exploits: study plain is not a PBT study (random)\n");
  Output json_out = RunQuery(
      {"--db", db_, "lineage", "--study", "plain", "--format", "json"});
  ASSERT_EQ(json_out.exit_code, 0) << json_out.err;
  EXPECT_EQ(json::parse(json_out.out), json::array());
  Output csv =
      RunQuery({"--db", db_, "lineage", "--study", "plain", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out, "trial,epoch,parent,parent_epoch,changed,recorded_at\r\n");

  // A PBT study before its first exploit.
  db_ = dir_ + "/fresh.db";
  {
    std::unique_ptr<Store> store = Store::Open(db_);
    store->CreateStudy(Study("fresh", "pbt", "max"));
  }
  Output fresh = RunQuery({"--db", db_, "lineage"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(fresh.out, "study fresh: no exploits yet\n");

  Output unknown = RunQuery({"--db", db_, "lineage", "--study", "frsh"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.out, "");
  EXPECT_TRUE(Contains(unknown.err, "(did you mean \"fresh\"?)"))
      << unknown.err;
}

// A file that an hpo without evaluations (schema version 1) wrote.
TEST_F(QueryTest, ReadsAVersion1File) {
  WriteEvaluatedStudy();
  Output downgrade = RunProgram(
      "sqlite3", {db_,
                  "DROP VIEW test_results; DROP TABLE evaluations; "
                  "DROP VIEW lineage; DROP TABLE exploits; "
                  "DROP TABLE checkpoints; PRAGMA user_version = 1;"});
  if (downgrade.exit_code == -1) {
    HPO_SKIP_UNLESS_REQUIRED(
        "no sqlite3 command (scripts/install-deps.sh installs it)");
  }
  ASSERT_EQ(downgrade.exit_code, 0) << downgrade.err;
  Output out = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  json best = json::parse(out.out);
  EXPECT_EQ(best["trial"], 0);
  EXPECT_TRUE(best["test"].is_null());
  Output table = RunQuery({"--db", db_, "best"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "test split: not evaluated")) << table.out;
  for (std::vector<std::string> command :
       {std::vector<std::string>{"trial", "0"},
        {"curves", "all"},
        {"export"},
        {"lineage"}}) {
    command.insert(command.begin(), {"--db", db_});
    EXPECT_EQ(RunQuery(command).exit_code, 0) << command[2];
  }
  // Still version 1: reading did not migrate it.
  EXPECT_EQ(RunProgram("sqlite3", {db_, "PRAGMA user_version;"}).out, "1\n");
}

// The coordinator holds a batch open (written, not committed) while
// hpo-query reads: the query neither blocks nor sees the open batch.
TEST_F(QueryTest, ReadsWhileAWriterHoldsABatch) {
  WriteOneStudy();
  std::unique_ptr<Store> writer = Store::Open(db_);
  int64_t solo = writer->FindStudy("solo")->id;
  writer->PutTrial(solo,
                   Trial(2, TrialState::kRunning, {{"lr", 0.03}}, 0.1, 1));
  ASSERT_GT(writer->pending_writes(), 0);
  Output out = RunQuery({"--db", db_, "trials", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json::parse(out.out).size(), 2u);
  // The same for the commands that read several tables.
  MetricRow epoch;
  epoch.trial = 2;
  epoch.epoch = 1;
  epoch.metrics = {{"val_accuracy", 0.9}};
  epoch.objective = 0.9;
  writer->PutMetrics(solo, epoch);
  TrialRow better = Trial(0, TrialState::kComplete, {{"lr", 0.01}}, 0.95, 5);
  writer->PutTrial(solo, better);
  Output best = RunQuery({"--db", db_, "best", "--format", "json"});
  ASSERT_EQ(best.exit_code, 0) << best.err;
  EXPECT_EQ(json::parse(best.out)["trial"], 1);
  Output rows = RunQuery({"--db", db_, "export", "--format", "json"});
  ASSERT_EQ(rows.exit_code, 0) << rows.err;
  EXPECT_EQ(json::parse(rows.out).size(), 2u);
  writer->Commit();
  out = RunQuery({"--db", db_, "trials", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json::parse(out.out).size(), 3u);
  best = RunQuery({"--db", db_, "best", "--format", "json"});
  EXPECT_EQ(json::parse(best.out)["trial"], 0);
  rows = RunQuery({"--db", db_, "export", "--format", "json"});
  ASSERT_EQ(json::parse(rows.out).size(), 3u);
  EXPECT_EQ(json::parse(rows.out)[2]["epoch"], 1);
}

}  // namespace
}  // namespace hpo
