// Runs the real hpo-query binary on results databases written through
// hpo::Store: the JSON, CSV and table outputs, filters, exit codes and
// messages for bad usage, and reading while a writer holds a batch open.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/store.h"
#include "common/trial_state.h"

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

// Runs hpo-query with `args` (no shell, so no quoting) and collects its
// stdout, stderr and exit code.
Output RunQuery(const std::vector<std::string>& args) {
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
  std::vector<std::string> argv_strings = {HPO_QUERY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc =
      posix_spawn(&pid, HPO_QUERY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  Output output;
  if (rc != 0) {
    close(out_pipe[0]);
    std::remove(err_path.c_str());
    ADD_FAILURE() << "cannot start " << HPO_QUERY;
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
    int64_t demo = store->CreateStudy(Study("asha_demo", "asha", "min"));
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
  writer->Commit();
  out = RunQuery({"--db", db_, "trials", "--format", "json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(json::parse(out.out).size(), 3u);
}

}  // namespace
}  // namespace hpo
