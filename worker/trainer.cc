#include "worker/trainer.h"

#include "worker/torch_trainer.h"

namespace hpo {

std::unique_ptr<Trainer> NewTrainer(const TrialTask& task) {
  if (!task.spec->command.empty()) return NewCommandTrainer(task);
  const std::string model = task.spec->trainer.value("model", "");
  if (model == "synthetic") return NewSyntheticTrainer(task);
  return NewTorchTrainer(task);
}

}  // namespace hpo
