#include "worker/optimizers.h"

#include <cmath>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/error.h"

namespace hpo {

namespace optim = torch::optim;

namespace {

// The key of a parameter's entry in Optimizer::state(): LibTorch 1.13 keys
// it by the address of the parameter's TensorImpl printed as a string
// (c10::guts::to_string, which later LibTorch removed), newer LibTorch by
// the address itself.
using StateKey = std::decay_t<
    decltype(std::declval<const optim::Optimizer&>().state())>::key_type;

// (A template, so that only the branch of this LibTorch's key is compiled.)
template <typename Key = StateKey>
Key KeyOf(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << p.unsafeGetTensorImpl();
    return out.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

}  // namespace

// --- Adadelta ---------------------------------------------------------------

AdadeltaOptions::AdadeltaOptions(double lr) : lr_(lr) {}

void AdadeltaOptions::serialize(
    torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(rho);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eps);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
}

void AdadeltaOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, rho);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eps);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
}

double AdadeltaOptions::get_lr() const { return lr(); }

void AdadeltaOptions::set_lr(const double lr) { this->lr(lr); }

void AdadeltaParamState::serialize(
    torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(step);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(square_avg);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(acc_delta);
}

void AdadeltaParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, step);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, square_avg);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, acc_delta);
}

Adadelta::Adadelta(std::vector<optim::OptimizerParamGroup> groups,
                   AdadeltaOptions defaults)
    : Optimizer(std::move(groups),
                std::make_unique<AdadeltaOptions>(defaults)) {
  TORCH_CHECK(defaults.lr() >= 0, "Invalid learning rate: ", defaults.lr());
  TORCH_CHECK(defaults.rho() >= 0 && defaults.rho() <= 1,
              "Invalid rho value: ", defaults.rho());
  TORCH_CHECK(defaults.eps() >= 0, "Invalid epsilon value: ", defaults.eps());
  TORCH_CHECK(defaults.weight_decay() >= 0,
              "Invalid weight_decay value: ", defaults.weight_decay());
}

Adadelta::Adadelta(std::vector<torch::Tensor> params, AdadeltaOptions defaults)
    : Adadelta(
          std::vector<optim::OptimizerParamGroup>{
              optim::OptimizerParamGroup(std::move(params))},
          defaults) {}

torch::Tensor Adadelta::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const AdadeltaOptions&>(group.options());
    const double lr = options.lr();
    const double rho = options.rho();
    const double eps = options.eps();
    const double weight_decay = options.weight_decay();
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      TORCH_CHECK(!grad.is_sparse(),
                  "Adadelta does not support sparse gradients");
      const StateKey key = KeyOf(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto fresh = std::make_unique<AdadeltaParamState>();
        fresh->square_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->acc_delta(torch::zeros_like(p, at::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<AdadeltaParamState&>(*it->second);
      state.step(state.step() + 1);

      // PyTorch's _single_tensor_adadelta, operation by operation (the
      // order of floating-point operations decides the last bits).
      if (weight_decay != 0) grad = grad.add(p, weight_decay);
      torch::Tensor square_avg = state.square_avg();
      torch::Tensor acc_delta = state.acc_delta();
      if (p.is_complex()) {
        square_avg = torch::view_as_real(square_avg);
        acc_delta = torch::view_as_real(acc_delta);
        grad = torch::view_as_real(grad);
      }
      square_avg.mul_(rho).addcmul_(grad, grad, 1 - rho);
      torch::Tensor std = square_avg.add(eps).sqrt_();
      torch::Tensor delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad);
      acc_delta.mul_(rho).addcmul_(delta, delta, 1 - rho);
      if (p.is_complex()) delta = torch::view_as_complex(delta);
      p.add_(delta, -lr);
    }
  }
  return loss;
}

void Adadelta::save(torch::serialize::OutputArchive& archive) const {
  optim::serialize<AdadeltaParamState, AdadeltaOptions>(archive, *this);
}

void Adadelta::load(torch::serialize::InputArchive& archive) {
  optim::serialize<AdadeltaParamState, AdadeltaOptions>(archive, *this);
}

// --- NewOptimizer, SetLearningRate ------------------------------------------

namespace {

// "trainer.KEY: VALUE is out of range: expected RANGE", as ParseTrainConfig
// words it, unless `ok`.
void Require(bool ok, const std::string& key, double value,
             const std::string& range) {
  if (ok) return;
  std::ostringstream message;
  message << "trainer." << key << ": " << value << " is out of range: expected "
          << range;
  throw BadInput(message.str());
}

bool Finite(double v) { return std::isfinite(v); }

// config.eps, or `fallback` (the optimizer's PyTorch default) for -1.
double EpsOr(const OptimizerConfig& config, double fallback) {
  if (config.eps == -1) return fallback;
  Require(Finite(config.eps) && config.eps >= 0, "eps", config.eps,
          "eps >= 0 (or -1: the optimizer's default)");
  return config.eps;
}

}  // namespace

