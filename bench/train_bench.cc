// train_bench: training throughput of one model on a device (the CPU by
// default, or --device cuda for bench/gpu/run.sh), through the real
// trainer and without any data path, for bench/train_bench.sh (which runs
// bench/train_torch_baseline.py, the same in PyTorch, beside it).
//
// For --model on the shards of --shards (hpo-prep's output), in one process:
//   (1) data path alone: one epoch's batches (a shuffled order) gathered and
//       normalised by the trainer's SplitData::Batch, without training (a
//       second pass, timed, after an untimed one);
//   (2) constant tensor: the model (BuildModel), optimizer (NewOptimizer)
//       and batch size of the trial, trained on one constant random batch
//       for --warmup-steps untimed steps, then for as many timed steps as an
//       epoch has batches: zero_grad, forward, cross entropy, item(),
//       backward, step; no data path at all;
//   (3) end to end: --epochs full epochs through hpo::NewTorchTrainer (a
//       TrialTask of a one-trial study whose "trainer" is the settings
//       below), timed around each TrainEpoch call. The trainer's own
//       samples_per_second covers its training loop from the start of the
//       epoch (shuffle, gather, normalisation, forward, backward, step) but
//       not the validation pass that follows; epoch_seconds covers both.
// (2) runs first, so its warm-up steps also warm what (3) reuses (oneDNN's
// primitive cache, the allocator, the page cache of the shards).
//
// Training settings: optimizer, lr and batch size from the flags, anything
// else from --trainer (a JSON object of trainer keys, common/train_config.h);
// the rest are the trainer's defaults: no SpecAugment, no label smoothing,
// no gradient clipping, no LR scheduler, dropout 0. Torch uses --threads
// intra-op threads (torch::set_num_threads), as the PyTorch side does.
//
// Prints a readable report, then machine-readable lines "result KEY VALUE"
// (samples/s by wall clock, and per CPU-second of the whole process, which
// other processes on a shared machine disturb less; and the minor page
// faults per step, which show glibc malloc handing large activation buffers
// back to the kernel and faulting them in again at the next step).
//
// Reproduce: build/bench/train_bench --model cnn --shards DIR
//            [--batch-size 32] [--threads 1] [--epochs 1]
//            [--warmup-steps 2] [--optimizer adam] [--lr 0.001]
//            [--trainer '{"channels": [32, 64]}'] [--seed 1]
//            [--device cpu|auto|cuda|cuda:N]
// On CUDA every timed section ends with a device synchronisation; the
// constant-tensor steps run in fp32 (the trainer's own epochs follow
// --trainer, e.g. '{"amp": true}' or '{"data_on_device": "never"}').
#include <sys/resource.h>
#include <time.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "common/error.h"
#include "common/study_spec.h"
#include "common/train_config.h"
#include "worker/dataset.h"
#include "worker/device.h"
#include "worker/malloc_tuning.h"
#include "worker/models/model.h"
#include "worker/models/torchscript.h"
#include "worker/optimizers.h"
#include "worker/torch_trainer.h"
#include "worker/trainer.h"

