// Building blocks shared by the models (private to worker/models): resolving
// a ModelConfig against a model's defaults, a "same"/"valid" convolution, a
// stack of conv blocks that checks its shapes, a dense classifier head and
// weight initialisation. Every check throws hpo::Error (bad input) with a
// one-line message that names the trainer setting at fault. Defined in
// model.cc.
#ifndef HPO_WORKER_MODELS_LAYERS_H_
#define HPO_WORKER_MODELS_LAYERS_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/train_config.h"
#include "worker/models/model.h"

namespace hpo::models {

enum class Activation { kRelu, kElu, kLeakyRelu };
enum class PoolKind { kMax, kAverage };
enum class Init { kTorch, kXavier, kKaiming };

// The size of a feature map of one sample: channels x rows x columns (rows
// are mel bins, columns are frames).
struct FeatureShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
};

// "H x W", for messages.
std::string SizeText(int64_t height, int64_t width);

// --- Resolving the config. Each returns config's value, or model_default
// when the config leaves the setting at "model default"; each throws
// BadInput naming the setting when the value is invalid.

// config.channels (empty: model_default); every entry must be >= 1.
std::vector<int64_t> ResolveChannels(const ModelConfig& config,
                                     std::vector<int64_t> model_default);
// config.dense (empty: model_default); every entry must be >= 1.
std::vector<int64_t> ResolveDense(const ModelConfig& config,
                                  std::vector<int64_t> model_default);
// config.kernel_size (0: model_default); must not be negative. Throws
// BadInput when kernel_size is a list (a model with one size for all).
int ResolveKernelSize(const ModelConfig& config, int model_default);
// One kernel size per conv block: config.kernel_size as a list (one entry
// per block, else BadInput naming trainer.kernel_size), one size for all,
// or model_default (one per block) when neither is set.
std::vector<int> ResolveKernelSizes(const ModelConfig& config,
                                    std::vector<int> model_default);
// config.padding: true for "same", false for "valid" ("": model_default).
bool ResolveSamePadding(const ModelConfig& config, bool model_default);
// config.activation: relu, elu or leaky_relu ("": model_default).
Activation ResolveActivation(const ModelConfig& config,
                             Activation model_default);
// config.init: xavier or kaiming ("default" or "": model_default).
Init ResolveInit(const ModelConfig& config, Init model_default);
// Checks config.dropout (in [0, 1)), config.pool (>= 1) and, when
// `recurrent`, gru_hidden and gru_layers (>= 1).
void CheckCommonSettings(const ModelConfig& config, bool recurrent);

// The [channels, rows, columns] of the samples that `model` (a conv model)
// trains on. Throws BadInput naming trainer.model when the shards hold
// vectors, and when input.classes < 1.
FeatureShape MelInputShape(const std::string& model, const InputSpec& input);

// Throws BadInput unless x is a batch [B, sample_shape...] with B >= 1.
// Models call it first in forward(), so a batch that does not match the
// manifest fails with a readable message instead of a LibTorch error.
void CheckBatch(const torch::Tensor& x,
                const std::vector<int64_t>& sample_shape,
                const std::string& model);

// A new activation module, for a torch::nn::Sequential.
torch::nn::AnyModule MakeActivation(Activation activation);

// Re-initialises the weights of every Conv2d and Linear under `module`
// (xavier: Glorot uniform; kaiming: He normal, fan in, ReLU gain) and zeroes
// their biases. kTorch leaves LibTorch's initialisation. Recurrent layers
// and batch norm keep theirs. Uses the torch RNG.
void InitWeights(torch::nn::Module& module, Init init);

// A 2-D convolution with stride 1. On an axis marked same, the input is
// zero-padded so the output keeps its size (as Keras "same": an even kernel
// pads one more at the end); on a valid axis the output shrinks by
// kernel - 1.
class ConvImpl : public torch::nn::Module {
 public:
  ConvImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_height,
           int64_t kernel_width, bool same_height, bool same_width);

  torch::Tensor forward(torch::Tensor x);

 private:
  bool pad_first_ = false;        // Asymmetric "same": pad_ before the conv.
  std::array<int64_t, 4> pad_{};  // Left, right, top, bottom.
  torch::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Conv);

struct ConvStackOptions {
  std::string model;              // For messages.
  FeatureShape input;             // One sample.
  std::vector<int64_t> channels;  // One conv block per entry.
  std::vector<int> kernel_sizes;  // One per block (square kernels).
  bool same_padding = false;
  int convs_per_block = 1;
  int pool = 2;  // Pool size and stride after each block; 1: none.
  PoolKind pool_kind = PoolKind::kMax;
  bool batch_norm = true;
  // false: conv, activation, batch norm (the Keras seeds 001 and 003);
  // true: conv, batch norm, activation (UNet).
  bool norm_before_activation = false;
  Activation activation = Activation::kRelu;
  double block_dropout = 0.0;  // Dropout after each block's pooling.
};

// Conv blocks: convs_per_block x (conv, activation and batch norm in the
// configured order), then pooling and dropout. Maps [B, C, H, W] to
// [B, output_shape()...]. The constructor throws BadInput, naming
// trainer.kernel_size or trainer.channels, when a valid conv or a pooling
// step would get a map smaller than its window.
class ConvStackImpl : public torch::nn::Module {
 public:
  explicit ConvStackImpl(const ConvStackOptions& options);

  torch::Tensor forward(torch::Tensor x);

  const FeatureShape& output_shape() const { return output_shape_; }

 private:
  torch::nn::Sequential layers_;
  FeatureShape output_shape_;
};
TORCH_MODULE(ConvStack);

struct DenseHeadOptions {
  int64_t in_features = 0;
  std::vector<int64_t> hidden;  // Hidden layer widths; may be empty.
  int64_t classes = 0;
  Activation activation = Activation::kRelu;
  double dropout = 0.0;
  bool batch_norm = false;     // BatchNorm1d after each hidden Linear.
  bool input_dropout = false;  // Dropout on the input features too.
};

// The classifier: [dropout], then per hidden width Linear, [batch norm],
// activation, [dropout]; then a Linear to the classes (logits). Maps
// [B, in_features] to [B, classes]. With batch norm, train mode needs
// B >= 2 (eval mode takes any B).
class DenseHeadImpl : public torch::nn::Module {
 public:
  explicit DenseHeadImpl(const DenseHeadOptions& options);

  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential layers_;
};
TORCH_MODULE(DenseHead);

}  // namespace hpo::models

#endif  // HPO_WORKER_MODELS_LAYERS_H_
