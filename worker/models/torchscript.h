// A model of the user's own: a TorchScript module (torch.jit.script(net)
// .save(path), or torch.jit.trace), trained by hpo's trainer like the
// built-in models (README, "Your own model").
#ifndef HPO_WORKER_MODELS_TORCHSCRIPT_H_
#define HPO_WORKER_MODELS_TORCHSCRIPT_H_

#include <string>

#include "worker/models/model.h"

namespace hpo::models {

// Loads the module at `path` on the CPU, in train mode, and checks it
// against the shards: a batch of two zero samples of input.sample_shape
// ([N, 1, mels, frames] or [N, D]) must give logits [2, input.classes].
// Its parameters and buffers are the returned Model's (so optimizers,
// to(device) and checkpoints reach them). Throws hpo::Error (bad input) in
// one line naming the file, the expected and the actual shape, for a file
// that is missing or not TorchScript, or a module that does not fit.
std::shared_ptr<Model> LoadTorchScript(const std::string& path,
                                       const InputSpec& input);

}  // namespace hpo::models

#endif  // HPO_WORKER_MODELS_TORCHSCRIPT_H_
