// BuildModel and CountParameters, and the building blocks of layers.h (kept
// in this file rather than a layers.cc: every LibTorch translation unit costs
// about 20 s to compile).
#include "worker/models/model.h"

#include <c10/util/Exception.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

using Factory = std::shared_ptr<Model> (*)(const ModelConfig&,
                                           const InputSpec&);

// In the order of the model.h comment.
const std::vector<std::pair<std::string, Factory>>& Factories() {
  static const auto* factories =
      new std::vector<std::pair<std::string, Factory>>{
          {"cnn", &NewCnn},     {"unet_encoder", &NewUnetEncoder},
          {"crnn", &NewCrnn},   {"dcnn", &NewDcnn},
          {"dcrnn", &NewDcrnn}, {"resnet", &NewResnet},
          {"mlp", &NewMlp}};
  return *factories;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

}  // namespace

std::shared_ptr<Model> BuildModel(const ModelConfig& config,
                                  const InputSpec& input) {
  for (const auto& [name, factory] : Factories()) {
    if (name != config.name) continue;
    try {
      return factory(config, input);
    } catch (const c10::Error& e) {
      throw RuntimeFailure("building model " + name + " for input " +
                           ShapeText(input.sample_shape) + ": " +
                           e.what_without_backtrace());
    }
  }
  std::string valid;
  for (const auto& entry : Factories()) {
    valid += (valid.empty() ? "" : ", ") + entry.first;
  }
  throw BadInput("trainer.model: unknown model \"" + config.name +
                 "\"; use one of " + valid);
}

int64_t CountParameters(torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& parameter : module.parameters(/*recurse=*/true)) {
    if (parameter.requires_grad()) count += parameter.numel();
  }
  return count;
}

// --- layers.h

std::string SizeText(int64_t height, int64_t width) {
  return std::to_string(height) + " x " + std::to_string(width);
}

std::vector<int64_t> ResolveChannels(const ModelConfig& config,
                                     std::vector<int64_t> model_default) {
  if (config.channels.empty()) return model_default;
  for (size_t i = 0; i < config.channels.size(); ++i) {
    if (config.channels[i] < 1) {
      throw BadInput("trainer.channels: entry " + std::to_string(i + 1) +
                     " is " + std::to_string(config.channels[i]) +
                     "; every conv block needs at least 1 kernel");
    }
  }
  return config.channels;
}

std::vector<int64_t> ResolveDense(const ModelConfig& config,
                                  std::vector<int64_t> model_default) {
  if (config.dense.empty()) return model_default;
  for (size_t i = 0; i < config.dense.size(); ++i) {
    if (config.dense[i] < 1) {
      throw BadInput("trainer.dense: entry " + std::to_string(i + 1) + " is " +
                     std::to_string(config.dense[i]) +
                     "; every dense layer needs at least 1 unit");
    }
  }
  return config.dense;
}

int ResolveKernelSize(const ModelConfig& config, int model_default) {
  if (!config.kernel_sizes.empty()) {
    throw BadInput(
        "trainer.kernel_size: this model takes one size for all its convs; "
        "give a number, not a list");
  }
  if (config.kernel_size < 0) {
    throw BadInput(
        "trainer.kernel_size: " + std::to_string(config.kernel_size) +
        " is negative; use a size >= 1 (0: the model's default)");
  }
  return config.kernel_size == 0 ? model_default : config.kernel_size;
}

std::vector<int> ResolveKernelSizes(const ModelConfig& config,
                                    std::vector<int> model_default) {
  if (config.kernel_sizes.empty()) {
    if (config.kernel_size == 0) return model_default;
    return std::vector<int>(model_default.size(), ResolveKernelSize(config, 0));
  }
  if (config.kernel_sizes.size() != model_default.size()) {
    throw BadInput(
        "trainer.kernel_size: " + std::to_string(config.kernel_sizes.size()) +
        " sizes for " + std::to_string(model_default.size()) +
        " conv blocks; give one per block (as many as channels) "
        "or one size for all");
  }
  for (int k : config.kernel_sizes) {
    if (k < 1) {
      throw BadInput("trainer.kernel_size: " + std::to_string(k) +
                     " is not a size; every block needs a size >= 1");
    }
  }
  return config.kernel_sizes;
}

bool ResolveSamePadding(const ModelConfig& config, bool model_default) {
  if (config.padding.empty()) return model_default;
  if (config.padding == "same") return true;
  if (config.padding == "valid") return false;
  throw BadInput("trainer.padding: unknown \"" + config.padding +
                 "\"; use \"valid\" or \"same\"");
}