namespace {

using nlohmann::json;

constexpr char kUsage[] =
    "Usage: train_bench --model NAME --shards DIR [options]\n"
    "  --model NAME        cnn, unet_encoder, crnn, dcnn, dcrnn, resnet or "
    "mlp\n"
    "  --shards DIR        shard directory written by hpo-prep\n"
    "  --batch-size N      batch size (default 32)\n"
    "  --threads N         torch intra-op threads (default 1)\n"
    "  --epochs N          timed trainer epochs (default 1)\n"
    "  --warmup-steps N    untimed constant-tensor steps first (default 2)\n"
    "  --optimizer NAME    adam, adamw, sgd, rmsprop, adagrad, adadelta "
    "(default adam)\n"
    "  --lr X              learning rate (default 0.001)\n"
    "  --trainer JSON      more trainer settings, e.g. '{\"channels\": [32, "
    "64]}'\n"
    "  --seed N            study seed (default 1)\n"
    "  --device SPEC       cpu (default), auto, cuda or cuda:N\n";

struct Options {
  std::string model;
  std::string shards;
  int batch_size = 32;
  int threads = 1;
  int epochs = 1;
  int warmup_steps = 2;
  std::string optimizer = "adam";
  double lr = 1e-3;
  std::string trainer = "{}";
  int seed = 1;
  std::string device = "cpu";
};

[[noreturn]] void Usage(const std::string& why) {
  hpo::bench::UsageError("train_bench", kUsage, why);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  hpo::bench::ParseFlagPairs(argc, argv, "train_bench", kUsage,
                             [&](const std::string& flag, const char* value) {
                               if (flag == "--model") {
                                 o.model = value;
                               } else if (flag == "--shards") {
                                 o.shards = value;
                               } else if (flag == "--batch-size") {
                                 o.batch_size = std::atoi(value);
                               } else if (flag == "--threads") {
                                 o.threads = std::atoi(value);
                               } else if (flag == "--epochs") {
                                 o.epochs = std::atoi(value);
                               } else if (flag == "--warmup-steps") {
                                 o.warmup_steps = std::atoi(value);
                               } else if (flag == "--optimizer") {
                                 o.optimizer = value;
                               } else if (flag == "--lr") {
                                 o.lr = std::atof(value);
                               } else if (flag == "--trainer") {
                                 o.trainer = value;
                               } else if (flag == "--seed") {
                                 o.seed = std::atoi(value);
                               } else if (flag == "--device") {
                                 o.device = value;
                               } else {
                                 return false;
                               }
                               return true;
                             });
  if (o.model.empty()) Usage("--model is required, e.g. --model cnn");
  if (o.shards.empty()) Usage("--shards is required (hpo-prep's output)");
  if (o.batch_size < 2) Usage("--batch-size must be >= 2 (batch norm)");
  if (o.threads < 1) Usage("--threads must be >= 1");
  if (o.epochs < 1) Usage("--epochs must be >= 1");
  if (o.warmup_steps < 0) Usage("--warmup-steps must be >= 0");
  if (o.seed < 0) Usage("--seed must be >= 0");
  return o;
}

// Seconds of CPU time used by the whole process (all threads) so far.
double CpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Minor page faults of the process so far: the kernel zero-filling pages
// that malloc freshly mapped (glibc maps blocks over its mmap threshold,
// e.g. large activations, and unmaps them on free).
double MinorFaults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_minflt);
}

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    out += (i ? "x" : "") + std::to_string(shape[i]);
  }
  return out;
}

void Result(const char* key, double value) {
  std::printf("result %s %.6g\n", key, value);
}

