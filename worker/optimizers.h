// The optimizers a trial trains with, built from its OptimizerConfig:
// LibTorch's Adam, AdamW, SGD, RMSprop and Adagrad, plus Adadelta, which
// LibTorch 1.13's C++ API lacks. Each steps exactly as the PyTorch 1.13
// torch.optim class of the same name (tests/data/optimizer_reference.json
// holds PyTorch's own steps), and its whole state can be checkpointed and
// restored to continue bit-identically.
//
// Thread safety: none; an optimizer belongs to the one trainer thread that
// steps it.
#ifndef HPO_WORKER_OPTIMIZERS_H_
#define HPO_WORKER_OPTIMIZERS_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/train_config.h"

namespace hpo {

// torch.optim.Adadelta's hyperparameters (PyTorch's defaults). The lower-case
// accessors are LibTorch's TORCH_ARG convention, which its serialization
// macros need.
struct AdadeltaOptions
    : public torch::optim::OptimizerCloneableOptions<AdadeltaOptions> {
  AdadeltaOptions(double lr = 1.0);  // NOLINT: LibTorch's loader calls (0).
  TORCH_ARG(double, lr) = 1.0;
  TORCH_ARG(double, rho) = 0.9;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override;
  void set_lr(const double lr) override;
};

// Per-parameter state, created at the parameter's first step with a
// gradient: the running averages of squared gradients (square_avg) and of
// squared updates (acc_delta), as in PyTorch's state dict.
struct AdadeltaParamState
    : public torch::optim::OptimizerCloneableParamState<AdadeltaParamState> {
  TORCH_ARG(torch::Tensor, square_avg);
  TORCH_ARG(torch::Tensor, acc_delta);
  TORCH_ARG(int64_t, step) = 0;

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

// Adadelta, following torch/optim/adadelta.py (_single_tensor_adadelta) of
// PyTorch 1.13 operation by operation. Parameters without a gradient are
// skipped; sparse gradients are refused (c10::Error), as in PyTorch.
class Adadelta : public torch::optim::Optimizer {
 public:
  // Throws c10::Error for out-of-range options (NewOptimizer checks first).
  explicit Adadelta(std::vector<torch::optim::OptimizerParamGroup> groups,
                    AdadeltaOptions defaults = {});
  explicit Adadelta(std::vector<torch::Tensor> params,
                    AdadeltaOptions defaults = {});

  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
};

// Builds config.name over `params` (one parameter group):
//   adam, adamw  betas (beta1, beta2), eps (default 1e-8), weight_decay
//                (adamw: decoupled, PyTorch's AdamW);
//   sgd          momentum, nesterov, weight_decay; dampening 0;
//   rmsprop      alpha, eps (default 1e-8), momentum, weight_decay; not
//                centered;
//   adagrad      eps (default 1e-10), weight_decay; no lr decay;
//   adadelta     rho, eps (default 1e-6), weight_decay;
// all with lr = config.lr; eps -1 takes the default shown. Fields that the
// optimizer does not use are ignored. Throws hpo::Error (bad input) naming
// the trainer key for an unknown name, a value PyTorch refuses (negative,
// NaN, a beta outside [0, 1), rho outside [0, 1], nesterov without
// momentum) or an empty parameter list.
std::unique_ptr<torch::optim::Optimizer> NewOptimizer(
    const OptimizerConfig& config, std::vector<torch::Tensor> params);

// Sets the learning rate of every parameter group (the LR scheduler calls
// this before each batch). Throws hpo::Error (bad input) when lr is negative
// or not finite, leaving the optimizer unchanged.
void SetLearningRate(torch::optim::Optimizer& optimizer, double lr);

// Sets the weight decay of every parameter group (a PBT member resuming
// another's checkpoint with its own weight_decay). Throws hpo::Error (bad
// input) when it is negative or not finite.
void SetWeightDecay(torch::optim::Optimizer& optimizer, double weight_decay);

// Checkpoints. The saved state is everything a step reads: each parameter's
// buffers and step count, and each group's options, including its current
// learning rate. Restoring it into an optimizer that NewOptimizer built from
// the same config over parameters of the same shapes and dtypes, in the same
// order, continues bit-identically; the state's tensors are moved to the
// device of their parameter. Only optimizers built by NewOptimizer can be
// saved (others throw hpo::Error, runtime).
//
// Into / from an archive the caller owns (e.g. one checkpoint file holding
// model, optimizer and trainer state): the optimizer is a nested archive
// under `key`. LoadOptimizer throws hpo::Error (bad input) starting with
// `source` (the file name, for the message) when the key is missing, the
// saved optimizer is of another kind or over other parameters, or the
// archive is corrupt. Mismatches are found before anything changes; after a
// corrupt archive the optimizer may be partly restored and must not be used.
void SaveOptimizer(const torch::optim::Optimizer& optimizer,
                   torch::serialize::OutputArchive& archive,
                   const std::string& key);
void LoadOptimizer(torch::optim::Optimizer& optimizer,
                   torch::serialize::InputArchive& archive,
                   const std::string& key, const std::string& source);

// The same, as a file of its own at `path` (key "optimizer"). SaveOptimizer
// writes PATH.tmp and renames it over `path`, so a crash never leaves a torn
// file; it throws hpo::Error (runtime) naming the file when it cannot write.
// LoadOptimizer also throws hpo::Error (bad input) naming the file when it
// cannot be read.
void SaveOptimizer(const torch::optim::Optimizer& optimizer,
                   const std::string& path);
void LoadOptimizer(torch::optim::Optimizer& optimizer, const std::string& path);

}  // namespace hpo

#endif  // HPO_WORKER_OPTIMIZERS_H_
