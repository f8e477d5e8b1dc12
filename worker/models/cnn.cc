// cnn: the plain CNN of seed 001 (after Kostrzewa et al. 2021): conv blocks
// of conv -> activation -> batch norm -> max pool, then flatten, dropout,
// optional hidden dense layers and a Linear to the classes.
//
// Defaults (seed 001): channels [64, 64, 128, 128], kernel_size 5, padding
// "valid" (Keras's default), activation relu. The rest is read as given:
// pool (2), batch_norm (true), dropout (the seed used 0.2; ModelConfig's
// default is 0) and dense (none, as in the seed). At these defaults on
// 1 x 128 x 128 inputs with 8 classes the model has 735,944 trainable
// parameters, the count Keras reported for the seed (128 x 128 -> 4 x 4 x
// 128 after the four blocks, so the output layer takes 2,048 features).
#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

class CnnImpl : public Model {
 public:
  CnnImpl(const ModelConfig& config, const InputSpec& input)
      : sample_shape_(input.sample_shape) {
    FeatureShape in = MelInputShape("cnn", input);
    CheckCommonSettings(config, /*recurrent=*/false);
    const Activation activation = ResolveActivation(config, Activation::kRelu);

    ConvStackOptions conv;
    conv.model = "cnn";
    conv.input = in;
    conv.channels = ResolveChannels(config, {64, 64, 128, 128});
    conv.kernel_sizes =
        ResolveKernelSizes(config, std::vector<int>(conv.channels.size(), 5));
    conv.same_padding = ResolveSamePadding(config, false);
    conv.pool = config.pool;
    conv.batch_norm = config.batch_norm;
    conv.activation = activation;
    conv_ = register_module("conv", ConvStack(conv));

    const FeatureShape& out = conv_->output_shape();
    DenseHeadOptions head;
    head.in_features = out.channels * out.height * out.width;
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
    CheckBatch(x, sample_shape_, "cnn");
    return head_->forward(conv_->forward(x).flatten(1));
  }

 private:
  std::vector<int64_t> sample_shape_;
  ConvStack conv_{nullptr};
  DenseHead head_{nullptr};
};
TORCH_MODULE(Cnn);

}  // namespace

std::shared_ptr<Model> NewCnn(const ModelConfig& config,
                              const InputSpec& input) {
  return Cnn(config, input).ptr();
}

}  // namespace hpo::models