// The one-trial study that the trainer runs.
hpo::StudySpec MakeStudy(const Options& o, const std::string& shards) {
  json trainer;
  try {
    trainer = json::parse(o.trainer);
  } catch (const json::exception& e) {
    Usage("--trainer: not JSON: " + std::string(e.what()));
  }
  if (!trainer.is_object()) Usage("--trainer: expected a JSON object");
  trainer["model"] = o.model;
  trainer["optimizer"] = o.optimizer;
  trainer["lr"] = o.lr;
  trainer["batch_size"] = o.batch_size;
  json study = {{"name", "train_bench"},
                {"seed", o.seed},
                {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
                {"data", {{"shards", shards}}},
                {"trainer", trainer},
                {"search_space", json::object()},
                {"algorithm", {{"type", "random"}, {"max_epochs", o.epochs}}},
                {"budget", {{"max_trials", 1}}}};
  return hpo::ParseStudy(study, "train_bench");
}

int Run(const Options& o, int argc, char** argv) {
  namespace fs = std::filesystem;
  torch::set_num_threads(o.threads);
  const std::string shards = fs::absolute(o.shards).lexically_normal();
  const hpo::StudySpec spec = MakeStudy(o, shards);
  const hpo::TrainConfig config =
      hpo::ParseTrainConfig(spec.trainer, json::object(), "train_bench");
  const hpo::DeviceChoice choice = hpo::ResolveDevice(o.device);
  const torch::Device device(choice.device);
  // Waits for the device's queued work, so that a timer read after it
  // covers that work (CUDA runs asynchronously).
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };

  // The trainer's dataset object (cached per process, so the trainer below
  // shares these maps): checksums are verified here, outside any timing.
  auto data =
      hpo::Dataset::Get(shards, device, config.data_on_device != "never");
  const hpo::SplitData& train = data->split("training");
  const hpo::SplitData& val = data->split("validation");
  const hpo::features::Manifest& manifest = data->manifest();
  const int64_t n = train.size();
  const int64_t b = o.batch_size;
  // As the trainer: a last batch of one sample is dropped.
  int64_t batches = (n + b - 1) / b;
  int64_t epoch_samples = n;
  if (n > 1 && n % b == 1) {
    --batches;
    --epoch_samples;
  }

  std::printf(
      "train_bench: %s on %s: %lld training samples (%lld batches "
      "of %lld), %lld validation, input %s, %zu classes, %d "
      "thread(s), device %s (%s)%s\n",
      o.model.c_str(), shards.c_str(), static_cast<long long>(n),
      static_cast<long long>(batches), static_cast<long long>(b),
      static_cast<long long>(val.size()),
      ShapeText(manifest.sample_shape).c_str(), manifest.classes.size(),
      o.threads, choice.device.c_str(), choice.reason.c_str(),
      device.is_cuda()
          ? (data->resident() ? ", features resident on the device"
                              : ", features streamed through pinned memory")
          : "");
  std::printf("reproduce:");
  for (int i = 0; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n");

  // (1) The data path alone.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(o.seed));
  auto data_pass = [&] {
    for (int64_t k = 0; k < batches; ++k) {
      const int64_t from = k * b, to = std::min(n, from + b);
      std::vector<int64_t> idx(order.begin() + from, order.begin() + to);
      torch::Tensor x, y;
      train.Batch(idx, &x, &y);
    }
    sync();
  };
  data_pass();  // Untimed, as the PyTorch side (which touches pages here).
  double t0 = Now();
  data_pass();
  const double data_s = Now() - t0;
  std::printf(
      "data path alone: %lld batches gathered and normalised in "
      "%.4f s (%.3f ms per batch)\n",
      static_cast<long long>(batches), data_s,
      1e3 * data_s / static_cast<double>(batches));

  // (2) The same model, optimizer and batch size on a constant batch.
  torch::manual_seed(o.seed);
  hpo::models::InputSpec input{manifest.sample_shape,
                               static_cast<int64_t>(manifest.classes.size())};
  auto model = config.model.name == "torchscript"
                   ? hpo::models::LoadTorchScript(config.model.module, input)
                   : hpo::models::BuildModel(config.model, input);
  const int64_t params = hpo::models::CountParameters(*model);
  model->to(device);
  auto optimizer = hpo::NewOptimizer(config.optimizer, model->parameters());
  std::vector<int64_t> sizes = {b};
  sizes.insert(sizes.end(), manifest.sample_shape.begin(),
               manifest.sample_shape.end());
  const torch::Tensor x = torch::randn(sizes).to(device);
  const torch::Tensor y =
      torch::arange(b, torch::kLong).remainder(input.classes).to(device);
  model->train();
  auto step = [&] {
    optimizer->zero_grad();
    torch::Tensor loss =
        torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.item<double>();
    loss.backward();
    optimizer->step();
  };
  for (int i = 0; i < o.warmup_steps; ++i) step();
  sync();
  t0 = Now();
  double c0 = CpuSeconds(), f0 = MinorFaults();
  for (int64_t k = 0; k < batches; ++k) step();
  sync();
  const double const_s = Now() - t0, const_cpu = CpuSeconds() - c0;
  const double const_faults = MinorFaults() - f0;
  const double const_samples = static_cast<double>(batches * b);
  std::printf(
      "constant tensor: %lld steps of %lld after %d warm-up steps: "
      "%.3f s (CPU %.3f s, %.0f page faults per step): %.2f samples/s\n",
      static_cast<long long>(batches), static_cast<long long>(b),
      o.warmup_steps, const_s, const_cpu,
      const_faults / static_cast<double>(batches), const_samples / const_s);
  model.reset();
  optimizer.reset();

  // (3) Full epochs through the trainer.
  const fs::path checkpoints =
      fs::temp_directory_path() /
      ("train_bench_ckpt_" + std::to_string(static_cast<long long>(getpid())));
  hpo::TrialTask task;
  task.spec = &spec;
  task.trial = 0;
  task.params = json::object();
  task.to_epoch = o.epochs;
  task.device = choice.device;
  task.threads = o.threads;
  task.checkpoint_dir = checkpoints.string();
  auto trainer = hpo::NewTorchTrainer(task);
  std::atomic<bool> cancel{false};
  double train_s = 0, epoch_s = 0, epoch_cpu = 0, epoch_faults = 0;
  double last_sps = 0;  // The last epoch's, warm (cuDNN's choices made).
  for (int e = 1; e <= o.epochs; ++e) {
    t0 = Now();
    c0 = CpuSeconds();
    f0 = MinorFaults();
    json m = trainer->TrainEpoch(e, cancel);
    const double wall = Now() - t0, cpu = CpuSeconds() - c0;
    const double faults = MinorFaults() - f0;
    const double sps = m.at("samples_per_second").get<double>();
    const double loop = static_cast<double>(epoch_samples) / sps;
    std::printf(
        "epoch %d: training loop %.3f s (trainer's samples_per_second "
        "%.2f), with validation %.3f s (trainer's epoch_seconds "
        "%.3f), CPU %.3f s, %.0f page faults per batch; train_loss %.4f, "
        "val_accuracy %.3f\n",
        e, loop, sps, wall, m.at("epoch_seconds").get<double>(), cpu,
        faults / static_cast<double>(batches), m.at("train_loss").get<double>(),
        m.at("val_accuracy").get<double>());
    train_s += loop;
    last_sps = sps;
    epoch_s += wall;
    epoch_cpu += cpu;
    epoch_faults += faults;
  }
  trainer.reset();
  std::error_code ec;
  fs::remove_all(checkpoints, ec);

  const double samples = static_cast<double>(epoch_samples * o.epochs);
  const double train_sps = samples / train_s;
  const double const_sps = const_samples / const_s;
  std::printf(
      "hpo end to end %.2f samples/s, constant tensor %.2f "
      "samples/s: data-path efficiency %.3f\n",
      train_sps, const_sps, train_sps / const_sps);
  Result("params", static_cast<double>(params));
  Result("train_samples", static_cast<double>(epoch_samples));
  Result("batches", static_cast<double>(batches));
  Result("data_ms_per_batch", 1e3 * data_s / static_cast<double>(batches));
  Result("train_sps", train_sps);
  Result("last_train_sps", last_sps);
  Result("epoch_sps", samples / epoch_s);
  Result("epoch_cpu_sps", samples / epoch_cpu);
  Result("const_sps", const_sps);
  Result("const_cpu_sps", const_samples / const_cpu);
  Result("efficiency", train_sps / const_sps);
  Result("const_faults_per_step", const_faults / static_cast<double>(batches));
  Result("epoch_faults_per_batch",
         epoch_faults / static_cast<double>(batches * o.epochs));
  std::printf("result input %s\n", ShapeText(manifest.sample_shape).c_str());
  std::printf("result device %s\n", choice.device.c_str());
  std::printf("result resident %d\n", data->resident() ? 1 : 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  // As hpo-worker does (worker/malloc_tuning.h), unless the allocator is
  // under test (MALLOC=system in bench/train_bench.sh).
  const char* malloc_mode = std::getenv("HPO_MALLOC");
  if (malloc_mode == nullptr || std::string(malloc_mode) != "system") {
    hpo::RetainFreedMemory();
  }
  try {
    return Run(o, argc, argv);
  } catch (const hpo::TrialFailure& e) {
    std::fprintf(stderr, "train_bench: trial failed (%s): %s\n",
                 hpo::ToString(e.kind()), e.what());
    return 1;
  } catch (const hpo::Error& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 1;
  }
}
