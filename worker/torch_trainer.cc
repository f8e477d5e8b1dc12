#include "worker/torch_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <time.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <new>

#include "common/error.h"
#include "common/paths.h"
#include "common/random.h"
#include "common/train_config.h"
#include "worker/dataset.h"
#include "worker/device.h"
#include "worker/lr_scheduler.h"
#include "worker/models/model.h"
#include "worker/models/torchscript.h"
#include "worker/optimizers.h"

namespace hpo {
namespace {

// What a model needs to know of the shards.
models::InputSpec InputSpecOf(const features::Manifest& m) {
  models::InputSpec input;
  input.sample_shape = m.sample_shape;
  input.classes = static_cast<int64_t>(m.classes.size());
  input.kind = m.kind;
  for (const features::ManifestPart& p : m.parts) {
    input.parts.push_back({p.kind, p.shape, p.offset});
  }
  const nlohmann::json& pre = m.preprocessing;
  if (pre.is_object()) {
    if (pre.contains("n_fft") && pre["n_fft"].is_number_integer()) {
      input.n_fft = pre["n_fft"].get<int64_t>();
    }
    if (pre.contains("hop") && pre["hop"].is_number_integer()) {
      input.hop = pre["hop"].get<int64_t>();
    }
  }
  return input;
}

// CPU time of the calling thread (a trial trains on its own thread).
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

namespace fs = std::filesystem;
using nlohmann::json;

// Seeds for shuffling and augmentation, independent of torch's generator
// (common/random.h's Mix64; frozen, as a trial's shuffle is part of what a
// recorded study reproduces).
uint64_t Mix(uint64_t a, uint64_t b) {
  return Mix64(a + 0x9e3779b97f4a7c15ull * b);
}

// Not thread safe; one per epoch and purpose.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return state_ = Mix64(state_); }
  // Uniform in [0, n).
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % n); }

 private:
  uint64_t state_;
};

// The trial's device (the worker resolved --device already; a trainer run
// on its own, as by train_bench, may still pass "auto"), or a `config`
// failure with ResolveDevice's message.
torch::Device ParseDevice(const std::string& spec) {
  try {
    return torch::Device(ResolveDevice(spec.empty() ? "auto" : spec).device);
  } catch (const Error& e) {
    throw TrialFailure(FailureKind::kConfig, e.what());
  }
}

bool IsOutOfMemory(const std::exception& e) {
  const std::string what = e.what();
  return what.find("out of memory") != std::string::npos ||
         what.find("CUDA out of memory") != std::string::npos;
}

// bf16 autocast on the trainer's device for the life of the object (the
// settings are thread-local: slots do not disturb each other). LibTorch 2.4
// made the API per device type.
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, bool enabled)
      : enabled_(enabled), type_(device.type()) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_on_ = at::autocast::is_autocast_enabled(type_);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
