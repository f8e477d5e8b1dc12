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
//
// Inputs, as the seed compared them (its Figure 2): a spectrogram (mel or
// stft shards, [1, H, frames]); a waveform (wave shards, [1, samples]),
// where the first conv is 1-D, wave_kernel samples wide with stride
// wave_stride (default the shards' n_fft and hop, padded by (kernel -
// stride) / 2 on each side with padding "same"), so that it gives as many
// frames as the spectrogram would; or both (stft+wave shards), where the
// first block's conv1 is two convs, half the maps from the spectrogram and
// half from the waveform (the seed's 128 + 128), concatenated. Either way
// the rest of the network runs on the same [C, 1, frames] maps.
#include <c10/util/accumulate.h>

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

// The 1-D first conv on a waveform [B, 1, 1, samples]: kernel x stride,
// then batch norm and the activation.
torch::nn::Sequential WaveConv(int64_t out, int64_t kernel, int64_t stride,
                               int64_t padding, bool batch_norm,
                               Activation activation) {
  torch::nn::Sequential layers;
  layers->push_back(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(1, out, {1, kernel})
                            .stride({1, stride})
                            .padding(torch::ExpandingArray<2>({0, padding}))));
  if (batch_norm) layers->push_back(torch::nn::BatchNorm2d(out));
  layers->push_back(MakeActivation(activation));
  return layers;
}

// A waveform batch [B, 1, samples] as [B, 1, 1, samples], then the wave
// conv.
class WaveFirstImpl : public torch::nn::Module {
 public:
  explicit WaveFirstImpl(torch::nn::Sequential conv)
      : conv_(register_module("conv", conv)) {}
  torch::Tensor forward(torch::Tensor x) {
    return conv_->forward(x.unsqueeze(2));
  }

 private:
  torch::nn::Sequential conv_;
};
TORCH_MODULE(WaveFirst);

// stft+wave: a flat batch [B, E] split into the spectrogram [B, 1, F, T]
// and the waveform [B, 1, 1, samples], each through its own first conv,
// the maps concatenated.
class DualFirstImpl : public torch::nn::Module {
 public:
  DualFirstImpl(const InputPart& stft, const InputPart& wave,
                torch::nn::Sequential stft_conv,
                torch::nn::Sequential wave_conv)
      : stft_(stft),
        wave_(wave),
        stft_conv_(register_module("stft", stft_conv)),
        wave_conv_(register_module("wave", wave_conv)) {}

  torch::Tensor forward(torch::Tensor x) {
    const int64_t b = x.size(0);
    torch::Tensor spec =
        x.narrow(1, stft_.offset, c10::multiply_integers(stft_.shape))
            .reshape({b, stft_.shape[0], stft_.shape[1], stft_.shape[2]});
    torch::Tensor wave =
        x.narrow(1, wave_.offset, c10::multiply_integers(wave_.shape))
            .reshape({b, 1, 1, wave_.shape[1]});
    return torch::cat({stft_conv_->forward(spec), wave_conv_->forward(wave)},
                      /*dim=*/1);
  }

 private:
  InputPart stft_, wave_;
  torch::nn::Sequential stft_conv_, wave_conv_;
};
TORCH_MODULE(DualFirst);

// A block's first layer (conv1, batch norm, activation), one of three.
struct FirstLayer {
  torch::nn::Sequential spectrogram{nullptr};
  WaveFirst wave{nullptr};
  DualFirst dual{nullptr};
};

// One residual block, [B, in, H, T] -> [B, out, 1, T'] from its first layer
// (giving [B, out, 1, T']), then conv2 and conv3 of 1 x kernel_width keeping
// the size, and the skip.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(FirstLayer first, int64_t out, int64_t kernel_width,
                    bool batch_norm, Activation activation)
      : first_(std::move(first)) {
    AddConv(rest_, out, out, 1, kernel_width, true, batch_norm);
    rest_->push_back(MakeActivation(activation));
    AddConv(rest_, out, out, 1, kernel_width, true, batch_norm);
    activation_->push_back(MakeActivation(activation));
    if (first_.spectrogram) register_module("first", first_.spectrogram);
    if (first_.wave) register_module("first", first_.wave);
    if (first_.dual) register_module("first", first_.dual);
    register_module("rest", rest_);
    register_module("activation", activation_);
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor a = first_.spectrogram ? first_.spectrogram->forward(x)
                      : first_.wave      ? first_.wave->forward(x)
                                         : first_.dual->forward(x);
    return activation_->forward(rest_->forward(a) + a);
  }

 private:
  FirstLayer first_;
  torch::nn::Sequential rest_;        // conv2 ... batch norm of conv3.
  torch::nn::Sequential activation_;  // After the skip connection.
};
TORCH_MODULE(ResidualBlock);

// A spectrogram conv1: kernel_height x kernel_width, batch norm, activation.
torch::nn::Sequential SpectrogramConv(int64_t in, int64_t out,
                                      int64_t kernel_height,
                                      int64_t kernel_width, bool same_width,
                                      bool batch_norm, Activation activation) {
  torch::nn::Sequential layers;
  AddConv(layers, in, out, kernel_height, kernel_width, same_width, batch_norm);
  layers->push_back(MakeActivation(activation));
  return layers;
}

// The wave conv's kernel, stride and padding, and the frames it gives from
// `samples`.
struct WaveGeometry {
  int64_t kernel = 0, stride = 0, padding = 0, frames = 0;
};

