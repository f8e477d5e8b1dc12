#include "common/train_config.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

#include "common/error.h"
#include "common/json_checker.h"
#include "common/json_util.h"
#include "common/study_spec.h"

namespace hpo {
namespace {

using nlohmann::json;

const char kPath[] = "trainer";

// One setting: how to read it from the merged object into a TrainConfig.
using Reader = std::function<void(JsonChecker&, const json&, TrainConfig&)>;

std::optional<std::string> OneOf(JsonChecker& check, const json& t,
                                 const std::string& key,
                                 const std::vector<std::string>& values) {
  std::optional<std::string> v = check.String(t, kPath, key, false);
  if (v && std::find(values.begin(), values.end(), *v) == values.end()) {
    std::string list;
    for (const std::string& s : values) list += (list.empty() ? "" : ", ") + s;
    std::string hint = ClosestMatch(*v, values);
    check.Add(JoinPath(kPath, key),
              "\"" + *v + "\" is not one of " + list +
                  (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)"));
    return std::nullopt;
  }
  return v;
}

std::optional<double> InRange(JsonChecker& check, const json& t,
                              const std::string& key, double lo, double hi,
                              bool lo_open, bool hi_open,
                              const std::string& range) {
  std::optional<double> v = check.Number(t, kPath, key, false);
  if (!v) return v;
  const bool ok =
      (lo_open ? *v > lo : *v >= lo) && (hi_open ? *v < hi : *v <= hi);
  if (!ok) {
    check.Add(JoinPath(kPath, key),
              FormatNumber(*v) + " is out of range: expected " + range);
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<int64_t>> PositiveInts(JsonChecker& check,
                                                 const json& t,
                                                 const std::string& key,
                                                 bool allow_empty) {
  const json* a = check.Array(t, kPath, key, false);
  if (a == nullptr) return std::nullopt;
  std::vector<int64_t> out;
  for (const json& v : *a) {
    std::optional<int64_t> n = ExactInteger(v);
    if (!n || *n < 1 || *n > 65536) {
      check.Add(JoinPath(kPath, key),
                "expected a list of positive integers (e.g. [64, 64, 128, "
                "128]), found " +
                    Brief(*a));
      return std::nullopt;
    }
    out.push_back(*n);
  }
  if (out.empty() && !allow_empty) {
    check.Add(JoinPath(kPath, key), "must not be empty");
    return std::nullopt;
  }
  return out;
}

template <typename T, typename U>
void Set(const std::optional<U>& v, T* field) {
  if (v) *field = static_cast<T>(*v);
}

const double kInf = 1e300;
// The largest value of the int settings without a smaller bound of their
// own: a larger one would silently wrap when stored.
const int64_t kMaxInt = std::numeric_limits<int>::max();

const std::map<std::string, Reader>& Readers() {
  static const auto*
      readers =
          new std::
              map<std::string, Reader>{
                  // Model.
                  {"model",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "model", TrainableModels()),
                         &cfg.model.name);
                   }},
                  {"module",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     std::optional<std::string> v =
                         c.String(t, kPath, "module", false);
                     if (v && v->empty()) {
                       c.Add("trainer.module",
                             "must be the path of a TorchScript file (got "
                             "\"\")");
                     } else {
                       Set(v, &cfg.model.module);
                     }
                   }},
                  {"channels",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(PositiveInts(c, t, "channels", false),
                         &cfg.model.channels);
                   }},
                  {"kernel_size",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     // One size for every block, or a list: one per block.
                     if (!t["kernel_size"].is_array()) {
                       Set(c.IntegerAtLeast(t, kPath, "kernel_size", 1, false,
                                            64),
                           &cfg.model.kernel_size);
                       return;
                     }
                     std::optional<std::vector<int64_t>> sizes =
                         PositiveInts(c, t, "kernel_size", false);
                     if (!sizes) return;
                     for (int64_t k : *sizes) {
                       if (k > 64) {
                         c.Add("trainer.kernel_size",
                               "a kernel size is at most 64 (got " +
                                   std::to_string(k) + ")");
                         return;
                       }
                     }
                     cfg.model.kernel_sizes.assign(sizes->begin(),
                                                   sizes->end());
                   }},
                  {"padding",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "padding", {"valid", "same"}),
                         &cfg.model.padding);
                   }},
                  {"pool",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "pool", 1, false, 64),
                         &cfg.model.pool);
                   }},
                  {"batch_norm",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.Bool(t, kPath, "batch_norm", false),
                         &cfg.model.batch_norm);
                   }},
                  {"dropout",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "dropout", 0, 1, false, true,
                                 "0 <= dropout < 1"),
                         &cfg.model.dropout);
                   }},
                  {"dense",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(PositiveInts(c, t, "dense", true), &cfg.model.dense);
                   }},
                  {"gru_hidden",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "gru_hidden", 1, false,
                                          65536),
                         &cfg.model.gru_hidden);
                   }},
                  {"wave_kernel",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "wave_kernel", 1, false,
                                          1 << 20),
                         &cfg.model.wave_kernel);
                   }},
                  {"wave_stride",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "wave_stride", 1, false,
                                          1 << 20),
                         &cfg.model.wave_stride);
                   }},
                  {"gru_layers",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "gru_layers", 1, false, 16),
                         &cfg.model.gru_layers);
                   }},
                  {"bidirectional",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.Bool(t, kPath, "bidirectional", false),
                         &cfg.model.bidirectional);
                   }},
                  {"activation",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "activation",
                               {"relu", "elu", "leaky_relu"}),
                         &cfg.model.activation);
                   }},
                  {"init",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "init", {"default", "xavier", "kaiming"}),
                         &cfg.model.init);
                   }},
                  // Optimizer.
                  {"optimizer",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "optimizer",
                               {"adam", "adamw", "sgd", "rmsprop", "adagrad",
                                "adadelta"}),
                         &cfg.optimizer.name);
                   }},
                  {"lr",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "lr", 0, 100, true, false,
                                 "0 < lr <= 100"),
                         &cfg.optimizer.lr);
                   }},
                  {"weight_decay",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "weight_decay", 0, 10, false, false,
                                 "0 <= weight_decay <= 10"),
                         &cfg.optimizer.weight_decay);
                   }},
                  {"momentum",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "momentum", 0, 1, false, true,
                                 "0 <= momentum < 1"),
                         &cfg.optimizer.momentum);
                   }},
                  {"nesterov",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.Bool(t, kPath, "nesterov", false),
                         &cfg.optimizer.nesterov);
                   }},
                  {"beta1",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "beta1", 0, 1, false, true,
                                 "0 <= beta1 < 1"),
                         &cfg.optimizer.beta1);
                   }},
                  {"beta2",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "beta2", 0, 1, false, true,
                                 "0 <= beta2 < 1"),
                         &cfg.optimizer.beta2);
                   }},
                  {"eps",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "eps", 0, 1, true, false,
                                 "0 < eps <= 1"),
                         &cfg.optimizer.eps);
                   }},
                  {"alpha",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "alpha", 0, 1, false, false,
                                 "0 <= alpha <= 1"),
                         &cfg.optimizer.alpha);
                   }},
                  {"rho",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "rho", 0, 1, false, false,
                                 "0 <= rho <= 1"),
                         &cfg.optimizer.rho);
                   }},
                  // Scheduler (ranges PyTorch refuses are checked by
                  // NewLrScheduler).
                  {"scheduler",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "scheduler",
                               {"none", "step", "exponential", "cosine",
                                "onecycle", "plateau", "cyclic"}),
                         &cfg.scheduler.name);
                   }},
                  {"step_size",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "step_size", 1, false,
                                          kMaxInt),
                         &cfg.scheduler.step_size);
                   }},
                  {"gamma",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "gamma", false),
                         &cfg.scheduler.gamma);
                   }},
                  {"exp_gamma",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "exp_gamma", false),
                         &cfg.scheduler.exp_gamma);
                   }},
                  {"t_max",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "t_max", 0, false, kMaxInt),
                         &cfg.scheduler.t_max);
                   }},
                  {"eta_min",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "eta_min", 0, kInf, false, false,
                                 "eta_min >= 0"),
                         &cfg.scheduler.eta_min);
                   }},
                  {"max_lr",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "max_lr", 0, kInf, false, false,
                                 "max_lr >= 0"),
                         &cfg.scheduler.max_lr);
                   }},
                  {"max_lr_factor",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "max_lr_factor", false),
                         &cfg.scheduler.max_lr_factor);
                   }},
                  {"pct_start",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "pct_start", 0, 1, false, false,
                                 "0 <= pct_start <= 1"),
                         &cfg.scheduler.pct_start);
                   }},
                  {"div_factor",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "div_factor", false),
                         &cfg.scheduler.div_factor);
                   }},
                  {"final_div_factor",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "final_div_factor", false),
                         &cfg.scheduler.final_div_factor);
                   }},
                  {"anneal",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "anneal", {"cos", "linear"}),
                         &cfg.scheduler.anneal);
                   }},
                  {"three_phase",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.Bool(t, kPath, "three_phase", false),
                         &cfg.scheduler.three_phase);
                   }},
                  {"plateau_factor",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "plateau_factor", 0, 1, true, true,
                                 "0 < plateau_factor < 1"),
                         &cfg.scheduler.plateau_factor);
                   }},
                  {"plateau_patience",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "plateau_patience", 0,
                                          false, kMaxInt),
                         &cfg.scheduler.plateau_patience);
                   }},
                  {"plateau_threshold",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "plateau_threshold", 0, kInf, false,
                                 false, "plateau_threshold >= 0"),
                         &cfg.scheduler.plateau_threshold);
                   }},
                  {"plateau_threshold_mode",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "plateau_threshold_mode", {"rel", "abs"}),
                         &cfg.scheduler.plateau_threshold_mode);
                   }},
                  {"plateau_cooldown",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "plateau_cooldown", 0,
                                          false, kMaxInt),
                         &cfg.scheduler.plateau_cooldown);
                   }},
                  {"min_lr",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "min_lr", 0, kInf, false, false,
                                 "min_lr >= 0"),
                         &cfg.scheduler.min_lr);
                   }},
                  {"base_lr",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "base_lr", 0, kInf, false, false,
                                 "base_lr >= 0"),
                         &cfg.scheduler.base_lr);
                   }},
                  {"cyclic_max_lr_factor",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "cyclic_max_lr_factor", 1, kInf, false,
                                 false, "cyclic_max_lr_factor >= 1"),
                         &cfg.scheduler.cyclic_max_lr_factor);
                   }},
                  {"cyclic_mode",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "cyclic_mode",
                               {"triangular", "triangular2", "exp_range"}),
                         &cfg.scheduler.cyclic_mode);
                   }},
                  {"cyclic_gamma",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "cyclic_gamma", false),
                         &cfg.scheduler.cyclic_gamma);
                   }},
                  {"step_size_up_epochs",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.PositiveNumber(t, kPath, "step_size_up_epochs",
                                          false),
                         &cfg.scheduler.step_size_up_epochs);
                   }},
                  {"step_size_up_batches",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "step_size_up_batches", 1,
                                          false, kMaxInt),
                         &cfg.scheduler.step_size_up_batches);
                   }},
                  // Training.
                  {"batch_size",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(c.IntegerAtLeast(t, kPath, "batch_size", 1, false,
                                          1 << 20),
                         &cfg.batch_size);
                   }},
                  {"label_smoothing",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "label_smoothing", 0, 1, false, true,
                                 "0 <= label_smoothing < 1"),
                         &cfg.label_smoothing);
                   }},
                  {"grad_clip",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(InRange(c, t, "grad_clip", 0, kInf, false, false,
                                 "grad_clip >= 0"),
                         &cfg.grad_clip);
                   }},
                  {"amp",
                   [](JsonChecker& c, const json& t,
                      TrainConfig&
                          cfg) { Set(c.Bool(t, kPath, "amp", false), &cfg.amp); }},
                  {"data_on_device",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "data_on_device", {"auto", "never"}),
                         &cfg.data_on_device);
                   }},
                  {"keep",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "keep", {"last", "best"}), &cfg.keep);
                   }},
                  {"memory_format",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     Set(OneOf(c, t, "memory_format",
                               {"contiguous", "channels_last"}),
                         &cfg.memory_format);
                   }},
                  {"augment",
                   [](JsonChecker& c, const json& t, TrainConfig& cfg) {
                     const json* a = c.Object(t, kPath, "augment", false);
                     if (a == nullptr) return;
                     const std::string path = "trainer.augment";
                     c.CheckKeys(*a, path,
                                 {"spec_time_mask", "spec_freq_mask", "masks"},
                                 "augment (SpecAugment masking)");
                     Set(c.IntegerAtLeast(*a, path, "spec_time_mask", 0, false,
                                          100000),
                         &cfg.augment.spec_time_mask);
                     Set(c.IntegerAtLeast(*a, path, "spec_freq_mask", 0, false,
                                          100000),
                         &cfg.augment.spec_freq_mask);
                     Set(c.IntegerAtLeast(*a, path, "masks", 0, false, 100),
                         &cfg.augment.masks);
                   }},
              };
  return *readers;
}

}  // namespace

