#include "worker/torch_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <new>

#include "common/error.h"
#include "common/train_config.h"
#include "worker/dataset.h"
#include "worker/lr_scheduler.h"
#include "worker/models/model.h"
#include "worker/optimizers.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// splitmix64: seeds for shuffling and augmentation, independent of torch.
uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return state_ = Mix(state_, 0); }
  // Uniform in [0, n).
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % n); }

 private:
  uint64_t state_;
};

torch::Device ParseDevice(const std::string& spec) {
  if (spec.empty() || spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  try {
    torch::Device d(spec);
    if (d.is_cuda() && !torch::cuda::is_available()) {
      throw TrialFailure("config",
                         "--device " + spec +
                             ": this hpo-worker's LibTorch has no CUDA or "
                             "sees no GPU (use --device cpu, or build "
                             "against a CUDA LibTorch)");
    }
    return d;
  } catch (const c10::Error&) {
    throw TrialFailure(
        "config", "--device " + spec + ": expected auto, cpu, cuda or cuda:N");
  }
}

bool IsOutOfMemory(const std::exception& e) {
  const std::string what = e.what();
  return what.find("out of memory") != std::string::npos ||
         what.find("CUDA out of memory") != std::string::npos;
}

class TorchTrainer : public Trainer {
 public:
  explicit TorchTrainer(const TrialTask& task) : task_(task) {
    const StudySpec& spec = *task.spec;
    const std::string source = "trial " + std::to_string(task.trial);
    try {
      config_ = ParseTrainConfig(spec.trainer, task.params, source);
    } catch (const ValidationError& e) {
      throw TrialFailure("config", e.what());
    }
    if (config_.amp) {
      throw TrialFailure("config",
                         "trainer.amp: bf16 autocast is not supported by "
                         "this hpo-worker yet; set \"amp\": false");
    }
    device_ = ParseDevice(task.device);
    if (task.threads > 0 && torch::get_num_threads() != task.threads) {
      torch::set_num_threads(task.threads);
    }
    // The data: the study's data.shards, relative to the worker's --data.
    fs::path dir = spec.data_shards;
    if (dir.empty()) {
      throw TrialFailure("config",
                         "the study has no data.shards: name the shard "
                         "directory hpo-prep wrote");
    }
    if (dir.is_relative() && !task.data_dir.empty()) {
      dir = fs::path(task.data_dir) / dir;
    }
    try {
      data_ = Dataset::Get(dir.string(), device_);
      train_ = &data_->split("training");
      val_ = &data_->split("validation");
    } catch (const Error& e) {
      throw TrialFailure("data", e.what());
    }
    if (train_->size() == 0 || val_->size() == 0) {
      throw TrialFailure("data", dir.string() +
                                     ": the training or validation split is "
                                     "empty (rerun hpo-prep with more tracks)");
    }
    seed_ = Mix(spec.seed, static_cast<uint64_t>(task.trial));
    torch::manual_seed(seed_ & 0x7fffffffffffffffull);
    try {
      const features::Manifest& m = data_->manifest();
      model_ = models::BuildModel(
          config_.model,
          {m.sample_shape, static_cast<int64_t>(m.classes.size())});
      model_->to(device_);
      optimizer_ = NewOptimizer(config_.optimizer, model_->parameters());
      // A last batch of one sample is dropped: batch norm cannot train on
      // it.
      batches_per_epoch_ =
          (train_->size() + config_.batch_size - 1) / config_.batch_size;
      if (train_->size() > 1 && train_->size() % config_.batch_size == 1) {
        --batches_per_epoch_;
      }
      LrContext context;
      context.base_lr = config_.optimizer.lr;
      context.batches_per_epoch = batches_per_epoch_;
      context.max_epochs = std::max(1, spec.algorithm.max_epochs);
      context.maximize = spec.objective.mode == ObjectiveMode::kMax;
      scheduler_ = NewLrScheduler(config_.scheduler, context);
    } catch (const Error& e) {
      throw TrialFailure("config", source + ": " + e.what());
    }
    if (!task.checkpoint.empty()) Restore(task.checkpoint);
  }

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    try {
      return Epoch(epoch, cancel);
    } catch (const TrialFailure&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw TrialFailure("oom", "out of memory in epoch " +
                                    std::to_string(epoch) +
                                    " (try a smaller batch_size or model)");
    } catch (const c10::Error& e) {
      if (IsOutOfMemory(e)) {
        throw TrialFailure("oom", "out of memory on " + device_.str() +
                                      " in epoch " + std::to_string(epoch) +
                                      " (try a smaller batch_size, or fewer "
                                      "--slots): " +
                                      e.what_without_backtrace());
      }
      throw TrialFailure(
          "error", std::string("LibTorch: ") + e.what_without_backtrace());
    }
  }

  std::string SaveCheckpoint(int epoch) override {
    char rel[160];
    std::snprintf(rel, sizeof rel, "%s/trial-%05lld/epoch-%04d.pt",
                  task_.spec->name.c_str(), static_cast<long long>(task_.trial),
                  epoch);
    const fs::path path = CheckpointRoot() / rel;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    try {
      torch::serialize::OutputArchive archive;
      torch::serialize::OutputArchive model;
      model_->save(model);
      archive.write("model", model);
      SaveOptimizer(*optimizer_, archive, "optimizer");
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      torch::Tensor rng;
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        rng = generator.get_state();
      }
      archive.write("rng", rng);
      json meta = {{"epoch", epoch},
                   {"trial", task_.trial},
                   {"scheduler", scheduler_->State()}};
      archive.write("meta", c10::IValue(meta.dump()));
      const fs::path tmp = path.string() + ".tmp";
      archive.save_to(tmp.string());
      fs::rename(tmp, path);
    } catch (const std::exception& e) {
      throw TrialFailure("error", "cannot write checkpoint " + path.string() +
                                      ": " + e.what());
    }
    // Only the newest checkpoint of a trial is kept.
    for (const auto& entry : fs::directory_iterator(path.parent_path(), ec)) {
      if (entry.path() != path && entry.path().extension() == ".pt") {
        fs::remove(entry.path(), ec);
      }
    }
    return rel;
  }

 private:
  fs::path CheckpointRoot() const {
    if (!task_.checkpoint_dir.empty()) return task_.checkpoint_dir;
    if (!task_.data_dir.empty())
      return fs::path(task_.data_dir) / "checkpoints";
    return "checkpoints";
  }

  void Restore(const std::string& rel) {
    if (rel.find("..") != std::string::npos || fs::path(rel).is_absolute()) {
      throw TrialFailure("config", "checkpoint path " + rel +
                                       " leaves the checkpoint directory");
    }
    const fs::path path = CheckpointRoot() / rel;
    if (!fs::exists(path)) {
      throw TrialFailure("data",
                         "checkpoint " + path.string() +
                             " does not exist: every worker needs the same "
                             "--checkpoints directory (a shared one)");
    }
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(path.string(), device_);
      torch::serialize::InputArchive model;
      archive.read("model", model);
      model_->load(model);
      model_->to(device_);
      LoadOptimizer(*optimizer_, archive, "optimizer", path.string());
      torch::Tensor rng;
      archive.read("rng", rng);
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        generator.set_state(rng);
      }
      c10::IValue meta_value;
      archive.read("meta", meta_value);
      json meta = json::parse(meta_value.toStringRef());
      scheduler_->Restore(meta.at("scheduler"));
    } catch (const std::exception& e) {
      throw TrialFailure("data", "cannot restore checkpoint " + path.string() +
                                     ": " + e.what());
    }
  }

  // SpecAugment: per sample, `masks` time and frequency bands set to zero
  // (the normalised mean), widths uniform in [0, max].
  void Augment(torch::Tensor& x, Rng& rng) {
    const AugmentConfig& a = config_.augment;
    if ((a.spec_time_mask == 0 && a.spec_freq_mask == 0) || x.dim() != 4) {
      return;
    }
    const int64_t b = x.size(0), rows = x.size(2), cols = x.size(3);
    torch::Tensor freq = torch::ones({b, 1, rows, 1});
    torch::Tensor time = torch::ones({b, 1, 1, cols});
    float* f = freq.data_ptr<float>();
    float* t = time.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      for (int m = 0; m < a.masks; ++m) {
        if (a.spec_freq_mask > 0) {
          const int64_t w =
              rng.Below(std::min<int64_t>(a.spec_freq_mask, rows) + 1);
          const int64_t s = rng.Below(rows - w + 1);
          for (int64_t r = s; r < s + w; ++r) f[i * rows + r] = 0;
        }
        if (a.spec_time_mask > 0) {
          const int64_t w =
              rng.Below(std::min<int64_t>(a.spec_time_mask, cols) + 1);
          const int64_t s = rng.Below(cols - w + 1);
          for (int64_t c = s; c < s + w; ++c) t[i * cols + c] = 0;
        }
      }
    }
    x = x * freq.to(x.device()) * time.to(x.device());
  }

  json Epoch(int epoch, const std::atomic<bool>& cancel) {
    const auto start = std::chrono::steady_clock::now();
    model_->train();
    // A permutation that depends only on the seed and the epoch, so a
    // restored trial sees the same order.
    std::vector<int64_t> order(train_->size());
    for (int64_t i = 0; i < train_->size(); ++i) order[i] = i;
    Rng shuffle(Mix(seed_, 1000003ull * epoch));
    for (int64_t i = train_->size() - 1; i > 0; --i) {
      std::swap(order[i], order[shuffle.Below(i + 1)]);
    }
    Rng augment(Mix(seed_, 2000003ull * epoch + 1));
    auto loss_options =
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
            config_.label_smoothing);
    double loss_sum = 0;
    int64_t seen = 0;
    double lr = scheduler_->lr();
    for (int64_t batch = 0; batch < batches_per_epoch_; ++batch) {
      if (cancel) return json::object();
      const int64_t from = batch * config_.batch_size;
      const int64_t to =
          std::min<int64_t>(from + config_.batch_size, train_->size());
      std::vector<int64_t> idx(order.begin() + from, order.begin() + to);
      torch::Tensor x, y;
      train_->Batch(idx, &x, &y);
      Augment(x, augment);
      lr = scheduler_->lr();
      SetLearningRate(*optimizer_, lr);
      optimizer_->zero_grad();
      torch::Tensor logits = model_->forward(x);
      torch::Tensor loss =
          torch::nn::functional::cross_entropy(logits, y, loss_options);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw TrialFailure(
            "diverged", "the training loss became " +
                            std::string(std::isnan(value) ? "NaN" : "inf") +
                            " in epoch " + std::to_string(epoch) + ", batch " +
                            std::to_string(batch + 1) + " (lr " +
                            std::to_string(lr) + ")");
      }
      loss.backward();
      if (config_.grad_clip > 0) {
        torch::nn::utils::clip_grad_norm_(model_->parameters(),
                                          config_.grad_clip);
      }
      optimizer_->step();
      scheduler_->StepBatch();
      loss_sum += value * (to - from);
      seen += to - from;
    }
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    json metrics = Evaluate(*val_);
    metrics["train_loss"] = loss_sum / std::max<int64_t>(1, seen);
    metrics["samples_per_second"] = seen / std::max(1e-9, train_seconds);
    metrics["lr"] = lr;
    const std::string& objective = task_.spec->objective.metric;
    if (metrics.contains(objective) && metrics[objective].is_number()) {
      scheduler_->StepEpoch(metrics[objective].get<double>());
    } else {
      scheduler_->StepEpoch(metrics["val_loss"].get<double>());
    }
    metrics["epoch_seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    return metrics;
  }

  // Loss and accuracy on a split: per segment, and per track from the sum
  // of its segments' log-probabilities.
  json Evaluate(const SplitData& split) {
    torch::NoGradGuard no_grad;
    model_->eval();
    const int64_t n = split.size();
    const int64_t batch = std::max<int64_t>(config_.batch_size, 256);
    double loss_sum = 0;
    int64_t correct = 0;
    std::map<int64_t, std::pair<int32_t, torch::Tensor>> tracks;
    for (int64_t from = 0; from < n; from += batch) {
      const int64_t to = std::min(n, from + batch);
      std::vector<int64_t> idx(to - from);
      for (int64_t i = from; i < to; ++i) idx[i - from] = i;
      torch::Tensor x, y;
      split.Batch(idx, &x, &y);
      torch::Tensor logits = model_->forward(x).to(torch::kCPU, torch::kFloat);
      torch::Tensor labels = y.to(torch::kCPU);
      loss_sum +=
          torch::nn::functional::cross_entropy(
              logits, labels,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(
                  torch::kSum))
              .item<double>();
      correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
      torch::Tensor logp = torch::log_softmax(logits, 1);
      for (int64_t i = from; i < to; ++i) {
        auto [it, fresh] = tracks.try_emplace(split.track_ids()[i]);
        if (fresh) {
          it->second = {split.labels()[i], logp[i - from].clone()};
        } else {
          it->second.second += logp[i - from];
        }
      }
    }
    int64_t track_correct = 0;
    for (const auto& [id, t] : tracks) {
      if (t.second.argmax().item<int64_t>() == t.first) ++track_correct;
    }
    model_->train();
    const double val_loss = loss_sum / std::max<int64_t>(1, n);
    if (!std::isfinite(val_loss)) {
      throw TrialFailure("diverged", "the validation loss is not finite");
    }
    return {{"val_loss", val_loss},
            {"val_accuracy",
             static_cast<double>(correct) / std::max<int64_t>(1, n)},
            {"val_track_accuracy", static_cast<double>(track_correct) /
                                       std::max<size_t>(1, tracks.size())}};
  }

  TrialTask task_;
  TrainConfig config_;
  torch::Device device_ = torch::kCPU;
  std::shared_ptr<const Dataset> data_;
  const SplitData* train_ = nullptr;
  const SplitData* val_ = nullptr;
  uint64_t seed_ = 0;
  std::shared_ptr<models::Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrScheduler> scheduler_;
  int64_t batches_per_epoch_ = 1;
};

}  // namespace

std::unique_ptr<Trainer> NewTorchTrainer(const TrialTask& task) {
  try {
    return std::make_unique<TorchTrainer>(task);
  } catch (const TrialFailure&) {
    throw;
  } catch (const c10::Error& e) {
    throw TrialFailure(IsOutOfMemory(e) ? "oom" : "error",
                       std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

}  // namespace hpo
