// The LibTorch trainer on small shards written here: learning, checkpoint
// determinism, and the failure kinds.
#include "worker/torch_trainer.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>

#include "common/study_spec.h"
#include "features/shards.h"
#include "tests/util/scratch_dir.h"
#include "tests/worker/toy_data.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using toy::SmallCnn;
using toy::Task;
using toy::ToyStudy;
using toy::WriteToyShards;

// Every tensor of an archive, depth first (submodules are nested archives).
void CollectTensors(torch::serialize::InputArchive& archive,
                    std::vector<torch::Tensor>* out) {
  for (const std::string& key : archive.keys()) {
    torch::Tensor t;
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, t)) {
      out->push_back(t);
    } else if (archive.try_read(key, nested)) {
      CollectTensors(nested, out);
    }
  }
}

std::vector<torch::Tensor> ModelTensors(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  torch::serialize::InputArchive model;
  archive.read("model", model);
  std::vector<torch::Tensor> out;
  CollectTensors(model, &out);
  return out;
}

// The two checkpoints hold bit-identical model weights.
void ExpectSameWeights(const std::string& a_path, const std::string& c_path) {
  std::vector<torch::Tensor> wa = ModelTensors(a_path),
                             wc = ModelTensors(c_path);
  ASSERT_EQ(wa.size(), wc.size());
  ASSERT_FALSE(wa.empty());
  for (size_t i = 0; i < wa.size(); ++i) {
    EXPECT_TRUE(torch::equal(wa[i], wc[i])) << "tensor " << i;
  }
}

TEST(TorchTrainerTest, LearnsAToyProblem) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  StudySpec spec = ToyStudy(dir.path() + "/shards", SmallCnn());
  auto trainer = NewTorchTrainer(Task(spec, dir.path() + "/ckpt"));
  std::atomic<bool> cancel{false};
  json m;
  for (int e = 1; e <= 6; ++e) m = trainer->TrainEpoch(e, cancel);
  for (const char* k :
       {"train_loss", "val_loss", "val_accuracy", "val_track_accuracy",
        "val_track_loss", "epoch_seconds", "samples_per_second", "lr",
        "data_seconds", "val_seconds", "cpu_seconds"}) {
    ASSERT_TRUE(m.contains(k) && m[k].is_number()) << k << " in " << m;
  }
  // The parts of an epoch's time are parts of it.
  const double epoch_s = m["epoch_seconds"].get<double>();
  EXPECT_GE(m["data_seconds"].get<double>(), 0) << m;
  EXPECT_GT(m["val_seconds"].get<double>(), 0) << m;
  EXPECT_LE(m["data_seconds"].get<double>() + m["val_seconds"].get<double>(),
            epoch_s)
      << m;
  EXPECT_GT(m["cpu_seconds"].get<double>(), 0) << m;
  EXPECT_GT(m["val_accuracy"].get<double>(), 0.8) << m;  // Chance: 1/3.
  EXPECT_GT(m["val_track_accuracy"].get<double>(), 0.8) << m;
  // The track loss, of the softmax of a track's mean segment
  // log-probabilities, is at most the mean segment loss when every track has
  // as many segments (log-sum-exp is convex), and well under chance's log 3.
  const double track_loss = m["val_track_loss"].get<double>();
  EXPECT_GT(track_loss, 0) << m;
  EXPECT_LE(track_loss, m["val_loss"].get<double>() + 1e-9) << m;
  EXPECT_LT(track_loss, 0.5 * std::log(3.0)) << m;
}