std::unique_ptr<optim::Optimizer> NewOptimizer(
    const OptimizerConfig& config, std::vector<torch::Tensor> params) {
  const std::string& name = config.name;
  if (name != "adam" && name != "adamw" && name != "sgd" && name != "rmsprop" &&
      name != "adagrad" && name != "adadelta") {
    throw BadInput("trainer.optimizer: unknown optimizer \"" + name +
                   "\" (expected adam, adamw, sgd, rmsprop, adagrad or "
                   "adadelta)");
  }
  if (params.empty()) {
    throw BadInput("trainer.optimizer: " + name +
                   " got an empty parameter list (the model has no "
                   "trainable parameters)");
  }
  Require(Finite(config.lr) && config.lr >= 0, "lr", config.lr, "lr >= 0");
  Require(Finite(config.weight_decay) && config.weight_decay >= 0,
          "weight_decay", config.weight_decay, "weight_decay >= 0");

  if (name == "adam" || name == "adamw") {
    Require(config.beta1 >= 0 && config.beta1 < 1, "beta1", config.beta1,
            "0 <= beta1 < 1");
    Require(config.beta2 >= 0 && config.beta2 < 1, "beta2", config.beta2,
            "0 <= beta2 < 1");
    const auto betas = std::make_tuple(config.beta1, config.beta2);
    const double eps = EpsOr(config, 1e-8);
    if (name == "adam") {
      return std::make_unique<optim::Adam>(
          std::move(params),
          optim::AdamOptions(config.lr).betas(betas).eps(eps).weight_decay(
              config.weight_decay));
    }
    return std::make_unique<optim::AdamW>(
        std::move(params),
        optim::AdamWOptions(config.lr).betas(betas).eps(eps).weight_decay(
            config.weight_decay));
  }
  if (name == "sgd" || name == "rmsprop") {
    Require(Finite(config.momentum) && config.momentum >= 0, "momentum",
            config.momentum, "momentum >= 0");
  }
  if (name == "sgd") {
    if (config.nesterov && config.momentum <= 0) {
      throw BadInput(
          "trainer.nesterov: needs momentum > 0 (set trainer.momentum, e.g. "
          "0.9)");
    }
    return std::make_unique<optim::SGD>(std::move(params),
                                        optim::SGDOptions(config.lr)
                                            .momentum(config.momentum)
                                            .dampening(0)
                                            .nesterov(config.nesterov)
                                            .weight_decay(config.weight_decay));
  }
  if (name == "rmsprop") {
    Require(Finite(config.alpha) && config.alpha >= 0, "alpha", config.alpha,
            "alpha >= 0");
    return std::make_unique<optim::RMSprop>(
        std::move(params), optim::RMSpropOptions(config.lr)
                               .alpha(config.alpha)
                               .eps(EpsOr(config, 1e-8))
                               .momentum(config.momentum)
                               .weight_decay(config.weight_decay));
  }
  if (name == "adagrad") {
    return std::make_unique<optim::Adagrad>(
        std::move(params), optim::AdagradOptions(config.lr)
                               .eps(EpsOr(config, 1e-10))
                               .weight_decay(config.weight_decay));
  }
  Require(config.rho >= 0 && config.rho <= 1, "rho", config.rho,
          "0 <= rho <= 1");
  return std::make_unique<Adadelta>(std::move(params),
                                    AdadeltaOptions(config.lr)
                                        .rho(config.rho)
                                        .eps(EpsOr(config, 1e-6))
                                        .weight_decay(config.weight_decay));
}

