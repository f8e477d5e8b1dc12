// One factory per model (private to worker/models; BuildModel dispatches to
// them by name). Each builds its model for `input`, initialised from the
// torch RNG, and throws hpo::Error (bad input) naming the setting when the
// config cannot work for the input. Each model's file documents its
// architecture and its defaults.
#ifndef HPO_WORKER_MODELS_FACTORIES_H_
#define HPO_WORKER_MODELS_FACTORIES_H_

#include <memory>

#include "common/train_config.h"
#include "worker/models/model.h"

namespace hpo::models {

std::shared_ptr<Model> NewCnn(const ModelConfig& config,
                              const InputSpec& input);  // cnn.cc
std::shared_ptr<Model> NewUnetEncoder(
    const ModelConfig& config,
    const InputSpec& input);  // unet_encoder.cc
// crnn, dcnn and dcrnn: crnn.cc.
std::shared_ptr<Model> NewCrnn(const ModelConfig& config,
                               const InputSpec& input);
std::shared_ptr<Model> NewDcnn(const ModelConfig& config,
                               const InputSpec& input);
std::shared_ptr<Model> NewDcrnn(const ModelConfig& config,
                                const InputSpec& input);
std::shared_ptr<Model> NewResnet(const ModelConfig& config,
                                 const InputSpec& input);  // resnet.cc
std::shared_ptr<Model> NewMlp(const ModelConfig& config,
                              const InputSpec& input);  // mlp.cc

}  // namespace hpo::models

#endif  // HPO_WORKER_MODELS_FACTORIES_H_