#else
    if (type_ == c10::DeviceType::CUDA) {
      was_on_ = at::autocast::is_enabled();
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      was_on_ = at::autocast::is_cpu_enabled();
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    // Casts of the weights are cached while autocast is on; the outermost
    // scope drops them (the weights change with every step).
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, was_on_);
#else
    if (type_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(was_on_);
    } else {
      at::autocast::set_cpu_enabled(was_on_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  c10::DeviceType type_;
  bool was_on_ = false;
};

// Loss and accuracy of a model on one split.
struct SplitScores {
  double loss = 0;
  double accuracy = 0;
  double track_accuracy = 0;
  // Cross entropy of each track's prediction: the softmax of the mean of its
  // segments' log-probabilities (whose argmax is track_accuracy's).
  double track_loss = 0;
  int64_t samples = 0;
  int64_t tracks = 0;
  // confusion[true][predicted], over segments.
  std::vector<std::vector<int64_t>> confusion;
};

class TorchTrainer : public Trainer {
 public:
  explicit TorchTrainer(const TrialTask& task) : task_(task) {
    const StudySpec& spec = *task.spec;
    const std::string source = "trial " + std::to_string(task.trial);
    try {
      config_ = ParseTrainConfig(spec.trainer, task.params, source);
    } catch (const ValidationError& e) {
      throw TrialFailure(FailureKind::kConfig, e.what());
    }
    device_ = ParseDevice(task.device);
    if (task.threads > 0 && torch::get_num_threads() != task.threads) {
      torch::set_num_threads(task.threads);
    }
    // The data: the study's data.shards, relative to the worker's --data.
    fs::path dir = spec.data_shards;
    if (dir.empty()) {
      throw TrialFailure(FailureKind::kConfig,
                         "the study has no data.shards: name the shard "
                         "directory hpo-prep wrote");
    }
    if (dir.is_relative() && !task.data_dir.empty()) {
      dir = fs::path(task.data_dir) / dir;
    }
    try {
      data_ = Dataset::Get(dir.string(), device_,
                           config_.data_on_device != "never");
      train_ = &data_->split("training");
      val_ = &data_->split("validation");
    } catch (const Error& e) {
      throw TrialFailure(FailureKind::kData, e.what());
    }
    if (train_->size() == 0 || val_->size() == 0) {
      throw TrialFailure(FailureKind::kData,
                         dir.string() +
                             ": the training or validation split is "
                             "empty (rerun hpo-prep with more tracks)");
    }
    seed_ = Mix(spec.seed, static_cast<uint64_t>(task.trial));
    torch::manual_seed(seed_ & 0x7fffffffffffffffull);
    try {
      const features::Manifest& m = data_->manifest();
      const models::InputSpec input = InputSpecOf(m);
      if (config_.model.name == "torchscript") {
        // Relative to the worker's --data, as data.shards is.
        fs::path module = config_.model.module;
        if (module.is_relative() && !task.data_dir.empty()) {
          module = fs::path(task.data_dir) / module;
        }
        model_ = models::LoadTorchScript(module.string(), input);
      } else {
        model_ = models::BuildModel(config_.model, input);
      }
      model_->to(device_);
      channels_last_ = config_.memory_format == "channels_last";
      LayOutParameters();
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
      context_ = context;
      scheduler_lr_ = context.base_lr;
      scheduler_ = NewLrScheduler(config_.scheduler, context);
    } catch (const Error& e) {
      throw TrialFailure(FailureKind::kConfig, source + ": " + e.what());
    }
    if (!task.checkpoint.empty()) Restore(task.checkpoint);
  }

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    try {
      return Epoch(epoch, cancel);
    } catch (const TrialFailure&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw TrialFailure(FailureKind::kOom,
                         "out of memory in epoch " + std::to_string(epoch) +
                             " (try a smaller batch_size or model)");
    } catch (const c10::Error& e) {
      if (IsOutOfMemory(e)) {
        throw TrialFailure(FailureKind::kOom,
                           "out of memory on " + device_.str() + " in epoch " +
                               std::to_string(epoch) +
                               " (try a smaller batch_size, or fewer "
                               "--slots): " +
                               e.what_without_backtrace());
      }
      throw TrialFailure(FailureKind::kError, std::string("LibTorch: ") +
                                                  e.what_without_backtrace());
    }
  }

  json Evaluate(const std::string& split_name,
                const std::atomic<bool>& cancel) override {
    const SplitData* split = nullptr;
    try {
      split = &data_->split(split_name);
    } catch (const Error& e) {
      throw TrialFailure(FailureKind::kData, e.what());
    }
    if (split->size() == 0) {
      throw TrialFailure(FailureKind::kData,
                         "the " + split_name +
                             " split is empty (rerun hpo-prep with "
                             "more tracks)");
    }
    SplitScores scores;
    try {
      scores = Score(*split, cancel);
    } catch (const TrialFailure&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw TrialFailure(FailureKind::kOom, "out of memory evaluating the " +
                                                split_name + " split");
    } catch (const c10::Error& e) {
      throw TrialFailure(
          IsOutOfMemory(e) ? FailureKind::kOom : FailureKind::kError,
          std::string("LibTorch: ") + e.what_without_backtrace());
    }
    if (cancel) return json::object();
    const std::string p = split_name == "validation" ? "val" : split_name;
    json classes = json::array();
    for (const std::string& c : data_->manifest().classes) classes.push_back(c);
    return {{"metrics",
             {{p + "_loss", scores.loss},
              {p + "_accuracy", scores.accuracy},
              {p + "_track_accuracy", scores.track_accuracy},
              {p + "_track_loss", scores.track_loss},
              {"checkpoint_epoch", trained_epochs_},
              {"samples", scores.samples},
              {"tracks", scores.tracks}}},
            {"confusion", scores.confusion},
            {"classes", std::move(classes)}};
  }

  std::string SaveCheckpoint(int epoch) override {
    const std::string rel = EpochCheckpointPath(task_, epoch, "pt");
    const fs::path path = Write(rel, epoch);
    // Only the newest checkpoint of a trial is kept, and its best epoch's
    // (best.pt); in a PBT study the coordinator deletes them, once no member
    // may copy them.
    if (task_.spec->algorithm.type == AlgorithmType::kPbt) return rel;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path.parent_path(), ec)) {
      if (entry.path() != path && entry.path().extension() == ".pt" &&
          entry.path().filename() != kBestFile) {
        fs::remove(entry.path(), ec);
      }
    }
    return rel;
  }

  std::string SaveBest(int epoch) override {
    const std::string rel =
        (fs::path(TrialCheckpointDir(task_)) / kBestFile).string();
    Write(rel, epoch);
    return rel;
  }

 private:
  static constexpr const char* kBestFile = "best.pt";

  // Writes the training state after `epoch` to `rel` (under the root)
  // through a temporary file and a rename; returns the full path.
  fs::path Write(const std::string& rel, int epoch) {
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
                   {"params", task_.params},
                   {"scheduler_lr", scheduler_lr_},
                   {"scheduler", scheduler_->State()}};
      archive.write("meta", c10::IValue(meta.dump()));
      const fs::path tmp = path.string() + ".tmp";
      archive.save_to(tmp.string());
      fs::rename(tmp, path);
    } catch (const std::exception& e) {
      throw TrialFailure(
          FailureKind::kError,
          "cannot write checkpoint " + path.string() + ": " + e.what());
    }
    return path;
  }

  fs::path CheckpointRoot() const {
    return hpo::CheckpointRoot(task_.checkpoint_dir, task_.data_dir);
  }

  void Restore(const std::string& rel) {
    if (auto problem = RelativePathProblem(CheckpointRoot(), rel)) {
      throw TrialFailure(FailureKind::kConfig,
                         "checkpoint path " + rel + " " + *problem +
                             ": it must stay inside the checkpoint "
                             "directory");
    }
    const fs::path path = CheckpointRoot() / rel;
    if (!fs::exists(path)) {
      throw TrialFailure(FailureKind::kData,
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
      LayOutParameters();
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
      trained_epochs_ = meta.value("epoch", 0);
      // Another member's checkpoint (PBT), or this trial's with other
      // parameters: the schedule continues where it was, every rate
      // scaled by this trial's lr over the lr it was built with, and the
      // optimizer takes this trial's weight decay.
      const double built_lr = meta.value("scheduler_lr", scheduler_lr_);
      if (built_lr != scheduler_lr_) {
        LrContext context = context_;
        context.base_lr = built_lr;
        scheduler_ = NewLrScheduler(config_.scheduler, context);
        scheduler_lr_ = built_lr;
      }
      lr_scale_ = built_lr > 0 ? config_.optimizer.lr / built_lr : 1.0;
      scheduler_->Restore(meta.at("scheduler"));
      if (meta.value("trial", task_.trial) != task_.trial ||
          meta.value("params", task_.params) != task_.params) {
        SetWeightDecay(*optimizer_, config_.optimizer.weight_decay);
      }
    } catch (const std::exception& e) {
      throw TrialFailure(
          FailureKind::kData,
          "cannot restore checkpoint " + path.string() + ": " + e.what());
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
    const double cpu_start = ThreadCpuSeconds();
    double data_seconds = 0;  // Assembling training batches.
    using Clock = std::chrono::steady_clock;
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
    double lr = scheduler_->lr() * lr_scale_;
    for (int64_t batch = 0; batch < batches_per_epoch_; ++batch) {
      if (cancel) return json::object();
      const int64_t from = batch * config_.batch_size;
      const int64_t to =
          std::min<int64_t>(from + config_.batch_size, train_->size());
      std::vector<int64_t> idx(order.begin() + from, order.begin() + to);
      torch::Tensor x, y;
      const auto data_start = Clock::now();
      train_->Batch(idx, &x, &y);
      data_seconds +=
          std::chrono::duration<double>(Clock::now() - data_start).count();
      Augment(x, augment);
      x = Layout(x);
      lr = scheduler_->lr() * lr_scale_;
      SetLearningRate(*optimizer_, lr);
      optimizer_->zero_grad();
      torch::Tensor loss;
      {
        AutocastScope autocast(device_, config_.amp);
        torch::Tensor logits = model_->forward(x);
        loss = torch::nn::functional::cross_entropy(logits, y, loss_options);
      }
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw TrialFailure(FailureKind::kDiverged,
                           "the training loss became " +
                               std::string(std::isnan(value) ? "NaN" : "inf") +
                               " in epoch " + std::to_string(epoch) +
                               ", batch " + std::to_string(batch + 1) +
                               " (lr " + std::to_string(lr) + ")");
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
    const auto val_start = Clock::now();
    const SplitScores val = Score(*val_, cancel);
    if (cancel) return json::object();
    const double val_seconds =
        std::chrono::duration<double>(Clock::now() - val_start).count();
    json metrics = {{"val_loss", val.loss},
                    {"val_accuracy", val.accuracy},
                    {"val_track_accuracy", val.track_accuracy},
                    {"val_track_loss", val.track_loss}};
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
    // Where the epoch's time went: copying training batches out of the
    // shards, scoring the validation split, and this thread's CPU time (the
    // whole epoch's with --threads 1 on a CPU device).
    metrics["data_seconds"] = data_seconds;
    metrics["val_seconds"] = val_seconds;
    metrics["cpu_seconds"] = ThreadCpuSeconds() - cpu_start;
    trained_epochs_ = epoch;
    return metrics;
  }

  // The 4-D weights in the trial's memory format (trainer.memory_format).
  void LayOutParameters() {
    if (!channels_last_) return;
    for (torch::Tensor& p : model_->parameters()) {
      if (p.dim() == 4) {
        p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
  }

  // A batch in the trial's memory format (trainer.memory_format).
  torch::Tensor Layout(const torch::Tensor& x) const {
    if (!channels_last_ || x.dim() != 4) return x;
    return x.contiguous(torch::MemoryFormat::ChannelsLast);
  }

  // Loss and accuracy on a split: per segment, and per track from the sum
  // of its segments' log-probabilities. Throws
  // TrialFailure(FailureKind::kDiverged) for a loss that is not finite.
  SplitScores Score(const SplitData& split, const std::atomic<bool>& cancel) {
    torch::NoGradGuard no_grad;
    model_->eval();
    const int64_t n = split.size();
    const int64_t classes =
        static_cast<int64_t>(data_->manifest().classes.size());
    const int64_t batch = std::max<int64_t>(config_.batch_size, 256);
    SplitScores scores;
    scores.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    double loss_sum = 0;
    int64_t correct = 0;
    std::map<int64_t, std::pair<int32_t, torch::Tensor>> tracks;
    std::map<int64_t, int64_t> segments;  // Per track.
    for (int64_t from = 0; from < n && !cancel; from += batch) {
      const int64_t to = std::min(n, from + batch);
      std::vector<int64_t> idx(to - from);
      for (int64_t i = from; i < to; ++i) idx[i - from] = i;
      torch::Tensor x, y;
      split.Batch(idx, &x, &y);
      x = Layout(x);
      torch::Tensor logits;
      {
        AutocastScope autocast(device_, config_.amp);
        logits = model_->forward(x);
      }
      logits = logits.to(torch::kCPU, torch::kFloat);
      torch::Tensor labels = y.to(torch::kCPU);
      loss_sum +=
          torch::nn::functional::cross_entropy(
              logits, labels,
              torch::nn::functional::CrossEntropyFuncOptions().reduction(
                  torch::kSum))
              .item<double>();
      torch::Tensor predicted = logits.argmax(1).contiguous();
      correct += predicted.eq(labels).sum().item<int64_t>();
      const int64_t* p = predicted.data_ptr<int64_t>();
      torch::Tensor logp = torch::log_softmax(logits, 1);
      for (int64_t i = from; i < to; ++i) {
        const int32_t label = split.labels()[i];
        if (label >= 0 && label < classes && p[i - from] < classes) {
          ++scores.confusion[label][p[i - from]];
        }
        ++segments[split.track_ids()[i]];
        auto [it, fresh] = tracks.try_emplace(split.track_ids()[i]);
        if (fresh) {
          it->second = {label, logp[i - from].clone()};
        } else {
          it->second.second += logp[i - from];
        }
      }
    }
    int64_t track_correct = 0;
    double track_loss_sum = 0;
    for (const auto& [id, t] : tracks) {
      if (t.second.argmax().item<int64_t>() == t.first) ++track_correct;
      const torch::Tensor mean = t.second / static_cast<double>(segments[id]);
      track_loss_sum -= torch::log_softmax(mean, 0)[t.first].item<double>();
    }
    model_->train();
    scores.loss = loss_sum / std::max<int64_t>(1, n);
    if (!cancel && !std::isfinite(scores.loss)) {
      throw TrialFailure(FailureKind::kDiverged,
                         "the evaluation loss is not finite");
    }
    scores.accuracy = static_cast<double>(correct) / std::max<int64_t>(1, n);
    scores.track_accuracy =
        static_cast<double>(track_correct) / std::max<size_t>(1, tracks.size());
    scores.track_loss = track_loss_sum / std::max<size_t>(1, tracks.size());
    scores.samples = n;
    scores.tracks = static_cast<int64_t>(tracks.size());
    return scores;
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
  LrContext context_;
  // The lr the scheduler was built with (the first member's, after PBT
  // exploits) and this trial's lr over it.
  double scheduler_lr_ = 0;
  double lr_scale_ = 1.0;
  int trained_epochs_ = 0;  // Epochs the weights have: restored and trained.
  int64_t batches_per_epoch_ = 1;
  bool channels_last_ = false;  // trainer.memory_format "channels_last".
};

}  // namespace

std::unique_ptr<Trainer> NewTorchTrainer(const TrialTask& task) {
  try {
    return std::make_unique<TorchTrainer>(task);
  } catch (const TrialFailure&) {
    throw;
  } catch (const c10::Error& e) {
    throw TrialFailure(
        IsOutOfMemory(e) ? FailureKind::kOom : FailureKind::kError,
        std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

}  // namespace hpo