Activation ResolveActivation(const ModelConfig& config,
                             Activation model_default) {
  if (config.activation.empty()) return model_default;
  if (config.activation == "relu") return Activation::kRelu;
  if (config.activation == "elu") return Activation::kElu;
  if (config.activation == "leaky_relu") return Activation::kLeakyRelu;
  throw BadInput("trainer.activation: unknown \"" + config.activation +
                 "\"; use relu, elu or leaky_relu");
}

Init ResolveInit(const ModelConfig& config, Init model_default) {
  if (config.init.empty() || config.init == "default") return model_default;
  if (config.init == "xavier") return Init::kXavier;
  if (config.init == "kaiming") return Init::kKaiming;
  throw BadInput("trainer.init: unknown \"" + config.init +
                 "\"; use default, xavier or kaiming");
}

void CheckCommonSettings(const ModelConfig& config, bool recurrent) {
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    throw BadInput("trainer.dropout: " + std::to_string(config.dropout) +
                   " is not a probability in [0, 1)");
  }
  if (config.pool < 1) {
    throw BadInput("trainer.pool: " + std::to_string(config.pool) +
                   " is not a pool size; use >= 1 (1: no pooling)");
  }
  if (!recurrent) return;
  if (config.gru_hidden < 1) {
    throw BadInput("trainer.gru_hidden: " + std::to_string(config.gru_hidden) +
                   "; a GRU needs at least 1 hidden unit");
  }
  if (config.gru_layers < 1) {
    throw BadInput("trainer.gru_layers: " + std::to_string(config.gru_layers) +
                   "; a GRU needs at least 1 layer");
  }
}

FeatureShape MelInputShape(const std::string& model, const InputSpec& input) {
  const std::vector<int64_t>& shape = input.sample_shape;
  if (shape.size() != 3 || input.kind == "stft+wave") {
    const bool wave = input.kind == "wave" || input.kind == "stft+wave";
    throw BadInput("trainer.model: " + model +
                   " needs spectrogram shards (mel or stft) with samples [1, "
                   "H, W], but these shards hold " +
                   (input.kind.empty() ? "" : input.kind + " ") + "samples " +
                   ShapeText(shape) +
                   (wave ? "; resnet trains on waveforms"
                         : "; use mlp for feature vectors"));
  }
  if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
    throw BadInput("input: the shards' sample shape " + ShapeText(shape) +
                   " has an empty axis");
  }
  if (input.classes < 1) {
    throw BadInput("input: the shards have " + std::to_string(input.classes) +
                   " classes; a classifier needs at least 1");
  }
  return {shape[0], shape[1], shape[2]};
}

void CheckBatch(const torch::Tensor& x,
                const std::vector<int64_t>& sample_shape,
                const std::string& model) {
  bool ok = x.dim() == static_cast<int64_t>(sample_shape.size()) + 1 &&
            x.size(0) >= 1;
  for (size_t i = 0; ok && i < sample_shape.size(); ++i) {
    ok = x.size(static_cast<int64_t>(i) + 1) == sample_shape[i];
  }
  if (!ok) {
    throw BadInput("model " + model + ": was built for batches [B, " +
                   ShapeText(sample_shape).substr(1) + " but got " +
                   ShapeText(x.sizes().vec()));
  }
}

torch::nn::AnyModule MakeActivation(Activation activation) {
  switch (activation) {
    case Activation::kElu:
      return torch::nn::AnyModule(torch::nn::ELU());
    case Activation::kLeakyRelu:
      return torch::nn::AnyModule(torch::nn::LeakyReLU());
    case Activation::kRelu:
      break;
  }
  return torch::nn::AnyModule(torch::nn::ReLU());
}

void InitWeights(torch::nn::Module& module, Init init) {
  if (init == Init::kTorch) return;
  torch::NoGradGuard no_grad;
  auto reset = [init](torch::Tensor& weight, torch::Tensor& bias) {
    if (init == Init::kXavier) {
      torch::nn::init::xavier_uniform_(weight);
    } else {
      torch::nn::init::kaiming_normal_(weight, /*a=*/0, torch::kFanIn,
                                       torch::kReLU);
    }
    if (bias.defined()) torch::nn::init::zeros_(bias);
  };
  module.apply([&reset](torch::nn::Module& m) {
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(&m)) {
      reset(conv->weight, conv->bias);
    } else if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(&m)) {
      reset(linear->weight, linear->bias);
    }
  });
}

