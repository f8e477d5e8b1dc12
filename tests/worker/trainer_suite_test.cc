// The trainer contract, run against every trainer the worker makes through
// NewTrainer(): the synthetic one, the LibTorch one (a small CNN on toy
// shards), the LibTorch one on a TorchScript module that
// examples/torchscript/export.py wrote, and the command trainer running
// examples/pytorch_script/train.py (Debian's python3 with python3-torch) on
// the same shards. Epochs, checkpoints
// and resume, cancellation, evaluation, and failure kinds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <string>

#include "common/protocol.h"
#include "common/study_spec.h"
#include "tests/util/scratch_dir.h"
#include "tests/worker/toy_data.h"
#include "worker/trainer.h"

namespace hpo {
namespace {

using nlohmann::json;

// One trainer under test: how to make its study, and what it can do.
struct TrainerKind {
  const char* name;
  bool evaluates;    // Has a test split to evaluate.
  bool checkpoints;  // SaveCheckpoint writes a file.
};

class TrainerSuiteTest : public ::testing::TestWithParam<TrainerKind> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    toy::WriteToyShards(dir_.path() + "/shards");
    toy::WriteToyShards(dir_.path() + "/poisoned",
                        std::numeric_limits<float>::infinity());
  }

  // The study of this trainer; `diverging`: one whose loss becomes
  // non-finite before the last epoch.
  StudySpec Study(bool diverging = false) const {
    const std::string shards =
        dir_.path() + (diverging ? "/poisoned" : "/shards");
    const char* source = std::getenv("HPO_SOURCE_DIR");
    if (std::string(GetParam().name) == "torchscript") {
      EXPECT_NE(source, nullptr) << "HPO_SOURCE_DIR is not set (run ctest)";
      const std::string out = dir_.path() + "/nets";
      const std::string export_command =
          "/usr/bin/python3 " + std::string(source ? source : ".") +
          "/examples/torchscript/export.py --shards " + dir_.path() +
          "/shards --out " + out + " > " + dir_.path() + "/export.log 2>&1";
      EXPECT_EQ(std::system(export_command.c_str()), 0) << export_command;
      return toy::ToyStudy(shards, {{"model", "torchscript"},
                                    {"module", out + "/small_cnn.pt"},
                                    {"batch_size", 16}});
    }
    if (std::string(GetParam().name) == "command") {
      EXPECT_NE(source, nullptr) << "HPO_SOURCE_DIR is not set (run ctest)";
      return toy::ToyStudy(shards, {{"command",
                                     {"/usr/bin/python3",
                                      std::string(source ? source : ".") +
                                          "/examples/pytorch_script/train.py",
                                      "--lr", "{lr}"}}});
    }
    if (std::string(GetParam().name) == "synthetic") {
      return toy::ToyStudy(
          dir_.path() + "/shards",
          {{"model", "synthetic"}, {"divergence_rate", diverging ? 1.0 : 0.0}});
    }
    return toy::ToyStudy(dir_.path() + (diverging ? "/poisoned" : "/shards"),
                         toy::SmallCnn());
  }
  // A job of `to_epoch` epochs (the command trainer's program is told).
  TrialTask Task(const StudySpec& spec, int to_epoch) const {
    TrialTask t = toy::Task(spec, dir_.path() + "/ckpt");
    t.to_epoch = to_epoch;
    t.allow_commands = true;
    return t;
  }

  testutil::ScratchDir dir_{"trainer_suite"};
  std::atomic<bool> go_on_{false};  // A cancel flag never set.
};

TEST_P(TrainerSuiteTest, EpochsReportKnownMetrics) {
  const StudySpec spec = Study();
  auto trainer = NewTrainer(Task(spec, 2));
  for (int epoch = 1; epoch <= 2; ++epoch) {
    const json m = trainer->TrainEpoch(epoch, go_on_);
    ASSERT_TRUE(m.is_object()) << m;
    // Every objective metric (a trainer may add its own, e.g. "lr").
    for (const std::string& name : KnownMetrics()) {
      ASSERT_TRUE(m.contains(name)) << name << " missing from " << m;
      EXPECT_TRUE(m[name].is_number() || m[name].is_null()) << name;
    }
    ASSERT_TRUE(m.at("val_accuracy").is_number()) << m;
    EXPECT_GE(m.at("val_accuracy").get<double>(), 0.0);
    EXPECT_LE(m.at("val_accuracy").get<double>(), 1.0);
  }
}

