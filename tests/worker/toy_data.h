// Small shards and studies for the trainer tests: a CNN learns them in a
// few epochs on a CPU.
#ifndef HPO_TESTS_WORKER_TOY_DATA_H_
#define HPO_TESTS_WORKER_TOY_DATA_H_

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/study_spec.h"
#include "features/shards.h"
#include "worker/trainer.h"

namespace hpo {
namespace toy {

namespace fs = std::filesystem;
using nlohmann::json;

// Shards of 1 x 16 x 16 samples in 3 classes: class k has a brighter band
// of rows around 4k, plus noise, so a small CNN learns it in a few epochs.
inline void WriteToyShards(const std::string& dir, float poison = 0) {
  fs::create_directories(dir);
  features::Manifest m;
  m.kind = "mel";
  m.classes = {"low", "mid", "high"};
  m.sample_shape = {1, 16, 16};
  m.dtype = features::DType::kFloat32;
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0, 1);
  features::RowStats stats(16, 16);
  int64_t id = 1;
  for (const auto& [split, n] : std::vector<std::pair<std::string, int>>{
           {"training", 96}, {"validation", 30}, {"test", 24}}) {
    std::vector<float> f;
    std::vector<int32_t> labels;
    std::vector<int64_t> tracks;
    for (int i = 0; i < n; ++i) {
      const int label = (i / 2) % 3;  // Both segments of a track.
      for (int r = 0; r < 16; ++r) {
        for (int c = 0; c < 16; ++c) {
          const bool band = std::abs(r - (2 + 5 * label)) <= 1;
          f.push_back((band ? 2.0f : 0.0f) + noise(rng));
        }
      }
      labels.push_back(label);
      tracks.push_back(id + i / 2);  // Two segments per track.
      if (split == "training") stats.Add(f.data() + f.size() - 256);
    }
    if (poison != 0) f[5] = poison;
    id += n;
    features::SplitEntry& e = m.splits[split];
    e.class_samples = {0, 0, 0};
    for (int32_t l : labels) ++e.class_samples[l];
    e.samples = n;
    e.tracks = n / 2;
    e.shards.push_back(features::WriteShard(dir, split + "-00000", m.dtype,
                                            m.sample_shape, f, labels, tracks));
  }
  m.normalization = stats.Finish();
  features::WriteManifest(dir, m);
}

inline StudySpec ToyStudy(const std::string& shards, json trainer) {
  json study = {
      {"name", "toy"},
      {"seed", 5},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"data", {{"shards", shards}}},
      {"trainer", trainer},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-2}}}}},
      {"algorithm", {{"type", "random"}, {"max_epochs", 9}}},
      {"budget", {{"max_trials", 1}}}};
  return ParseStudy(study, "toy.json");
}

inline json SmallCnn() {
  return {{"model", "cnn"},
          {"channels", {4, 8}},
          {"kernel_size", 3},
          {"padding", "same"},
          {"dropout", 0.2},
          {"optimizer", "adam"},
          {"scheduler", "onecycle"},
          {"batch_size", 16},
          {"augment", {{"spec_time_mask", 3}, {"spec_freq_mask", 2}}}};
}

inline TrialTask Task(const StudySpec& spec, const std::string& checkpoints) {
  TrialTask t;
  t.spec = &spec;
  t.trial = 3;
  t.params = {{"lr", 0.01}};
  t.device = "cpu";
  t.checkpoint_dir = checkpoints;
  return t;
}

}  // namespace toy
}  // namespace hpo

#endif  // HPO_TESTS_WORKER_TOY_DATA_H_