ConvImpl::ConvImpl(int64_t in_channels, int64_t out_channels,
                   int64_t kernel_height, int64_t kernel_width,
                   bool same_height, bool same_width) {
  // Keras "same": pad kernel - 1 in all, the smaller half first.
  int64_t top = same_height ? (kernel_height - 1) / 2 : 0;
  int64_t bottom = same_height ? kernel_height - 1 - top : 0;
  int64_t left = same_width ? (kernel_width - 1) / 2 : 0;
  int64_t right = same_width ? kernel_width - 1 - left : 0;
  auto options = torch::nn::Conv2dOptions(in_channels, out_channels,
                                          {kernel_height, kernel_width});
  if (top == bottom && left == right) {
    options.padding(torch::ExpandingArray<2>({top, left}));
  } else {
    pad_first_ = true;
    pad_ = {left, right, top, bottom};
  }
  conv_ = register_module("conv", torch::nn::Conv2d(options));
}

torch::Tensor ConvImpl::forward(torch::Tensor x) {
  if (pad_first_) x = torch::constant_pad_nd(x, pad_, 0);
  return conv_->forward(x);
}

ConvStackImpl::ConvStackImpl(const ConvStackOptions& options) {
  FeatureShape shape = options.input;
  const size_t blocks = options.channels.size();
  for (size_t block = 0; block < blocks; ++block) {
    const int kernel = options.kernel_sizes.at(block);
    for (int i = 0; i < options.convs_per_block; ++i) {
      if (!options.same_padding &&
          (shape.height < kernel || shape.width < kernel)) {
        throw BadInput(
            "trainer.kernel_size: conv block " + std::to_string(block + 1) +
            " of " + options.model + " (kernel " + std::to_string(kernel) +
            ", padding \"valid\") gets a " +
            SizeText(shape.height, shape.width) + " map from the " +
            SizeText(options.input.height, options.input.width) +
            " input, smaller than its kernel; use a smaller kernel_size, "
            "fewer blocks or padding \"same\"");
      }
      layers_->push_back(Conv(shape.channels, options.channels[block], kernel,
                              kernel, options.same_padding,
                              options.same_padding));
      shape.channels = options.channels[block];
      if (!options.same_padding) {
        shape.height -= kernel - 1;
        shape.width -= kernel - 1;
      }
      if (options.batch_norm && options.norm_before_activation) {
        layers_->push_back(torch::nn::BatchNorm2d(shape.channels));
      }
      layers_->push_back(MakeActivation(options.activation));
      if (options.batch_norm && !options.norm_before_activation) {
        layers_->push_back(torch::nn::BatchNorm2d(shape.channels));
      }
    }
    if (options.pool > 1) {
      if (shape.height < options.pool || shape.width < options.pool) {
        throw BadInput("trainer.channels: " + std::to_string(blocks) +
                       " conv blocks (" + options.model + ") with pool " +
                       std::to_string(options.pool) + " shrink the " +
                       SizeText(options.input.height, options.input.width) +
                       " input below 1 x 1; use fewer blocks" +
                       (options.same_padding
                            ? " or a smaller pool"
                            : ", a smaller pool or padding \"same\""));
      }
      if (options.pool_kind == PoolKind::kMax) {
        layers_->push_back(torch::nn::MaxPool2d(options.pool));
      } else {
        layers_->push_back(torch::nn::AvgPool2d(options.pool));
      }
      shape.height /= options.pool;
      shape.width /= options.pool;
    }
    if (options.block_dropout > 0.0) {
      layers_->push_back(torch::nn::Dropout(options.block_dropout));
    }
  }
  output_shape_ = shape;
  register_module("layers", layers_);
}

torch::Tensor ConvStackImpl::forward(torch::Tensor x) {
  return layers_->forward(x);
}

DenseHeadImpl::DenseHeadImpl(const DenseHeadOptions& options) {
  if (options.input_dropout && options.dropout > 0.0) {
    layers_->push_back(torch::nn::Dropout(options.dropout));
  }
  int64_t in = options.in_features;
  for (int64_t width : options.hidden) {
    layers_->push_back(torch::nn::Linear(in, width));
    if (options.batch_norm) layers_->push_back(torch::nn::BatchNorm1d(width));
    layers_->push_back(MakeActivation(options.activation));
    if (options.dropout > 0.0) {
      layers_->push_back(torch::nn::Dropout(options.dropout));
    }
    in = width;
  }
  layers_->push_back(torch::nn::Linear(in, options.classes));
  register_module("layers", layers_);
}

torch::Tensor DenseHeadImpl::forward(torch::Tensor x) {
  return layers_->forward(x);
}

}  // namespace hpo::models