TEST(TorchTrainerTest, ResumingFromACheckpointGivesTheSameWeights) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  StudySpec spec = ToyStudy(dir.path() + "/shards", SmallCnn());
  std::atomic<bool> cancel{false};
  // Epochs 1-9 in one go.
  TrialTask whole = Task(spec, dir.path() + "/a");
  auto a = NewTorchTrainer(whole);
  for (int e = 1; e <= 9; ++e) a->TrainEpoch(e, cancel);
  const std::string a_path = dir.path() + "/a/" + a->SaveCheckpoint(9);
  // Epochs 1-3, a checkpoint, then 4-9 in a new trainer restored from it.
  TrialTask first = Task(spec, dir.path() + "/b");
  auto b = NewTorchTrainer(first);
  for (int e = 1; e <= 3; ++e) b->TrainEpoch(e, cancel);
  const std::string rel = b->SaveCheckpoint(3);
  EXPECT_EQ(rel, "toy/trial-00003/epoch-0003.pt");
  b.reset();
  torch::manual_seed(999);  // Whatever the RNG was, the checkpoint restores it.
  TrialTask second = Task(spec, dir.path() + "/b");
  second.from_epoch = 3;
  second.checkpoint = rel;
  auto c = NewTorchTrainer(second);
  for (int e = 4; e <= 9; ++e) c->TrainEpoch(e, cancel);
  const std::string c_path = dir.path() + "/b/" + c->SaveCheckpoint(9);
  // Only the newest checkpoint of the trial is kept.
  EXPECT_FALSE(fs::exists(dir.path() + "/b/" + rel));
  ExpectSameWeights(a_path, c_path);
}

// trainer.memory_format "channels_last": the same model learns, and a trial
// resumed from a checkpoint ends with the weights of one run straight
// through.
TEST(TorchTrainerTest, ChannelsLastLearnsAndResumesExactly) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  json cnn = SmallCnn();
  cnn["memory_format"] = "channels_last";
  StudySpec spec = ToyStudy(dir.path() + "/shards", cnn);
  std::atomic<bool> cancel{false};
  auto a = NewTorchTrainer(Task(spec, dir.path() + "/a"));
  json m;
  for (int e = 1; e <= 6; ++e) m = a->TrainEpoch(e, cancel);
  EXPECT_GT(m["val_accuracy"].get<double>(), 0.8) << m;  // Chance: 1/3.
  const std::string a_path = dir.path() + "/a/" + a->SaveCheckpoint(6);
  auto b = NewTorchTrainer(Task(spec, dir.path() + "/b"));
  for (int e = 1; e <= 2; ++e) b->TrainEpoch(e, cancel);
  const std::string rel = b->SaveCheckpoint(2);
  b.reset();
  TrialTask resumed = Task(spec, dir.path() + "/b");
  resumed.from_epoch = 2;
  resumed.checkpoint = rel;
  auto c = NewTorchTrainer(resumed);
  for (int e = 3; e <= 6; ++e) c->TrainEpoch(e, cancel);
  const std::string c_path = dir.path() + "/b/" + c->SaveCheckpoint(6);
  ExpectSameWeights(a_path, c_path);
}

TEST(TorchTrainerTest, InfiniteInputsDivergeWithTheEpoch) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards",
                 std::numeric_limits<float>::infinity());
  StudySpec spec = ToyStudy(dir.path() + "/shards", SmallCnn());
  auto trainer = NewTorchTrainer(Task(spec, dir.path() + "/ckpt"));
  std::atomic<bool> cancel{false};
  try {
    trainer->TrainEpoch(1, cancel);
    FAIL() << "expected divergence";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kDiverged);
    EXPECT_NE(std::string(f.what()).find("epoch 1"), std::string::npos)
        << f.what();
  }
}

TEST(TorchTrainerTest, BadSettingsAndMissingDataAreNamedFailures) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  json trainer = SmallCnn();
  trainer["channels"] = {4, 4, 4, 4, 4, 4, 4};  // 7 pools on 16 rows.
  trainer["padding"] = "valid";
  StudySpec spec = ToyStudy(dir.path() + "/shards", trainer);
  try {
    NewTorchTrainer(Task(spec, dir.path()));
    FAIL() << "expected a config failure";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kConfig) << f.what();
  }
  StudySpec missing = ToyStudy(dir.path() + "/nowhere", SmallCnn());
  try {
    NewTorchTrainer(Task(missing, dir.path()));
    FAIL() << "expected a data failure";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kData);
    EXPECT_NE(std::string(f.what()).find("nowhere"), std::string::npos);
  }
  TrialTask t = Task(spec, dir.path());
  t.params = {{"lr", 0.01}, {"optimizer", "adamm"}};
  StudySpec ok = ToyStudy(dir.path() + "/shards", SmallCnn());
  t.spec = &ok;
  try {
    NewTorchTrainer(t);
    FAIL() << "expected a config failure";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kConfig);
    EXPECT_NE(std::string(f.what()).find("trainer.optimizer"),
              std::string::npos)
        << f.what();
  }
}

