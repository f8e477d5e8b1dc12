// resnet: the residual CNN of seed 004 (Benito Calvino and Pacheco Garcia,
// after Zhang et al. 2016). One residual block per channels entry; a block
// is three convs, each followed by batch norm and the activation, where the
// first conv's output is added to the third's before its activation:
//   a = act(bn(conv1(x)));  b = act(bn(conv2(a)));
//   y = act(bn(conv3(b)) + a).
// The first block's conv1 spans every mel row (kernel H x kernel_size), so
// the rest of the network runs along the frames on [C, 1, frames] maps, as
// the seed's first layer compresses the spectrogram to [1, frames]; later
// blocks' conv1 and every conv2 and conv3 are 1 x kernel_size. Between
// blocks, max pooling along the frames (pool). After the last block, max
// and average pooling over all frames, concatenated (2 x channels
// features), then the dense layers and a Linear to the classes.
//
// Defaults: channels [256] (one block of 256 maps, as the seed), dense
// [256, 128] (three Linear layers in all, narrowing to the classes, as the
// seed), kernel_size 3, padding "same" (on the frame axis of each block's
// conv1; conv2 and conv3 always keep the size so the skip adds up),
// activation elu, init LibTorch's. Read as given: batch_norm (true; the
// seed's hidden dense layers have it too), dropout (on the pooled features
// and after each hidden dense layer; the seed found 0, the config's
// default, best) and pool. 659,848 trainable parameters on 1 x 128 x 128
// inputs with 8 classes.
#include <string>

#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

// conv (stride 1), then batch norm if asked, for a torch::nn::Sequential.
void AddConv(torch::nn::Sequential& layers, int64_t in, int64_t out,
             int64_t kernel_height, int64_t kernel_width, bool same_width,
             bool batch_norm) {
  layers->push_back(Conv(in, out, kernel_height, kernel_width,
                         /*same_height=*/false, same_width));
  if (batch_norm) layers->push_back(torch::nn::BatchNorm2d(out));
}

// One residual block, [B, in, H, T] -> [B, out, H - kernel_height + 1, T'],
// where T' = T with same_width and T - kernel_width + 1 without.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t out, int64_t kernel_height,
                    int64_t kernel_width, bool same_width, bool batch_norm,
                    Activation activation) {
    AddConv(first_, in, out, kernel_height, kernel_width, same_width,
            batch_norm);
    first_->push_back(MakeActivation(activation));
    AddConv(rest_, out, out, 1, kernel_width, true, batch_norm);
    rest_->push_back(MakeActivation(activation));
    AddConv(rest_, out, out, 1, kernel_width, true, batch_norm);
    activation_->push_back(MakeActivation(activation));
    register_module("first", first_);
    register_module("rest", rest_);
    register_module("activation", activation_);
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor a = first_->forward(x);
    return activation_->forward(rest_->forward(a) + a);
  }

 private:
  torch::nn::Sequential first_;       // conv1, batch norm, activation.
  torch::nn::Sequential rest_;        // conv2 ... batch norm of conv3.
  torch::nn::Sequential activation_;  // After the skip connection.
};
TORCH_MODULE(ResidualBlock);

class ResnetImpl : public Model {
 public:
  ResnetImpl(const ModelConfig& config, const InputSpec& input)
      : sample_shape_(input.sample_shape) {
    const FeatureShape in = MelInputShape("resnet", input);
    CheckCommonSettings(config, /*recurrent=*/false);
    const Activation activation = ResolveActivation(config, Activation::kElu);
    const std::vector<int64_t> channels = ResolveChannels(config, {256});
    const int kernel = ResolveKernelSize(config, 3);
    const bool same = ResolveSamePadding(config, true);

    int64_t frames = in.width;
    int64_t maps = in.channels;
    for (size_t block = 0; block < channels.size(); ++block) {
      if (!same && frames < kernel) {
        throw BadInput("trainer.kernel_size: residual block " +
                       std::to_string(block + 1) + " of resnet (kernel " +
                       std::to_string(kernel) + ", padding \"valid\") gets " +
                       std::to_string(frames) + " of the input's " +
                       std::to_string(in.width) +
                       " frames, fewer than its kernel; use a smaller "
                       "kernel_size, fewer blocks or padding \"same\"");
      }
      if (block > 0 && config.pool > 1) {
        if (frames < config.pool) {
          throw BadInput(
              "trainer.channels: " + std::to_string(channels.size()) +
              " residual blocks (resnet) with pool " +
              std::to_string(config.pool) + " shrink the input's " +
              std::to_string(in.width) +
              " frames below 1; use fewer blocks or a smaller "
              "pool");
        }
        body_->push_back(torch::nn::MaxPool2d(
            torch::nn::MaxPool2dOptions({1, config.pool})));
        frames /= config.pool;
      }
      body_->push_back(ResidualBlock(maps, channels[block],
                                     block == 0 ? in.height : 1, kernel, same,
                                     config.batch_norm, activation));
      maps = channels[block];
      if (!same) frames -= kernel - 1;
    }
    register_module("body", body_);

    DenseHeadOptions head;
    head.in_features = 2 * maps;  // Max and average of each map.
    head.hidden = ResolveDense(config, {256, 128});
    head.classes = input.classes;
    head.activation = activation;
    head.dropout = config.dropout;
    head.batch_norm = config.batch_norm;
    head.input_dropout = true;
    head_ = register_module("head", DenseHead(head));

    InitWeights(*this, ResolveInit(config, Init::kTorch));
  }

  torch::Tensor forward(torch::Tensor x) override {
    CheckBatch(x, sample_shape_, "resnet");
    torch::Tensor maps = body_->forward(x).flatten(2);  // [B, C, frames].
    torch::Tensor pooled =
        torch::cat({std::get<0>(maps.max(2)), maps.mean(2)}, /*dim=*/1);
    return head_->forward(pooled);
  }

 private:
  std::vector<int64_t> sample_shape_;
  torch::nn::Sequential body_;
  DenseHead head_{nullptr};
};
TORCH_MODULE(Resnet);

}  // namespace

std::shared_ptr<Model> NewResnet(const ModelConfig& config,
                                 const InputSpec& input) {
  return Resnet(config, input).ptr();
}

}  // namespace hpo::models
