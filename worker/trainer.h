// What a worker trains, behind one interface: the synthetic trainer (analytic
// learning curves, for tests and benchmarks) and LibTorch models, chosen by
// the study's `trainer.model`.
#ifndef HPO_WORKER_TRAINER_H_
#define HPO_WORKER_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/protocol.h"
#include "common/study_spec.h"

namespace hpo {

// One job of one trial, as the coordinator assigned it.
struct TrialTask {
  const StudySpec* spec = nullptr;  // Outlives the task.
  int64_t lease = 0;
  int64_t trial = 0;
  int attempt = 1;
  nlohmann::json params;   // The trial's searched parameters.
  int from_epoch = 0;      // Resume after this many epochs...
  std::string checkpoint;  // ...from this checkpoint (may be empty).
  int to_epoch = 0;
  std::string data_dir;        // The worker's --data.
  std::string device;          // The worker's --device.
  int threads = 0;             // The worker's --threads (0: library default).
  std::string checkpoint_dir;  // The worker's --checkpoints.
  // Not empty: evaluate the checkpoint (after from_epoch == to_epoch
  // epochs) on this split instead of training.
  std::string evaluate_split;
  // The worker's log (thread-safe; may be empty): the command trainer
  // writes its program's output there.
  std::function<void(const std::string&)> log;
  // The worker's --allow-commands: whether trainer.command may run.
  bool allow_commands = false;
  // trainer.keep "best": the trial's best objective before this job (none
  // yet: unset); an epoch that beats it is saved with SaveBest().
  std::optional<double> best_value;
};

// A trial that cannot go on. `kind` tells the coordinator whether another
// attempt could succeed (Retryable() in common/protocol.h).
class TrialFailure : public std::runtime_error {
 public:
  TrialFailure(FailureKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  FailureKind kind() const { return kind_; }

 private:
  FailureKind kind_;
};

class Trainer {
 public:
  virtual ~Trainer() = default;

  // Trains epoch number `epoch` (1-based) and returns its metrics (names
  // from KnownMetrics(); a value may be null). Returns early with an empty
  // object if `cancel` becomes true. Throws TrialFailure.
  virtual nlohmann::json TrainEpoch(int epoch,
                                    const std::atomic<bool>& cancel) = 0;

  // Evaluates the model as it is (restored from the task's checkpoint) on
  // `split` ("test", "validation" or "training") and returns
  //   {"metrics": {"<split>_loss", "<split>_accuracy",
  //                "<split>_track_accuracy", "samples", "tracks",
  //                "checkpoint_epoch" (the epochs the weights trained, when
  //                known)},
  //    "confusion": [[count, ...], ...]  (true class x predicted, segments),
  //    "classes": [name, ...]}
  // ("val" stands for "validation" in the names), or an empty object if
  // `cancel` becomes true. Throws TrialFailure.
  virtual nlohmann::json Evaluate(const std::string& split,
                                  const std::atomic<bool>& cancel) {
    (void)cancel;
    throw TrialFailure(FailureKind::kConfig,
                       "this trainer has no " + split + " split");
  }

  // Saves the full training state after `epoch` epochs and returns where,
  // or "" for a trainer with no state to save. Throws TrialFailure.
  virtual std::string SaveCheckpoint(int epoch) = 0;

  // trainer.keep "best": saves the model after `epoch` epochs as the
  // trial's best, STUDY/trial-NNNNN/best.EXT (replacing the one before; a
  // later SaveCheckpoint keeps it), and returns where, or "" for a trainer
  // that cannot. Throws TrialFailure.
  virtual std::string SaveBest(int epoch) {
    (void)epoch;
    return "";
  }

  // The job now ends after epoch `to_epoch`, later than the task said (the
  // coordinator promoted the trial while it ran).
  virtual void ExtendTo(int to_epoch) { (void)to_epoch; }
};

// Where a worker keeps checkpoints: its --checkpoints, else DATA/checkpoints
// (--data), else ./checkpoints. The checkpoint paths in the protocol are
// relative to it.
std::filesystem::path CheckpointRoot(const std::string& checkpoint_dir,
                                     const std::string& data_dir);

// A trial's directory under the root, STUDY/trial-NNNNN, and the path of
// its checkpoint after `epoch` in it, STUDY/trial-NNNNN/epoch-EEEE.EXT
// (both relative to the root).
std::string TrialCheckpointDir(const TrialTask& task);
std::string EpochCheckpointPath(const TrialTask& task, int epoch,
                                const std::string& extension);

// The trainer for `task` (the command trainer for trainer.command, the
// synthetic one for trainer.model "synthetic", else the LibTorch one),
// restored to task.from_epoch. Throws TrialFailure.
std::unique_ptr<Trainer> NewTrainer(const TrialTask& task);

// The synthetic trainer alone (synthetic_trainer.cc).
std::unique_ptr<Trainer> NewSyntheticTrainer(const TrialTask& task);

// The command trainer alone (command_trainer.cc): runs the study's
// trainer.command for the task (README, "Your own training script").
std::unique_ptr<Trainer> NewCommandTrainer(const TrialTask& task);

}  // namespace hpo

#endif  // HPO_WORKER_TRAINER_H_