TEST(TorchTrainerTest, EvaluatesARestoredCheckpointOnTheTestSplit) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  StudySpec spec = ToyStudy(dir.path() + "/shards", SmallCnn());
  std::atomic<bool> cancel{false};
  auto a = NewTorchTrainer(Task(spec, dir.path() + "/ckpt"));
  for (int e = 1; e <= 6; ++e) a->TrainEpoch(e, cancel);
  const std::string rel = a->SaveCheckpoint(6);
  const json direct = a->Evaluate("test", cancel);
  TrialTask task = Task(spec, dir.path() + "/ckpt");
  task.from_epoch = task.to_epoch = 6;
  task.checkpoint = rel;
  task.evaluate_split = "test";
  auto b = NewTorchTrainer(task);
  const json r = b->Evaluate("test", cancel);
  EXPECT_EQ(r, direct);  // The restored model is the trained one.
  const json& m = r.at("metrics");
  EXPECT_EQ(m.at("samples"), 24);
  EXPECT_EQ(m.at("tracks"), 12);
  EXPECT_GT(m.at("test_accuracy").get<double>(), 0.8) << r;
  EXPECT_GT(m.at("test_track_accuracy").get<double>(), 0.8) << r;
  EXPECT_GT(m.at("test_loss").get<double>(), 0);
  EXPECT_EQ(r.at("classes"), json({"low", "mid", "high"}));
  const json& confusion = r.at("confusion");
  ASSERT_EQ(confusion.size(), 3u);
  int64_t total = 0, diagonal = 0;
  for (size_t t = 0; t < 3; ++t) {
    ASSERT_EQ(confusion[t].size(), 3u);
    int64_t row = 0;
    for (size_t p = 0; p < 3; ++p) row += confusion[t][p].get<int64_t>();
    EXPECT_EQ(row, 8) << "class " << t << " has 8 test segments";
    total += row;
    diagonal += confusion[t][t].get<int64_t>();
  }
  EXPECT_EQ(total, 24);
  EXPECT_DOUBLE_EQ(m.at("test_accuracy").get<double>(), diagonal / 24.0);
  try {
    b->Evaluate("holdout", cancel);
    FAIL() << "expected a data failure";
  } catch (const TrialFailure& f) {
    EXPECT_EQ(f.kind(), FailureKind::kData);
    EXPECT_NE(std::string(f.what()).find("holdout"), std::string::npos);
  }
}

// trainer.keep "best": best.pt beside the newest checkpoint (a later
// SaveCheckpoint deletes older epochs but not it), holding that epoch's
// weights, and an evaluation from it says which epoch they are.
TEST(TorchTrainerTest, KeepBestKeepsTheBestEpochBesideTheNewest) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  json trainer = SmallCnn();
  trainer["keep"] = "best";
  StudySpec spec = ToyStudy(dir.path() + "/shards", trainer);
  ASSERT_TRUE(spec.keep_best);
  std::atomic<bool> cancel{false};
  auto a = NewTorchTrainer(Task(spec, dir.path() + "/ckpt"));
  a->TrainEpoch(1, cancel);
  a->SaveCheckpoint(1);
  a->TrainEpoch(2, cancel);
  const std::string second = a->SaveCheckpoint(2);
  const std::string best = a->SaveBest(2);
  EXPECT_EQ(fs::path(best).filename(), "best.pt");
  EXPECT_EQ(fs::path(best).parent_path(), fs::path(second).parent_path());
  a->TrainEpoch(3, cancel);
  a->SaveCheckpoint(3);
  const fs::path trial_dir = fs::path(dir.path()) / "ckpt" / best;
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(trial_dir.parent_path())) {
    files.insert(e.path().filename().string());
  }
  EXPECT_EQ(files, (std::set<std::string>{"best.pt", "epoch-0003.pt"}));
  EXPECT_EQ(a->Evaluate("test", cancel).at("metrics").at("checkpoint_epoch"),
            3);

  // Epoch 2's weights, restored from best.pt, evaluate as epoch 2.
  auto twice = NewTorchTrainer(Task(spec, dir.path() + "/ckpt2"));
  twice->TrainEpoch(1, cancel);
  twice->TrainEpoch(2, cancel);
  const std::string reference = twice->SaveCheckpoint(2);
  ExpectSameWeights(dir.path() + "/ckpt/" + best,
                    dir.path() + "/ckpt2/" + reference);
  TrialTask task = Task(spec, dir.path() + "/ckpt");
  task.from_epoch = task.to_epoch = 2;
  task.checkpoint = best;
  task.evaluate_split = "test";
  const json r = NewTorchTrainer(task)->Evaluate("test", cancel);
  EXPECT_EQ(r.at("metrics").at("checkpoint_epoch"), 2);
}

