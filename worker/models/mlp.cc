// mlp: a multilayer perceptron for vector shards (seed 002's DNN on FMA's
// features.csv, and seed 001's MLP on its 518 features): per hidden layer
// Linear -> batch norm -> activation -> dropout, then a Linear to the
// classes. Samples of any shape are flattened, so it also takes mel shards
// ([1, H, W] -> H * W features).
//
// Defaults: dense [512, 256] (seed 001's best; seed 002 searched 2..4
// layers of 200..800 units), activation relu (seed 001; seed 002 used
// leaky_relu). Read as given: batch_norm (true, as seed 002; seed 001 had
// none) and dropout (seed 002 used 0.2). Without batch norm, on 518
// features with 8 classes, 399,112 trainable parameters, as seed 001's
// Keras table; with it 400,648. The conv and GRU settings do not apply.
#include <string>

#include "common/error.h"
#include "worker/models/factories.h"
#include "worker/models/layers.h"

namespace hpo::models {
namespace {

class MlpImpl : public Model {
 public:
  MlpImpl(const ModelConfig& config, const InputSpec& input)
      : sample_shape_(input.sample_shape) {
    int64_t features = sample_shape_.empty() ? 0 : 1;
    for (int64_t size : sample_shape_) features *= size;
    if (features < 1) {
      throw BadInput(
          "input: mlp needs samples with at least 1 feature, but "
          "the shards' sample shape has " +
          std::to_string(sample_shape_.size()) +
          " axes and an empty one or none");
    }
    if (input.classes < 1) {
      throw BadInput("input: the shards have " + std::to_string(input.classes) +
                     " classes; a classifier needs at least 1");
    }
    CheckCommonSettings(config, /*recurrent=*/false);

    DenseHeadOptions layers;
    layers.in_features = features;
    layers.hidden = ResolveDense(config, {512, 256});
    layers.classes = input.classes;
    layers.activation = ResolveActivation(config, Activation::kRelu);
    layers.dropout = config.dropout;
    layers.batch_norm = config.batch_norm;
    layers.input_dropout = false;
    layers_ = register_module("layers", DenseHead(layers));

    InitWeights(*this, ResolveInit(config, Init::kTorch));
  }

  torch::Tensor forward(torch::Tensor x) override {
    CheckBatch(x, sample_shape_, "mlp");
    return layers_->forward(x.flatten(1));
  }

 private:
  std::vector<int64_t> sample_shape_;
  DenseHead layers_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace

std::shared_ptr<Model> NewMlp(const ModelConfig& config,
                              const InputSpec& input) {
  return Mlp(config, input).ptr();
}

}  // namespace hpo::models
