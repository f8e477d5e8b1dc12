// A real study end to end: hpo-prep makes a synthetic dataset and its
// shards, a coordinator runs a random search over the cnn model, and two
// CPU workers train it with LibTorch over ZeroMQ on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::Process;
using testutil::ReadFile;
using testutil::RunCommand;
using testutil::WaitFor;

TEST(TrainStudyTest, TwoCpuWorkersTrainACnnWellAboveChance) {
  testutil::ScratchDir scratch("train_study");
  const std::string dir = scratch.path();
  // A small dataset: 3 classes x 40 tracks of 4 s; 4 segments of 32 mel
  // bins x 32 frames per track.
  auto r =
      RunCommand({HPO_PREP, "synth", "--out", dir + "/synth", "--classes", "3",
                  "--tracks-per-class", "40", "--seconds", "4", "--seed", "3"},
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCommand(
      {HPO_PREP, "fma", "--metadata", dir + "/synth/tracks.csv", "--audio",
       dir + "/synth/audio", "--out", dir + "/data/shards", "--n-mels", "32",
       "--frames", "32", "--segments", "4", "--min-seconds", "1"},
      dir);
  ASSERT_EQ(r.code, 0) << r.err;

  json study = {
      {"name", "tiny_cnn"},
      {"seed", 4},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"data", {{"shards", "shards"}}},
      {"trainer",
       {{"model", "cnn"},
        {"channels", {8, 16}},
        {"kernel_size", 3},
        {"padding", "same"},
        {"dropout", 0.1},
        {"optimizer", "adam"},
        {"scheduler", "onecycle"},
        {"batch_size", 16}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 2e-3}, {"high", 2e-2}}}}},
      {"algorithm",
       {{"type", "hyperband"},
        {"min_epochs", 3},
        {"max_epochs", 9},
        {"eta", 3}}},
      {"budget", {{"max_trials", 6}}},
      {"execution",
       {{"max_attempts", 2}, {"heartbeat_s", 0.5}, {"lease_timeout_s", 30}}}};
  const std::string study_path = dir + "/study.json";
  std::ofstream(study_path) << study.dump(2);
  const std::string db = dir + "/results.db";

  const std::string log = dir + "/coordinator.log";
  std::vector<std::unique_ptr<Process>> processes;
  processes.push_back(std::make_unique<Process>(
      std::vector<std::string>{HPO_COORDINATOR, "--study", study_path, "--db",
                               db, "--bind", "tcp://127.0.0.1:*"},
      log));
  const std::string marker = "listening on ";
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(log).find(marker) != std::string::npos; }, 20))
      << ReadFile(log);
  std::string text = ReadFile(log);
  const size_t at = text.find(marker) + marker.size();
  const std::string endpoint = text.substr(at, text.find(',', at) - at);
  for (const char* name : {"w1", "w2"}) {
    processes.push_back(std::make_unique<Process>(
        std::vector<std::string>{HPO_WORKER, "--connect", endpoint, "--name",
                                 name, "--data", dir + "/data", "--device",
                                 "cpu", "--threads", "1", "--exit-when-done"},
        dir + "/" + name + ".log"));
  }
  auto code = processes[0]->Wait(300);
  ASSERT_TRUE(code.has_value()) << "the study did not finish\n"
                                << ReadFile(log);
  EXPECT_EQ(*code, 0) << ReadFile(log);
  for (size_t i = 1; i < processes.size(); ++i) {
    EXPECT_EQ(processes[i]->Wait(30).value_or(-1), 0) << processes[i]->log();
  }

  r = RunCommand({HPO_QUERY, "--db", db, "trials", "--study", "tiny_cnn",
                  "--format", "json"},
                 dir);
  ASSERT_EQ(r.code, 0) << r.err;
  json trials = json::parse(r.out);
  ASSERT_FALSE(trials.empty());
  double best = 0;
  int complete = 0;
  for (const json& t : trials) {
    EXPECT_NE(t["state"], "failed") << t.dump();
    if (t["state"] == "complete") ++complete;
    if (t.contains("value") && t["value"].is_number()) {
      best = std::max(best, t["value"].get<double>());
    }
  }
  EXPECT_GE(complete, 1);
  // Chance is 1/3 on three balanced classes.
  EXPECT_GT(best, 0.6) << r.out;
  std::cout << "best val_accuracy " << best << " (chance 0.33)\n";
  // Every rung end left a checkpoint in the workers' shared directory.
  EXPECT_TRUE(std::filesystem::exists(dir + "/data/checkpoints/tiny_cnn"));
}

}  // namespace
}  // namespace hpo