TEST(TorchTrainerTest, AmpTrainsUnderBf16Autocast) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  json amp = SmallCnn();
  amp["amp"] = true;
  StudySpec fp32_spec = ToyStudy(dir.path() + "/shards", SmallCnn());
  StudySpec amp_spec = ToyStudy(dir.path() + "/shards", amp);
  std::atomic<bool> cancel{false};
  auto fp32 = NewTorchTrainer(Task(fp32_spec, dir.path() + "/a"));
  auto bf16 = NewTorchTrainer(Task(amp_spec, dir.path() + "/b"));
  json f = fp32->TrainEpoch(1, cancel);
  json m = bf16->TrainEpoch(1, cancel);
  // Same seed and data: only the arithmetic differs.
  EXPECT_NE(f["train_loss"], m["train_loss"]);
  EXPECT_NEAR(f["train_loss"].get<double>(), m["train_loss"].get<double>(),
              0.1);
  for (int e = 2; e <= 6; ++e) m = bf16->TrainEpoch(e, cancel);
  EXPECT_GT(m["val_accuracy"].get<double>(), 0.7) << m;
  // Autocast is off again outside the trainer's steps.
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(torch::ones({2, 2}).matmul(torch::ones({2, 2})).scalar_type(),
            torch::kFloat);
}