TEST_P(TrainerSuiteTest, ResumingFromACheckpointContinuesTheSameRun) {
  const StudySpec spec = Study();
  auto whole = NewTrainer(Task(spec, 3));
  json third;
  for (int epoch = 1; epoch <= 3; ++epoch) {
    third = whole->TrainEpoch(epoch, go_on_);
  }
  TrialTask first_task = Task(spec, 2);
  auto first = NewTrainer(first_task);
  first->TrainEpoch(1, go_on_);
  first->TrainEpoch(2, go_on_);
  const std::string checkpoint = first->SaveCheckpoint(2);
  EXPECT_EQ(!checkpoint.empty(), GetParam().checkpoints) << checkpoint;
  TrialTask resumed_task = Task(spec, 3);
  resumed_task.from_epoch = 2;
  resumed_task.checkpoint = checkpoint;
  auto resumed = NewTrainer(resumed_task);
  const json again = resumed->TrainEpoch(3, go_on_);
  for (const char* key : {"train_loss", "val_loss", "val_accuracy"}) {
    EXPECT_EQ(again.at(key), third.at(key)) << key;
  }
}

TEST_P(TrainerSuiteTest, ACancelledEpochReturnsNothing) {
  const StudySpec spec = Study();
  auto trainer = NewTrainer(Task(spec, 1));
  std::atomic<bool> cancel{true};
  EXPECT_EQ(trainer->TrainEpoch(1, cancel), json::object());
}

TEST_P(TrainerSuiteTest, EvaluatesTheTestSplitOrSaysItCannot) {
  const StudySpec spec = Study();
  auto trainer = NewTrainer(Task(spec, 1));
  trainer->TrainEpoch(1, go_on_);
  const std::string checkpoint = trainer->SaveCheckpoint(1);
  TrialTask task = Task(spec, 1);
  task.from_epoch = task.to_epoch = 1;
  task.checkpoint = checkpoint;
  task.evaluate_split = "test";
  auto evaluator = NewTrainer(task);
  if (!GetParam().evaluates) {
    try {
      evaluator->Evaluate("test", go_on_);
      FAIL() << "expected a config failure";
    } catch (const TrialFailure& f) {
      EXPECT_EQ(f.kind(), FailureKind::kConfig) << f.what();
    }
    return;
  }
  const json result = evaluator->Evaluate("test", go_on_);
  EXPECT_TRUE(result.at("metrics").at("test_accuracy").is_number()) << result;
  EXPECT_EQ(result.at("classes").size(), 3u);
  ASSERT_EQ(result.at("confusion").size(), 3u);
  int64_t counted = 0;
  for (const json& row : result.at("confusion")) {
    for (const json& n : row) counted += n.get<int64_t>();
  }
  EXPECT_EQ(counted, result.at("metrics").at("samples").get<int64_t>());
}

TEST_P(TrainerSuiteTest, ADivergingTrialFailsAsDiverged) {
  const StudySpec spec = Study(/*diverging=*/true);
  try {
    auto trainer = NewTrainer(Task(spec, spec.algorithm.max_epochs));
    for (int epoch = 1; epoch <= spec.algorithm.max_epochs; ++epoch) {
      trainer->TrainEpoch(epoch, go_on_);
    }
    FAIL() << "expected divergence";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kDiverged) << f.what();
    EXPECT_FALSE(Retryable(f.kind()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryTrainer, TrainerSuiteTest,
    ::testing::Values(TrainerKind{"synthetic", false, false},
                      TrainerKind{"libtorch", true, true},
                      TrainerKind{"torchscript", true, true},
                      TrainerKind{"command", false, true}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace hpo
