// The training settings of a trial: the study's "trainer" object with the
// trial's searched parameters laid over it (a searched parameter of the same
// name wins), parsed into typed settings. Pure: no LibTorch, so the
// coordinator validates study files with it and tests run fast.
//
// Keys (all optional except "model"; defaults in the structs below):
//   model          cnn | unet_encoder | crnn | dcnn | dcrnn | resnet | mlp |
//                  torchscript (with module: a TorchScript file)
//   model shape    channels [..], kernel_size (one, or [..] per block),
//                  padding (valid|same), pool,
//                  batch_norm, dropout, dense [..], gru_hidden, gru_layers,
//                  bidirectional, activation (relu|elu|leaky_relu), init
//                  (default|xavier|kaiming), wave_kernel, wave_stride
//                  (resnet's 1-D first layer on waveform shards)
//   optimizer      adam | adamw | sgd | rmsprop | adagrad | adadelta, with
//                  lr, weight_decay, momentum, nesterov, beta1, beta2, eps,
//                  alpha (rmsprop), rho (adadelta)
//   scheduler      none | step | exponential | cosine | onecycle | plateau |
//                  cyclic, with step_size, gamma, exp_gamma, t_max, eta_min,
//                  max_lr, max_lr_factor, pct_start, div_factor,
//                  final_div_factor, anneal (cos|linear), three_phase,
//                  plateau_factor, plateau_patience,
//                  plateau_threshold, plateau_threshold_mode (rel|abs),
//                  plateau_cooldown, min_lr, base_lr, cyclic_mode
//                  (triangular|triangular2|exp_range), cyclic_max_lr_factor,
//                  cyclic_gamma, step_size_up_epochs (rounded half away
//                  from zero to batches) | step_size_up_batches
//   batch_size, label_smoothing, amp (bf16 autocast on CUDA), grad_clip,
//   data_on_device (auto|never), memory_format (contiguous|channels_last),
//   keep (last|best: also keep the checkpoint of the trial's best epoch),
//   augment {spec_time_mask, spec_freq_mask, masks}
#ifndef HPO_COMMON_TRAIN_CONFIG_H_
#define HPO_COMMON_TRAIN_CONFIG_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hpo {

struct ModelConfig {
  std::string name;               // cnn, unet_encoder, crnn, dcnn, dcrnn,
                                  // resnet, mlp or torchscript.
  std::string module;             // torchscript: the file, relative to the
                                  // worker's --data unless absolute.
  std::vector<int64_t> channels;  // Kernel counts per conv block; empty
                                  // means the model's default.
  int kernel_size = 0;            // 0: the model's default.
  std::vector<int> kernel_sizes;  // kernel_size as a list: one per conv
                                  // block (cnn, dcnn, crnn, dcrnn,
                                  // unet_encoder); empty: kernel_size.
  std::string padding;            // "valid" or "same"; empty: default.
  int pool = 2;                   // Max-pool size after each block (1: none).
  bool batch_norm = true;
  double dropout = 0.0;
  std::vector<int64_t> dense;  // Hidden dense layers before the output.
  int gru_hidden = 64;         // crnn / dcrnn.
  int gru_layers = 1;
  bool bidirectional = false;
  std::string activation;        // relu, elu, leaky_relu; empty: default.
  std::string init = "default";  // default, xavier or kaiming.
  // resnet on waveform shards (wave, stft+wave): the 1-D first conv's
  // kernel and stride in samples; 0: the shards' n_fft and hop, so it gives
  // as many frames as their spectrogram.
  int wave_kernel = 0;
  int wave_stride = 0;
};

struct OptimizerConfig {
  std::string name = "adam";
  double lr = 1e-3;
  double weight_decay = 0.0;
  double momentum = 0.0;  // sgd, rmsprop.
  bool nesterov = false;  // sgd (needs momentum > 0).
  double beta1 = 0.9, beta2 = 0.999;
  double eps = -1;      // -1: the optimizer's PyTorch default.
  double alpha = 0.99;  // rmsprop.
  double rho = 0.9;     // adadelta.
};

// PyTorch's LR schedulers. Epoch schedulers step after each epoch; onecycle
// and cyclic step after each batch.
struct SchedulerConfig {
  std::string name = "none";
  // step: lr x gamma every step_size epochs; exponential: lr x exp_gamma
  // every epoch (multiplied step by step, as PyTorch does).
  int step_size = 10;
  double gamma = 0.1;  // step; exponential uses exp_gamma.
  double exp_gamma = 0.95;
  // cosine: CosineAnnealingLR(T_max = t_max epochs, 0: the study's
  // max_epochs; eta_min).
  int t_max = 0;
  double eta_min = 0.0;
  // onecycle: max_lr (0: the optimizer's lr times max_lr_factor),
  // over the study's max_epochs x batches per epoch.
  double max_lr = 0.0;
  double max_lr_factor = 1.0;
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  std::string anneal = "cos";
  bool three_phase = false;
  // plateau: ReduceLROnPlateau on the objective metric (its mode).
  double plateau_factor = 0.1;
  int plateau_patience = 10;
  double plateau_threshold = 1e-4;
  std::string plateau_threshold_mode = "rel";
  int plateau_cooldown = 0;
  double min_lr = 0.0;
  // cyclic: CyclicLR from base_lr (0: the optimizer's lr) to max_lr (the
  // field above; 0: base_lr x cyclic_max_lr_factor), per batch.
  double base_lr = 0.0;
  double cyclic_max_lr_factor = 4.0;
  std::string cyclic_mode = "triangular";
  double cyclic_gamma = 1.0;         // exp_range.
  double step_size_up_epochs = 2.0;  // Used unless step_size_up_batches > 0.
  int step_size_up_batches = 0;
};

struct AugmentConfig {
  int spec_time_mask = 0;  // Largest time mask, in frames (0: none).
  int spec_freq_mask = 0;  // Largest frequency mask, in mel bins.
  int masks = 1;           // Masks of each kind per sample.
};

struct TrainConfig {
  ModelConfig model;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  AugmentConfig augment;
  int batch_size = 32;
  double label_smoothing = 0.0;
  double grad_clip = 0.0;  // Max gradient norm; 0: no clipping.
  bool amp = false;
  // Where the features of the shards live on a CUDA device: "auto" copies
  // each split to the GPU once when they fit in its memory (else batches
  // stream through pinned host memory); "never" always streams. No effect
  // on the CPU, where shards stay memory-mapped.
  std::string data_on_device = "auto";
  // The layout of 4-D weights and batches: "channels_last" (NHWC) lets
  // oneDNN / cuDNN pick their NHWC convolution kernels; "contiguous"
  // (NCHW, LibTorch's default) otherwise. Results differ in the last bits.
  std::string memory_format = "contiguous";
  // "best": each trial also keeps the checkpoint of its best epoch by the
  // objective, and the test evaluation uses it (StudySpec::keep_best).
  std::string keep = "last";
};

// The real (LibTorch) models; "synthetic" is separate.
const std::vector<std::string>& TrainableModels();

// Every key TrainConfig understands, for typo hints and for checking that a
// searched parameter is something the trainer reads.
const std::vector<std::string>& TrainConfigKeys();

// Merges `trainer` and `params` (params win) and parses the result. Throws
// hpo::ValidationError listing every problem as `SOURCE: trainer.KEY: what
// (hint)`, with the closest known key for an unknown one.
TrainConfig ParseTrainConfig(const nlohmann::json& trainer,
                             const nlohmann::json& params,
                             const std::string& source);

}  // namespace hpo

#endif  // HPO_COMMON_TRAIN_CONFIG_H_
