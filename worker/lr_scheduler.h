// PyTorch 1.13's learning-rate schedulers in plain C++ (no LibTorch), giving
// the same doubles as torch.optim.lr_scheduler driven by a training loop.
//
// When each scheduler steps (SchedulerConfig::name):
//   per epoch (StepEpoch, after the epoch's validation):
//     none         constant: the optimizer's lr.
//     step         StepLR(step_size, gamma).
//     exponential  ExponentialLR(exp_gamma).
//     cosine       CosineAnnealingLR(T_max = t_max, or max_epochs if 0,
//                  eta_min), with PyTorch's recursive formula, so beyond
//                  T_max the lr climbs back as PyTorch's does.
//     plateau      ReduceLROnPlateau(mode max if the objective is maximized
//                  else min, plateau_factor, plateau_patience,
//                  plateau_threshold, plateau_threshold_mode,
//                  plateau_cooldown, min_lr, eps 1e-8) on the epoch's metric.
//   per batch (StepBatch, after each optimizer step):
//     onecycle     OneCycleLR(max_lr, or the optimizer's lr x max_lr_factor
//                  if 0; total_steps = max_epochs x batches_per_epoch;
//                  pct_start, anneal, div_factor, final_div_factor,
//                  three_phase). Unlike PyTorch, which raises when stepped
//                  past total_steps, it holds the lr of the last scheduled
//                  step (total_steps - 1) from then on.
//     cyclic       CyclicLR(base_lr, or the optimizer's lr if 0; max_lr, or
//                  base_lr x cyclic_max_lr_factor if 0; step_size_up =
//                  step_size_up_batches, or if 0 step_size_up_epochs x
//                  batches_per_epoch rounded half away from zero;
//                  cyclic_mode, cyclic_gamma).
// A scheduler ignores the other kind of step, so the trainer calls both.
#ifndef HPO_WORKER_LR_SCHEDULER_H_
#define HPO_WORKER_LR_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/train_config.h"

namespace hpo {

// Learning rate over training. The trainer asks lr() before each batch,
// calls StepBatch() after each optimizer step and StepEpoch(metric) after
// each epoch's validation, as PyTorch's schedulers are stepped.
//
// Not thread-safe: one trainer owns it.
class LrScheduler {
 public:
  virtual ~LrScheduler() = default;

  // The learning rate for the next batch.
  virtual double lr() const = 0;

  // Advances a per-batch scheduler by one optimizer step; a no-op for the
  // others.
  virtual void StepBatch() {}

  // Advances a per-epoch scheduler after an epoch whose objective metric was
  // `metric` (only plateau reads it; NaN counts as no improvement); a no-op
  // for the others.
  virtual void StepEpoch(double metric) {}

  // The complete state, to checkpoint and restore: a scheduler made from
  // the same config and context and restored from State() behaves exactly
  // like the original from then on. The JSON survives a dump and parse
  // (doubles are exact; infinities are written as strings).
  virtual nlohmann::json State() const = 0;

  // Replaces the state with one from State(). Throws hpo::Error (bad input)
  // if `state` is malformed or is from another scheduler or another config
  // (its "params" differ); the scheduler is then unchanged.
  virtual void Restore(const nlohmann::json& state) = 0;
};

// What a scheduler needs to know besides its config.
struct LrContext {
  double base_lr = 1e-3;          // The optimizer's lr (OptimizerConfig::lr).
  int64_t batches_per_epoch = 1;  // >= 1.
  int max_epochs = 1;     // The study's max epochs: the horizon of onecycle and
                          // of cosine with t_max 0.
  bool maximize = false;  // The objective's mode, for plateau.
};

// The valid SchedulerConfig::name values.
const std::vector<std::string>& LrSchedulerNames();

// Makes the scheduler that `config` names. Validates only the fields that
// scheduler reads, refusing what PyTorch would refuse or crash on and what
// would make a negative lr. Throws hpo::Error (bad input) with a one-line
// message naming the key, e.g. "trainer.pct_start: 1.5 is out of range...",
// and listing the valid names for an unknown scheduler.
std::unique_ptr<LrScheduler> NewLrScheduler(const SchedulerConfig& config,
                                            const LrContext& context);

}  // namespace hpo

#endif  // HPO_WORKER_LR_SCHEDULER_H_