void SetLearningRate(optim::Optimizer& optimizer, double lr) {
  if (!Finite(lr) || lr < 0) {
    std::ostringstream message;
    message << "learning rate " << lr << " is invalid: expected lr >= 0";
    throw BadInput(message.str());
  }
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void SetWeightDecay(optim::Optimizer& optimizer, double weight_decay) {
  Require(Finite(weight_decay) && weight_decay >= 0, "weight_decay",
          weight_decay, "weight_decay >= 0");
  for (auto& group : optimizer.param_groups()) {
    optim::OptimizerOptions& o = group.options();
    if (auto* adam = dynamic_cast<optim::AdamOptions*>(&o)) {
      adam->weight_decay(weight_decay);
    } else if (auto* adamw = dynamic_cast<optim::AdamWOptions*>(&o)) {
      adamw->weight_decay(weight_decay);
    } else if (auto* sgd = dynamic_cast<optim::SGDOptions*>(&o)) {
      sgd->weight_decay(weight_decay);
    } else if (auto* rms = dynamic_cast<optim::RMSpropOptions*>(&o)) {
      rms->weight_decay(weight_decay);
    } else if (auto* ada = dynamic_cast<optim::AdagradOptions*>(&o)) {
      ada->weight_decay(weight_decay);
    } else if (auto* delta = dynamic_cast<AdadeltaOptions*>(&o)) {
      delta->weight_decay(weight_decay);
    }
  }
}

// --- Checkpoints ------------------------------------------------------------

namespace {

// The layout of the nested archive (under the caller's key).
constexpr char kKindKey[] = "kind";      // "adam", ..., "adadelta".
constexpr char kParamsKey[] = "params";  // Join(ParamsSignature(...)).
constexpr char kLrsKey[] = "lrs";        // float64 [groups]: current lrs.
constexpr char kStateKey[] = "state";    // Optimizer::save's archive.

// The NewOptimizer name of `optimizer`'s class.
std::string KindOf(const optim::Optimizer& optimizer) {
  if (dynamic_cast<const optim::Adam*>(&optimizer)) return "adam";
  if (dynamic_cast<const optim::AdamW*>(&optimizer)) return "adamw";
  if (dynamic_cast<const optim::SGD*>(&optimizer)) return "sgd";
  if (dynamic_cast<const optim::RMSprop*>(&optimizer)) return "rmsprop";
  if (dynamic_cast<const optim::Adagrad*>(&optimizer)) return "adagrad";
  if (dynamic_cast<const Adadelta*>(&optimizer)) return "adadelta";
  throw RuntimeFailure(
      "cannot checkpoint an optimizer that NewOptimizer did not build");
}

// Every parameter's dtype and shape, group by group ("Double[3, 2]"), for
// matching a checkpoint to the optimizer it is loaded into.
std::vector<std::string> ParamsSignature(const optim::Optimizer& optimizer) {
  std::vector<std::string> signature;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      std::ostringstream out;
      out << c10::toString(p.scalar_type()) << p.sizes();
      signature.push_back(out.str());
    }
  }
  return signature;
}

// Joined with ";" for the archive (a signature has no ";").
std::string Join(const std::vector<std::string>& parts) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined += ";";
    joined += parts[i];
  }
  return joined;
}

