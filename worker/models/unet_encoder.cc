// unet_encoder: the UNet encoder of seed 000 (after Ronneberger et al.
// 2015): four double-conv blocks (3 x 3 conv -> batch norm -> activation,
// twice), each followed by max pooling and dropout; then the last feature
// map, flattened, feeds a Linear to the classes (with optional hidden dense
// layers between).
//
// Defaults: channels [16, 32, 64, 128] (the seed gives no widths; UNet's
// 64..512 quarter-sized, since the seed shrank its inputs to fit memory and
// time), kernel_size 3, padding "same", activation relu, init xavier (Glorot
// uniform, as the seed; "default" means this). Read as given: pool (2),
// batch_norm (true), dropout (after every block; the seed gives no rate)
// and dense (none, as in the seed). 359,736 trainable parameters on
// 1 x 128 x 128 inputs with 8 classes (128 x 8 x 8 features at the end).
#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

class UnetEncoderImpl : public Model {
 public:
  UnetEncoderImpl(const ModelConfig& config, const InputSpec& input)
      : sample_shape_(input.sample_shape) {
    FeatureShape in = MelInputShape("unet_encoder", input);
    CheckCommonSettings(config, /*recurrent=*/false);
    const Activation activation = ResolveActivation(config, Activation::kRelu);

    ConvStackOptions conv;
    conv.model = "unet_encoder";
    conv.input = in;
    conv.channels = ResolveChannels(config, {16, 32, 64, 128});
    conv.kernel_sizes =
        ResolveKernelSizes(config, std::vector<int>(conv.channels.size(), 3));
    conv.same_padding = ResolveSamePadding(config, true);
    conv.convs_per_block = 2;
    conv.pool = config.pool;
    conv.batch_norm = config.batch_norm;
    conv.norm_before_activation = true;
    conv.activation = activation;
    conv.block_dropout = config.dropout;
    encoder_ = register_module("encoder", ConvStack(conv));

    const FeatureShape& out = encoder_->output_shape();
    DenseHeadOptions head;
    head.in_features = out.channels * out.height * out.width;
    head.hidden = ResolveDense(config, {});
    head.classes = input.classes;
    head.activation = activation;
    head.dropout = config.dropout;
    head.batch_norm = config.batch_norm;
    head.input_dropout = false;  // The last block ends with dropout.
    head_ = register_module("head", DenseHead(head));

    InitWeights(*this, ResolveInit(config, Init::kXavier));
  }

  torch::Tensor forward(torch::Tensor x) override {
    CheckBatch(x, sample_shape_, "unet_encoder");
    return head_->forward(encoder_->forward(x).flatten(1));
  }

 private:
  std::vector<int64_t> sample_shape_;
  ConvStack encoder_{nullptr};
  DenseHead head_{nullptr};
};
TORCH_MODULE(UnetEncoder);

}  // namespace

std::shared_ptr<Model> NewUnetEncoder(const ModelConfig& config,
                                      const InputSpec& input) {
  return UnetEncoder(config, input).ptr();
}

}  // namespace hpo::models
