// A real study end to end: hpo-prep makes a synthetic dataset and its
// shards, a coordinator runs a random search over the cnn model, and two
// CPU workers train it with LibTorch over ZeroMQ on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/store.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::RunCommand;

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

  const std::string logs = testutil::RunStudyOnTwoCpuWorkers(
      study_path, db, dir + "/data", dir, 300);
  if (HasFailure()) return;

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

  // The best complete trial was evaluated on the test split.
  auto store = Store::Open(db, /*read_only=*/true);
  const int64_t id = store->FindStudy("tiny_cnn")->id;
  int64_t best_complete = -1;
  double best_complete_value = -1;
  for (const TrialRow& t : store->Trials(id, "complete")) {
    if (t.value && *t.value > best_complete_value) {
      best_complete = t.number;
      best_complete_value = *t.value;
    }
  }
  std::vector<EvaluationRow> evaluations = store->Evaluations(id);
  ASSERT_EQ(evaluations.size(), 1u) << logs;
  const EvaluationRow& e = evaluations[0];
  EXPECT_EQ(e.trial, best_complete);
  EXPECT_EQ(e.state, "done") << e.error;
  EXPECT_EQ(e.split, "test");
  EXPECT_EQ(e.epoch, 9);
  ASSERT_TRUE(e.accuracy.has_value());
  EXPECT_GT(*e.accuracy, 0.5);  // Chance is 1/3.
  EXPECT_EQ(e.classes.size(), 3u);
  ASSERT_EQ(e.confusion.size(), 3u);
  int64_t total = 0;
  for (const auto& row : e.confusion) {
    for (int64_t n : row) total += n;
  }
  EXPECT_EQ(total, e.samples);
  EXPECT_GT(e.samples, 0);
  std::cout << "test accuracy of trial " << e.trial << ": " << *e.accuracy
            << " (segments), " << e.track_accuracy.value_or(-1)
            << " (tracks)\n";

  // Checkpoints: kept for complete trials, deleted for pruned ones.
  int pruned = 0;
  for (const TrialRow& t : store->Trials(id)) {
    char trial_dir[64];
    std::snprintf(trial_dir, sizeof trial_dir, "/trial-%05lld",
                  static_cast<long long>(t.number));
    const std::string path =
        dir + "/data/checkpoints/tiny_cnn" + std::string(trial_dir);
    if (t.state == TrialState::kComplete) {
      EXPECT_FALSE(t.checkpoint.empty());
      EXPECT_TRUE(
          std::filesystem::exists(dir + "/data/checkpoints/" + t.checkpoint))
          << t.checkpoint;
    } else if (t.state == TrialState::kPruned) {
      ++pruned;
      EXPECT_TRUE(t.checkpoint.empty()) << "trial " << t.number;
      EXPECT_FALSE(std::filesystem::exists(path)) << path;
    }
  }
  EXPECT_GT(pruned, 0);
}

}  // namespace
}  // namespace hpo