WaveGeometry ResolveWave(const ModelConfig& config, const InputSpec& input,
                         int64_t samples, bool same) {
  WaveGeometry g;
  g.kernel = config.wave_kernel > 0 ? config.wave_kernel : input.n_fft;
  g.stride = config.wave_stride > 0 ? config.wave_stride : input.hop;
  if (g.kernel < 1 || g.stride < 1) {
    throw BadInput(
        "trainer.wave_kernel: the shards do not give their n_fft and hop "
        "(preprocessing); set wave_kernel and wave_stride (in samples)");
  }
  g.padding = same ? std::max<int64_t>(0, (g.kernel - g.stride) / 2) : 0;
  if (samples + 2 * g.padding < g.kernel) {
    throw BadInput("trainer.wave_kernel: " + std::to_string(g.kernel) +
                   " samples is longer than the shards' " +
                   std::to_string(samples) +
                   "-sample waveforms; use a smaller wave_kernel");
  }
  g.frames = (samples + 2 * g.padding - g.kernel) / g.stride + 1;
  return g;
}

class ResnetImpl : public Model {
 public:
  ResnetImpl(const ModelConfig& config, const InputSpec& input)
      : sample_shape_(input.sample_shape) {
    if (input.classes < 1) {
      throw BadInput("input: the shards have " + std::to_string(input.classes) +
                     " classes; a classifier needs at least 1");
    }
    CheckCommonSettings(config, /*recurrent=*/false);
    const Activation activation = ResolveActivation(config, Activation::kElu);
    const std::vector<int64_t> channels = ResolveChannels(config, {256});
    const int kernel = ResolveKernelSize(config, 3);
    const bool same = ResolveSamePadding(config, true);
    const int64_t c0 = channels[0];

    // The first block's first layer, and the frames of its maps.
    FirstLayer first;
    int64_t frames = 0, in_frames = 0;
    std::string in_text;
    if (input.kind == "wave") {
      if (sample_shape_.size() != 2 || sample_shape_[0] != 1) {
        throw BadInput("input: wave shards should hold samples [1, samples]");
      }
      const WaveGeometry g = ResolveWave(config, input, sample_shape_[1], same);
      first.wave = WaveFirst(WaveConv(c0, g.kernel, g.stride, g.padding,
                                      config.batch_norm, activation));
      frames = in_frames = g.frames;
      in_text = "wave conv's";
    } else if (input.kind == "stft+wave") {
      if (input.parts.size() != 2 || input.parts[0].shape.size() != 3 ||
          input.parts[1].shape.size() != 2) {
        throw BadInput(
            "input: stft+wave shards should list an stft [1, bins, frames] "
            "and a wave [1, samples] part");
      }
      if (c0 < 2) {
        throw BadInput(
            "trainer.channels: resnet on stft+wave shards splits the first "
            "block's maps between the two inputs; use at least 2");
      }
      const InputPart& stft = input.parts[0];
      const InputPart& wave = input.parts[1];
      const int64_t t = stft.shape[2];
      if (!same && t < kernel) ThrowShortInput(kernel, 1, t, t);
      const int64_t stft_frames = same ? t : t - kernel + 1;
      const WaveGeometry g = ResolveWave(config, input, wave.shape[1], same);
      if (g.frames != stft_frames) {
        throw BadInput(
            "trainer.wave_stride: the waveform branch (kernel " +
            std::to_string(g.kernel) + ", stride " + std::to_string(g.stride) +
            ") gives " + std::to_string(g.frames) +
            " frames but the spectrogram branch " +
            std::to_string(stft_frames) +
            "; leave wave_kernel and wave_stride to the shards' n_fft and "
            "hop, with padding \"same\"");
      }
      first.dual = DualFirst(
          stft, wave,
          SpectrogramConv(stft.shape[0], c0 / 2, stft.shape[1], kernel, same,
                          config.batch_norm, activation),
          WaveConv(c0 - c0 / 2, g.kernel, g.stride, g.padding,
                   config.batch_norm, activation));
      in_frames = t;
      frames = stft_frames;
    } else {
      const FeatureShape in = MelInputShape("resnet", input);
      if (!same && in.width < kernel) {
        ThrowShortInput(kernel, 1, in.width, in.width);
      }
      first.spectrogram = SpectrogramConv(in.channels, c0, in.height, kernel,
                                          same, config.batch_norm, activation);
      in_frames = in.width;
      frames = same ? in.width : in.width - kernel + 1;
    }
    body_->push_back(ResidualBlock(std::move(first), c0, kernel,
                                   config.batch_norm, activation));

    int64_t maps = c0;
    for (size_t block = 1; block < channels.size(); ++block) {
      if (config.pool > 1) {
        if (frames < config.pool) {
          throw BadInput(
              "trainer.channels: " + std::to_string(channels.size()) +
              " residual blocks (resnet) with pool " +
              std::to_string(config.pool) + " shrink the input's " +
              std::to_string(in_frames) +
              " frames below 1; use fewer blocks or a smaller "
              "pool");
        }
        body_->push_back(torch::nn::MaxPool2d(
            torch::nn::MaxPool2dOptions({1, config.pool})));
        frames /= config.pool;
      }
      if (!same && frames < kernel) {
        ThrowShortInput(kernel, block + 1, frames, in_frames);
      }
      FirstLayer next;
      next.spectrogram = SpectrogramConv(maps, channels[block], 1, kernel, same,
                                         config.batch_norm, activation);
      body_->push_back(ResidualBlock(std::move(next), channels[block], kernel,
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
  [[noreturn]] static void ThrowShortInput(int kernel, size_t block,
                                           int64_t frames, int64_t in_frames) {
    throw BadInput("trainer.kernel_size: residual block " +
                   std::to_string(block) + " of resnet (kernel " +
                   std::to_string(kernel) + ", padding \"valid\") gets " +
                   std::to_string(frames) + " of the input's " +
                   std::to_string(in_frames) +
                   " frames, fewer than its kernel; use a smaller "
                   "kernel_size, fewer blocks or padding \"same\"");
  }

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
