// Shard splits as training batches on a device. A worker loads each shard
// directory once per device and its slots share it.
#ifndef HPO_WORKER_DATASET_H_
#define HPO_WORKER_DATASET_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "features/shards.h"

namespace hpo {

// One split (training, validation or test) ready to batch. Thread safe.
class SplitData {
 public:
  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  const std::vector<int32_t>& labels() const { return labels_; }
  const std::vector<int64_t>& track_ids() const { return track_ids_; }

  // The samples at `indices` as float32 [B, sample shape...], normalised
  // with the training split's mean and std (each part's own, for a
  // multi-input sample), and their labels as int64 [B], both on the
  // dataset's device.
  void Batch(const std::vector<int64_t>& indices, torch::Tensor* x,
             torch::Tensor* y) const;

 private:
  friend class Dataset;
  const features::ShardSplit* split_ = nullptr;  // Mapped shards (CPU path).
  torch::Tensor resident_;  // [N, ...] float16/32 on the device, or undefined.
  std::vector<int32_t> labels_;
  std::vector<int64_t> track_ids_;
  std::vector<int64_t> sample_shape_;
  torch::Device device_ = torch::kCPU;
  float mean_ = 0, inv_std_ = 1;
  struct PartNorm {
    int64_t offset = 0, elements = 0;
    float mean = 0, inv_std = 1;
  };
  std::vector<PartNorm> parts_;  // Multi-input samples: instead of mean_.
};

// A shard directory loaded for one device.
class Dataset {
 public:
  // The dataset of `dir` on `device`, loaded on first use and cached for the
  // life of the process (slots of a worker share it). Checks every shard's
  // checksum on first load. On CPU the shards stay memory-mapped and batches
  // are gathered from them; on CUDA (with `allow_resident`) each split is
  // copied to the device once, and if one does not fit in the device's
  // memory, batches of every split go through pinned host memory instead.
  // Throws hpo::Error (bad input) naming the file for a missing or corrupt
  // shard.
  static std::shared_ptr<const Dataset> Get(const std::string& dir,
                                            const torch::Device& device,
                                            bool allow_resident = true);

  const features::Manifest& manifest() const { return set_->manifest(); }
  // Throws hpo::Error (bad input) for a split the shards lack.
  const SplitData& split(const std::string& name) const;
  // True when the features live on the device.
  bool resident() const { return resident_; }

 private:
  std::unique_ptr<features::ShardSet> set_;
  std::map<std::string, SplitData> splits_;
  bool resident_ = false;
};

}  // namespace hpo

#endif  // HPO_WORKER_DATASET_H_