// A TorchScript module that does not fit the shards fails the trial as
// config, in one line naming the file and both shapes (README, "Your own
// model").
TEST(TorchTrainerTest, ATorchScriptModuleThatDoesNotFitIsAConfigFailure) {
  testutil::ScratchDir dir("torchscript_fit");
  WriteToyShards(dir.path() + "/shards");  // [1, 16, 16], 3 classes.
  const std::string script =
      "import sys, torch\n"
      "from torch import nn\n"
      "out = sys.argv[1]\n"
      "torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(256, 4)))"
      ".save(out + '/four_classes.pt')\n"
      "torch.jit.script(nn.Linear(256, 3)).save(out + '/vectors.pt')\n"
      "open(out + '/not_torchscript.pt', 'w').write('hello')\n";
  std::ofstream(dir.path() + "/make.py") << script;
  ASSERT_EQ(
      std::system(("/usr/bin/python3 " + dir.path() + "/make.py " + dir.path())
                      .c_str()),
      0);
  auto failure = [&](const std::string& module) -> std::string {
    const StudySpec spec = ToyStudy(
        dir.path() + "/shards", {{"model", "torchscript"}, {"module", module}});
    TrialTask task = Task(spec, dir.path() + "/ckpt");
    task.data_dir = dir.path();  // Relative modules are relative to --data.
    try {
      NewTorchTrainer(task);
    } catch (const TrialFailure& f) {
      EXPECT_EQ(f.kind(), FailureKind::kConfig) << f.what();
      EXPECT_EQ(std::string(f.what()).find('\n'), std::string::npos)
          << f.what();
      return f.what();
    }
    ADD_FAILURE() << module << " was accepted";
    return "";
  };
  const std::string base = dir.path() + "/";
  EXPECT_NE(failure("four_classes.pt")
                .find("module " + base +
                      "four_classes.pt does not fit the shards: expected "
                      "input [2, 1, 16, 16] -> logits [2, 3], got logits "
                      "[2, 4] (3 classes in the manifest)"),
            std::string::npos);
  const std::string vectors = failure("vectors.pt");
  EXPECT_NE(vectors.find("module " + base +
                         "vectors.pt does not fit the shards: expected input "
                         "[2, 1, 16, 16] -> logits [2, 3], but forward() "
                         "failed: "),
            std::string::npos)
      << vectors;
  EXPECT_NE(failure("not_torchscript.pt")
                .find("not_torchscript.pt is not a TorchScript file"),
            std::string::npos);
  EXPECT_NE(failure("missing.pt").find("missing.pt does not exist"),
            std::string::npos);
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

// PBT: a member resumes another's checkpoint with parameters of its own.
TEST(TorchTrainerTest, ACopiedCheckpointTakesTheMembersNewParameters) {
  testutil::ScratchDir dir("trainer");
  WriteToyShards(dir.path() + "/shards");
  json trainer = SmallCnn();
  trainer["scheduler"] = "step";
  trainer["step_size"] = 1;
  trainer["gamma"] = 0.5;
  json study = {
      {"name", "toy"},
      {"seed", 5},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"data", {{"shards", dir.path() + "/shards"}}},
      {"trainer", trainer},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-1}}},
        {"weight_decay", {{"type", "uniform"}, {"low", 0}, {"high", 0.5}}},
        {"dropout", {{"type", "uniform"}, {"low", 0}, {"high", 0.6}}}}},
      {"algorithm",
       {{"type", "pbt"},
        {"population", 2},
        {"max_epochs", 9},
        {"interval", 3}}}};
  const StudySpec spec = ParseStudy(study, "toy.json");
  const std::string ckpt = dir.path() + "/ckpt";
  std::atomic<bool> cancel{false};
  // The parent: 3 epochs at lr 0.01, halved after each epoch.
  TrialTask p = Task(spec, ckpt);
  p.trial = 0;
  p.params = {{"lr", 0.01}, {"weight_decay", 0.0}, {"dropout", 0.2}};
  auto parent = NewTorchTrainer(p);
  json m;
  for (int e = 1; e <= 3; ++e) m = parent->TrainEpoch(e, cancel);
  EXPECT_DOUBLE_EQ(m["lr"].get<double>(), 0.0025);
  const std::string rel = parent->SaveCheckpoint(3);
  const json parent_val = parent->Evaluate("validation", cancel);
  // It trains on; in a PBT study its epoch-3 checkpoint stays (the
  // coordinator deletes it once no member may copy it).
  EXPECT_DOUBLE_EQ(parent->TrainEpoch(4, cancel)["lr"].get<double>(), 0.00125);
  parent->SaveCheckpoint(4);
  ASSERT_TRUE(fs::exists(ckpt + "/" + rel));

  auto child = [&](double lr, double weight_decay, double dropout) {
    TrialTask c = Task(spec, ckpt);
    c.trial = 1;
    c.params = {
        {"lr", lr}, {"weight_decay", weight_decay}, {"dropout", dropout}};
    c.from_epoch = 3;
    c.checkpoint = rel;
    return NewTorchTrainer(c);
  };
  auto a = child(0.005, 0.1, 0.5);
  // The parent's weights: the same validation scores, to the last bit.
  EXPECT_EQ(a->Evaluate("validation", cancel), parent_val);
  // The parent's schedule at half its height: 0.00125 x 0.005 / 0.01.
  const json ma = a->TrainEpoch(4, cancel);
  EXPECT_DOUBLE_EQ(ma["lr"].get<double>(), 0.000625);
  EXPECT_DOUBLE_EQ(a->TrainEpoch(5, cancel)["lr"].get<double>(), 0.0003125);
  // The new weight decay and dropout apply: changing either alone changes
  // the epoch (same trial, so the same batches and masks).
  const json mb = child(0.005, 0.0, 0.5)->TrainEpoch(4, cancel);
  const json mc = child(0.005, 0.1, 0.2)->TrainEpoch(4, cancel);
  const json md = child(0.005, 0.1, 0.5)->TrainEpoch(4, cancel);
  EXPECT_EQ(md["train_loss"], ma["train_loss"]);  // Deterministic.
  EXPECT_NE(mb["train_loss"], ma["train_loss"]);
  EXPECT_NE(mc["train_loss"], ma["train_loss"]);
  // The member's own checkpoints continue its own schedule on resume.
  auto again = child(0.005, 0.1, 0.5);
  again->TrainEpoch(4, cancel);
  const std::string own = again->SaveCheckpoint(4);
  TrialTask r = Task(spec, ckpt);
  r.trial = 1;
  r.params = {{"lr", 0.005}, {"weight_decay", 0.1}, {"dropout", 0.5}};
  r.from_epoch = 4;
  r.checkpoint = own;
  EXPECT_DOUBLE_EQ(
      NewTorchTrainer(r)->TrainEpoch(5, cancel)["lr"].get<double>(), 0.0003125);
}

}  // namespace
}  // namespace hpo
