// The LibTorch models a trial can train, built from the trial's ModelConfig
// and the shard manifest's input shape and class count.
#ifndef HPO_WORKER_MODELS_MODEL_H_
#define HPO_WORKER_MODELS_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/train_config.h"

namespace hpo::models {

// A classifier: inputs [B, 1, H, W] (mel or stft shards: H bins, W
// frames), [B, 1, samples] (wave), [B, E] (stft+wave, resnet only) or
// [B, D] (vector shards) to logits [B, classes] (no softmax: the loss takes
// logits).
class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

// One input of a multi-input sample (stft+wave shards).
struct InputPart {
  std::string kind;            // stft or wave.
  std::vector<int64_t> shape;  // [1, bins, frames] or [1, samples].
  int64_t offset = 0;          // Its first value in the flat sample.
};

struct InputSpec {
  // [1, H, W] (mel, stft), [1, samples] (wave), [E] (stft+wave) or [D]
  // (vector), from the manifest.
  std::vector<int64_t> sample_shape;
  int64_t classes = 0;
  std::string kind;              // The manifest's kind; "" as mel.
  std::vector<InputPart> parts;  // stft+wave.
  int64_t n_fft = 0, hop = 0;    // The shards' STFT; 0: not known.
};

// Builds config.name (cnn, unet_encoder, crnn, dcnn, dcrnn, resnet, mlp)
// on the CPU, in train mode, with its parameters initialised from the
// current torch RNG state (seed it first with torch::manual_seed for
// reproducible trials). Fields of the config left at "model default" values
// take the model's defaults (see each model's file). Throws hpo::Error (bad
// input) naming the setting when the configuration cannot work for this
// input, e.g. more pooling steps than the input has rows, a mel model on
// vector shards, or an unknown model; hpo::Error (runtime) with context if
// LibTorch fails.
//
// The model's forward() throws hpo::Error (bad input) for a batch whose
// sample shape is not input.sample_shape. Any batch size works in eval
// mode; with batch_norm, train mode needs batches of 2 or more.
std::shared_ptr<Model> BuildModel(const ModelConfig& config,
                                  const InputSpec& input);

// The number of trainable parameters (requires_grad) of a module: what
// Keras reports as trainable (batch norm's running statistics are buffers,
// not parameters).
int64_t CountParameters(torch::nn::Module& module);

}  // namespace hpo::models

#endif  // HPO_WORKER_MODELS_MODEL_H_