std::vector<std::string> Split(const std::string& joined) {
  std::vector<std::string> parts;
  if (joined.empty()) return parts;
  size_t start = 0;
  for (;;) {
    const size_t end = joined.find(';', start);
    parts.push_back(joined.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// How the saved optimizer differs from this one (the first difference), or
// "" when it matches.
std::string Mismatch(const std::string& saved_kind,
                     const std::vector<std::string>& saved,
                     const std::string& kind,
                     const std::vector<std::string>& params) {
  if (saved_kind != kind) {
    return "optimizer state is for " + saved_kind +
           ", but this trial's optimizer is " + kind;
  }
  if (saved.size() != params.size()) {
    return "optimizer state is over " + std::to_string(saved.size()) +
           " parameters, but this trial's model has " +
           std::to_string(params.size());
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    if (saved[i] != params[i]) {
      return "optimizer state's parameter " + std::to_string(i) + " is " +
             saved[i] + ", but this trial's is " + params[i];
    }
  }
  return "";
}

// The first line of a LibTorch error, without its C++ backtrace.
std::string Brief(const c10::Error& e) {
  std::string message = e.what_without_backtrace();
  const size_t newline = message.find('\n');
  if (newline != std::string::npos) message.resize(newline);
  return message;
}

torch::Tensor OnDeviceOf(const torch::Tensor& t, const torch::Tensor& param) {
  return t.defined() ? t.to(param.device()) : t;
}

// Moves the state of `param` to the parameter's device (an archive loads
// onto the device it was saved from unless told otherwise).
void MoveStateToParam(optim::OptimizerParamState& base,
                      const torch::Tensor& p) {
  if (auto* s = dynamic_cast<optim::AdamParamState*>(&base)) {
    s->exp_avg(OnDeviceOf(s->exp_avg(), p));
    s->exp_avg_sq(OnDeviceOf(s->exp_avg_sq(), p));
    s->max_exp_avg_sq(OnDeviceOf(s->max_exp_avg_sq(), p));
  } else if (auto* s = dynamic_cast<optim::AdamWParamState*>(&base)) {
    s->exp_avg(OnDeviceOf(s->exp_avg(), p));
    s->exp_avg_sq(OnDeviceOf(s->exp_avg_sq(), p));
    s->max_exp_avg_sq(OnDeviceOf(s->max_exp_avg_sq(), p));
  } else if (auto* s = dynamic_cast<optim::SGDParamState*>(&base)) {
    s->momentum_buffer(OnDeviceOf(s->momentum_buffer(), p));
  } else if (auto* s = dynamic_cast<optim::RMSpropParamState*>(&base)) {
    s->square_avg(OnDeviceOf(s->square_avg(), p));
    s->momentum_buffer(OnDeviceOf(s->momentum_buffer(), p));
    s->grad_avg(OnDeviceOf(s->grad_avg(), p));
  } else if (auto* s = dynamic_cast<optim::AdagradParamState*>(&base)) {
    s->sum(OnDeviceOf(s->sum(), p));
  } else if (auto* s = dynamic_cast<AdadeltaParamState*>(&base)) {
    s->square_avg(OnDeviceOf(s->square_avg(), p));
    s->acc_delta(OnDeviceOf(s->acc_delta(), p));
  }
}

std::string ReadString(torch::serialize::InputArchive& archive,
                       const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

}  // namespace

void SaveOptimizer(const optim::Optimizer& optimizer,
                   torch::serialize::OutputArchive& archive,
                   const std::string& key) {
  torch::serialize::OutputArchive nested(archive.compilation_unit());
  nested.write(kKindKey, c10::IValue(KindOf(optimizer)));
  nested.write(kParamsKey, c10::IValue(Join(ParamsSignature(optimizer))));
  std::vector<double> lrs;
  for (const auto& group : optimizer.param_groups()) {
    lrs.push_back(group.options().get_lr());
  }
  nested.write(kLrsKey, torch::tensor(lrs, torch::kFloat64));
  torch::serialize::OutputArchive state(archive.compilation_unit());
  optimizer.save(state);
  nested.write(kStateKey, state);
  archive.write(key, nested);
}

void LoadOptimizer(optim::Optimizer& optimizer,
                   torch::serialize::InputArchive& archive,
                   const std::string& key, const std::string& source) {
  const std::string kind = KindOf(optimizer);
  const std::vector<std::string> params = ParamsSignature(optimizer);
  try {
    torch::serialize::InputArchive nested;
    if (!archive.try_read(key, nested)) {
      throw BadInput(source + ": holds no optimizer state (no \"" + key +
                     "\" entry); is it an hpo checkpoint?");
    }
    const std::string mismatch =
        Mismatch(ReadString(nested, kKindKey),
                 Split(ReadString(nested, kParamsKey)), kind, params);
    if (!mismatch.empty()) {
      throw BadInput(source + ": " + mismatch +
                     "; resume with the trainer settings the checkpoint was "
                     "written with, or delete it");
    }
    torch::Tensor lrs;
    nested.read(kLrsKey, lrs);
    if (lrs.dim() != 1 ||
        lrs.size(0) != static_cast<int64_t>(optimizer.param_groups().size())) {
      throw BadInput(source + ": optimizer state has " +
                     std::to_string(lrs.numel()) +
                     " learning rates, expected one per parameter group (" +
                     std::to_string(optimizer.param_groups().size()) + ")");
    }
    torch::serialize::InputArchive state;
    nested.read(kStateKey, state);
    optimizer.load(state);

    lrs = lrs.to(torch::kCPU, torch::kFloat64);
    auto& groups = optimizer.param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      groups[g].options().set_lr(lrs[g].item<double>());
      for (const auto& p : groups[g].params()) {
        auto it = optimizer.state().find(KeyOf(p));
        if (it != optimizer.state().end()) MoveStateToParam(*it->second, p);
      }
    }
  } catch (const c10::Error& e) {
    throw BadInput(source + ": cannot read the optimizer state: " + Brief(e));
  }
}

void SaveOptimizer(const optim::Optimizer& optimizer, const std::string& path) {
  torch::serialize::OutputArchive archive;
  SaveOptimizer(optimizer, archive, "optimizer");
  const std::string tmp = path + ".tmp";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw RuntimeFailure(path +
                         ": cannot write the optimizer state: " + Brief(e));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw RuntimeFailure(
        path + ": cannot write the optimizer state: " + error.message());
  }
}

void LoadOptimizer(optim::Optimizer& optimizer, const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw BadInput(path +
                   ": cannot read the optimizer checkpoint: no such "
                   "file");
  }
  torch::serialize::InputArchive archive;
  try {
    c10::optional<torch::Device> device;
    if (!optimizer.param_groups().empty() &&
        !optimizer.param_groups()[0].params().empty()) {
      device = optimizer.param_groups()[0].params()[0].device();
    }
    archive.load_from(path, device);
  } catch (const c10::Error& e) {
    throw BadInput(path +
                   ": cannot read the optimizer checkpoint: " + Brief(e));
  }
  LoadOptimizer(optimizer, archive, "optimizer", path);
}

}  // namespace hpo
