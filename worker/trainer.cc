#include "worker/trainer.h"

#include <cstdio>

#include "worker/torch_trainer.h"

namespace hpo {

std::filesystem::path CheckpointRoot(const std::string& checkpoint_dir,
                                     const std::string& data_dir) {
  if (!checkpoint_dir.empty()) return checkpoint_dir;
  if (!data_dir.empty()) return std::filesystem::path(data_dir) / "checkpoints";
  return "checkpoints";
}

std::string TrialCheckpointDir(const TrialTask& task) {
  char rel[160];
  std::snprintf(rel, sizeof rel, "%s/trial-%05lld", task.spec->name.c_str(),
                static_cast<long long>(task.trial));
  return rel;
}

std::string EpochCheckpointPath(const TrialTask& task, int epoch,
                                const std::string& extension) {
  char name[32];
  std::snprintf(name, sizeof name, "/epoch-%04d.", epoch);
  return TrialCheckpointDir(task) + name + extension;
}

std::unique_ptr<Trainer> NewTrainer(const TrialTask& task) {
  if (!task.spec->command.empty()) return NewCommandTrainer(task);
  const std::string model = task.spec->trainer.value("model", "");
  if (model == "synthetic") return NewSyntheticTrainer(task);
  return NewTorchTrainer(task);
}

}  // namespace hpo
