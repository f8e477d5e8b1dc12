// The real trainer: a LibTorch model from the study's trainer settings and
// the trial's parameters, trained on feature shards.
#ifndef HPO_WORKER_TORCH_TRAINER_H_
#define HPO_WORKER_TORCH_TRAINER_H_

#include <memory>

#include "worker/trainer.h"

namespace hpo {

// Builds the model, optimizer and LR scheduler for `task` and restores them
// from task.checkpoint when it is set.
//
// Each epoch shuffles the training split with a generator seeded from the
// study seed, trial and epoch, applies SpecAugment masks (seeded the same
// way), trains on cross-entropy of logits, then evaluates on the validation
// split: train_loss, val_loss, val_accuracy (segments), val_track_accuracy
// (a track's segments' log-probabilities summed), val_track_loss (cross
// entropy of the softmax of a track's mean segment log-probabilities),
// epoch_seconds, samples_per_second and lr.
//
// Checkpoints go to CHECKPOINT_DIR/STUDY/trial-NNNNN/epoch-NNNN.pt with the
// model, the optimizer, the LR scheduler, the torch CPU RNG and the epoch;
// the path returned (and sent to the coordinator) is relative to the
// checkpoint directory, which every worker must see at the same place
// relative to its --checkpoints (a shared directory). A trial's older
// checkpoints are deleted when a newer one is written. Training epochs 1-9 in
// one run or 1-3, then 4-9 after a restore in another process gives the same
// weights on CPU (with one slot per worker: concurrent slots share torch's
// global RNG, which dropout draws from).
//
// Throws TrialFailure: "config" for settings that cannot work, "data" for
// missing or corrupt shards, "diverged" for a NaN or infinite loss, "oom"
// when the device runs out of memory.
std::unique_ptr<Trainer> NewTorchTrainer(const TrialTask& task);

}  // namespace hpo

#endif  // HPO_WORKER_TORCH_TRAINER_H_
