// crnn, dcnn and dcrnn: the CNN hybrids of seed 003 (Liu, Vetshchaizer and
// Yip), built on that seed's base CNN: conv blocks of conv -> activation ->
// batch norm -> pool with increasing kernel counts and decreasing kernel
// sizes.
//
//   crnn   the conv blocks, then a GRU over the frames (the time axis): at
//          each remaining frame the channels x remaining mel rows form one
//          feature vector. The GRU's last hidden state (both directions'
//          when bidirectional) feeds the dense head.
//   dcnn   "duplicated" CNN: two parallel conv branches over the input, one
//          max-pooling and one average-pooling (distinct pooling layers to
//          emphasise distinct features, after Yang and Zhang 2019); their
//          maps are concatenated on the channel axis and flattened.
//   dcrnn  dcnn's two branches, concatenated, then crnn's GRU.
// All end in dropout, optional hidden dense layers and a Linear to the
// classes.
//
// Defaults: channels [32, 64, 64, 128] and kernel sizes 7, 5, 3, 3 (3 for
// any further block; kernel_size sets one size for all blocks, or a list
// one per block), padding
// "same" and activation relu (the seed: "increasing filters and decreasing
// kernel sizes"; sizes and padding as its published Keras code). Read as
// given: pool (2), batch_norm (true), dropout (on the features entering the
// dense head, after each hidden dense layer and between stacked GRU
// layers), dense (none: the seed ends in one softmax layer), gru_hidden
// (64), gru_layers (1) and bidirectional (false). Trainable parameters on
// 1 x 128 x 128 inputs with 8 classes: crnn 374,024; dcnn 459,528;
// dcrnn 734,856.
#include <algorithm>
#include <string>

#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

struct HybridKind {
  const char* name;
  bool duplicated;  // Two conv branches (max and average pooling).
  bool recurrent;   // A GRU over the frames.
};

constexpr HybridKind kCrnn{"crnn", false, true};
constexpr HybridKind kDcnn{"dcnn", true, false};
constexpr HybridKind kDcrnn{"dcrnn", true, true};

class HybridImpl : public Model {
 public:
  HybridImpl(const ModelConfig& config, const InputSpec& input,
             const HybridKind& kind)
      : kind_(kind), sample_shape_(input.sample_shape) {
    FeatureShape in = MelInputShape(kind.name, input);
    CheckCommonSettings(config, kind.recurrent);
    const Activation activation = ResolveActivation(config, Activation::kRelu);

    ConvStackOptions conv;
    conv.model = kind.name;
    conv.input = in;
    conv.channels = ResolveChannels(config, {32, 64, 64, 128});
    std::vector<int> schedule;  // 7, 5, 3, 3, ...
    for (size_t i = 0; i < conv.channels.size(); ++i) {
      schedule.push_back(std::max(3, 7 - 2 * static_cast<int>(i)));
    }
    conv.kernel_sizes = ResolveKernelSizes(config, schedule);
    conv.same_padding = ResolveSamePadding(config, true);
    conv.pool = config.pool;
    conv.batch_norm = config.batch_norm;
    conv.activation = activation;
    conv.pool_kind = PoolKind::kMax;
    max_branch_ = register_module(kind.duplicated ? "max_branch" : "conv",
                                  ConvStack(conv));
    FeatureShape out = max_branch_->output_shape();
    if (kind.duplicated) {
      conv.pool_kind = PoolKind::kAverage;
      average_branch_ = register_module("average_branch", ConvStack(conv));
      out.channels *= 2;
    }

    DenseHeadOptions head;
    head.in_features = out.channels * out.height * out.width;
    if (kind.recurrent) {
      const int directions = config.bidirectional ? 2 : 1;
      gru_ = register_module(
          "gru",
          torch::nn::GRU(
              torch::nn::GRUOptions(out.channels * out.height,
                                    config.gru_hidden)
                  .num_layers(config.gru_layers)
                  .batch_first(true)
                  .bidirectional(config.bidirectional)
                  .dropout(config.gru_layers > 1 ? config.dropout : 0.0)));
      directions_ = directions;
      head.in_features = static_cast<int64_t>(config.gru_hidden) * directions;
    }
    head.hidden = ResolveDense(config, {});
    head.classes = input.classes;
    head.activation = activation;
    head.dropout = config.dropout;
    head.batch_norm = config.batch_norm;
    head.input_dropout = true;
    head_ = register_module("head", DenseHead(head));

    InitWeights(*this, ResolveInit(config, Init::kTorch));
  }

  torch::Tensor forward(torch::Tensor x) override {
    CheckBatch(x, sample_shape_, kind_.name);
    torch::Tensor maps = max_branch_->forward(x);
    if (kind_.duplicated) {
      maps = torch::cat({maps, average_branch_->forward(x)}, /*dim=*/1);
    }
    if (!kind_.recurrent) return head_->forward(maps.flatten(1));
    // [B, C, F, T] -> [B, T, C * F]: one feature vector per frame.
    const int64_t batch = maps.size(0);
    const int64_t frames = maps.size(3);
    torch::Tensor sequence =
        maps.permute({0, 3, 1, 2}).reshape({batch, frames, -1});
    // h_n is [layers * directions, B, H]; the top layer's are the last.
    torch::Tensor last = std::get<1>(gru_->forward(sequence));
    last = last.narrow(0, last.size(0) - directions_, directions_);
    return head_->forward(last.permute({1, 0, 2}).reshape({batch, -1}));
  }

 private:
  HybridKind kind_;
  std::vector<int64_t> sample_shape_;
  int directions_ = 1;
  ConvStack max_branch_{nullptr};      // The only branch of crnn.
  ConvStack average_branch_{nullptr};  // dcnn and dcrnn only.
  torch::nn::GRU gru_{nullptr};        // crnn and dcrnn only.
  DenseHead head_{nullptr};
};
TORCH_MODULE(Hybrid);

}  // namespace

std::shared_ptr<Model> NewCrnn(const ModelConfig& config,
                               const InputSpec& input) {
  return Hybrid(config, input, kCrnn).ptr();
}

std::shared_ptr<Model> NewDcnn(const ModelConfig& config,
                               const InputSpec& input) {
  return Hybrid(config, input, kDcnn).ptr();
}

std::shared_ptr<Model> NewDcrnn(const ModelConfig& config,
                                const InputSpec& input) {
  return Hybrid(config, input, kDcrnn).ptr();
}

}  // namespace hpo::models