const std::vector<std::string>& TrainableModels() {
  static const std::vector<std::string> models = {
      "cnn",   "unet_encoder", "crnn", "dcnn",
      "dcrnn", "resnet",       "mlp",  "torchscript"};
  return models;
}

const std::vector<std::string>& TrainConfigKeys() {
  static const std::vector<std::string>* keys = [] {
    auto* k = new std::vector<std::string>();
    for (const auto& [key, reader] : Readers()) k->push_back(key);
    return k;
  }();
  return *keys;
}

TrainConfig ParseTrainConfig(const json& trainer, const json& params,
                             const std::string& source) {
  // A list parameter's elements ("channels[1]") go into their list.
  json merged = WithLists(trainer, params, false);
  JsonChecker check(source);
  check.CheckKeys(merged, kPath, TrainConfigKeys(), "the trainer");
  TrainConfig cfg;
  if (!merged.contains("model")) {
    check.Add("trainer.model",
              "missing: name the model to train (cnn, unet_encoder, crnn, "
              "dcnn, dcrnn, resnet, mlp, torchscript or synthetic), or give "
              "\"command\" to run a program of your own");
  }
  for (const auto& [key, reader] : Readers()) {
    if (merged.contains(key)) reader(check, merged, cfg);
  }
  if (cfg.model.name == "torchscript") {
    if (cfg.model.module.empty() && !merged.contains("module")) {
      check.Add("trainer.module",
                "missing: the TorchScript file to train (torch.jit.script("
                "net).save(...)), relative to the worker's --data");
    }
    // The module is the model: hpo's shape settings do not reach it.
    for (const char* key :
         {"channels", "kernel_size", "padding", "pool", "batch_norm", "dropout",
          "dense", "gru_hidden", "gru_layers", "bidirectional", "activation",
          "init", "wave_kernel", "wave_stride"}) {
      if (merged.contains(key)) {
        check.Add(std::string("trainer.") + key,
                  "has no effect on a TorchScript module (its shape is "
                  "fixed in the file); remove it");
      }
    }
  } else if (merged.contains("module") && merged.contains("model")) {
    check.Add("trainer.module", "is only for \"model\": \"torchscript\"");
  }
  if (cfg.optimizer.nesterov && cfg.optimizer.momentum <= 0 &&
      cfg.optimizer.name == "sgd") {
    check.Add("trainer.nesterov",
              "needs momentum > 0 (set trainer.momentum, e.g. 0.9)");
  }
  check.ThrowIfAny();
  return cfg;
}

}  // namespace hpo
