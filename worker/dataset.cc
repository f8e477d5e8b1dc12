#include "worker/dataset.h"

#include <mutex>

#include "common/error.h"

namespace hpo {
namespace {

torch::Dtype TorchDtype(features::DType d) {
  return d == features::DType::kFloat16 ? torch::kHalf : torch::kFloat;
}

// Copies a split's features to the device in one tensor. Throws c10::Error
// when the device is out of memory.
torch::Tensor Upload(const features::ShardSplit& split,
                     const std::vector<int64_t>& shape,
                     const torch::Device& device) {
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < split.shard_count(); ++k) {
    int64_t begin = 0, n = 0;
    const void* data = split.shard_features(k, &begin, &n);
    std::vector<int64_t> sizes = {n};
    sizes.insert(sizes.end(), shape.begin(), shape.end());
    // The mapping is read-only; from_blob needs a non-const pointer but the
    // tensor is only read (copied to the device).
    torch::Tensor host = torch::from_blob(const_cast<void*>(data), sizes,
                                          TorchDtype(split.dtype()));
    parts.push_back(host.to(device));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
}

}  // namespace

void SplitData::Batch(const std::vector<int64_t>& indices, torch::Tensor* x,
                      torch::Tensor* y) const {
  const int64_t b = static_cast<int64_t>(indices.size());
  std::vector<int64_t> sizes = {b};
  sizes.insert(sizes.end(), sample_shape_.begin(), sample_shape_.end());
  std::vector<int64_t> labels(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) labels[i] = labels_[indices[i]];
  torch::Tensor y_cpu = torch::tensor(labels, torch::kLong);
  if (resident_.defined()) {
    torch::Tensor index = torch::tensor(indices, torch::kLong).to(device_);
    *x = resident_.index_select(0, index).to(torch::kFloat);
    *y = y_cpu.to(device_);
  } else {
    const bool cuda = device_.is_cuda();
    torch::Tensor host = torch::empty(
        sizes, torch::TensorOptions().dtype(torch::kFloat).pinned_memory(cuda));
    float* out = host.data_ptr<float>();
    const int64_t elements = split_->elements();
    for (int64_t i = 0; i < b; ++i) {
      split_->CopyFeatures(indices[i], out + i * elements);
    }
    *x = cuda ? host.to(device_, /*non_blocking=*/true) : host;
    *y = cuda ? y_cpu.to(device_, /*non_blocking=*/true) : y_cpu;
  }
  if (parts_.empty()) {
    x->sub_(mean_).mul_(inv_std_);
    return;
  }
  for (const PartNorm& p : parts_) {
    x->narrow(1, p.offset, p.elements).sub_(p.mean).mul_(p.inv_std);
  }
}

std::shared_ptr<const Dataset> Dataset::Get(const std::string& dir,
                                            const torch::Device& device,
                                            bool allow_resident) {
  static std::mutex mu;
  static auto* cache =
      new std::map<std::string, std::shared_ptr<const Dataset>>();
  std::lock_guard<std::mutex> lock(mu);
  const std::string key =
      dir + "\n" + device.str() + (allow_resident ? "" : "\nstream");
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;

  auto d = std::make_shared<Dataset>();
  d->set_ = features::ShardSet::Open(dir, /*verify_checksums=*/true);
  const features::Manifest& m = d->set_->manifest();
  const double std = m.normalization.std > 0 ? m.normalization.std : 1.0;
  bool resident = device.is_cuda() && allow_resident;
  for (const auto& [name, entry] : m.splits) {
    SplitData& s = d->splits_[name];
    s.split_ = &d->set_->split(name);
    s.sample_shape_ = m.sample_shape;
    s.device_ = device;
    s.mean_ = static_cast<float>(m.normalization.mean);
    s.inv_std_ = static_cast<float>(1.0 / std);
    for (const features::ManifestPart& p : m.parts) {
      s.parts_.push_back({p.offset, p.elements(), static_cast<float>(p.mean),
                          static_cast<float>(1.0 / (p.std > 0 ? p.std : 1.0))});
    }
    s.labels_.resize(s.split_->size());
    s.track_ids_.resize(s.split_->size());
    for (int64_t i = 0; i < s.split_->size(); ++i) {
      s.labels_[i] = s.split_->label(i);
      s.track_ids_[i] = s.split_->track_id(i);
    }
    if (resident) {
      try {
        s.resident_ = Upload(*s.split_, m.sample_shape, device);
      } catch (const c10::Error&) {
        resident = false;  // Does not fit: stream this and the other splits.
      }
    }
  }
  if (!resident) {
    for (auto& [name, s] : d->splits_) s.resident_ = torch::Tensor();
  }
  d->resident_ = resident;
  (*cache)[key] = d;
  return d;
}

const SplitData& Dataset::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) {
    throw BadInput("the shards have no " + name +
                   " split (rerun hpo-prep so that it has tracks in every "
                   "split)");
  }
  return it->second;
}

}  // namespace hpo
