// The synthetic trainer: metrics from SyntheticCurves, a pure function of
// (study seed, parameters, epoch), optionally taking `epoch_seconds` of wall
// time per epoch. It trains nothing and says so in its name; it exists so the
// coordinator can be tested and benchmarked at scale without GPUs.
#include <chrono>
#include <thread>

#include "search/synthetic_curves.h"
#include "worker/trainer.h"

namespace hpo {

using nlohmann::json;

namespace {

class SyntheticTrainer : public Trainer {
 public:
  explicit SyntheticTrainer(const TrialTask& task)
      : options_(SyntheticTrainerOptions(*task.spec)),
        curves_(task.spec->search_space, options_),
        params_(task.params) {}

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    if (cancel) return json::object();
    const auto start = std::chrono::steady_clock::now();
    EpochMetrics m = curves_.At(params_, epoch);
    if (options_.epoch_seconds > 0) {
      // Sleep in short steps so a cancelled trial frees its slot quickly.
      const auto end = start + std::chrono::duration<double>(m.epoch_seconds);
      while (std::chrono::steady_clock::now() < end) {
        if (cancel) return json::object();
        std::this_thread::sleep_for(std::min<std::chrono::duration<double>>(
            end - std::chrono::steady_clock::now(),
            std::chrono::milliseconds(20)));
      }
    } else {
      m.epoch_seconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count();
      m.samples_per_second = 0;
    }
    if (m.diverged) {
      throw TrialFailure(FailureKind::kDiverged, "the loss is NaN at epoch " +
                                                     std::to_string(epoch) +
                                                     " (synthetic divergence)");
    }
    return {{"train_loss", m.train_loss},
            {"val_loss", m.val_loss},
            {"val_accuracy", m.val_accuracy},
            {"val_track_accuracy", m.val_track_accuracy},
            {"epoch_seconds", m.epoch_seconds},
            {"samples_per_second", m.samples_per_second}};
  }

  // The curves are a function of the epoch: there is no state to save.
  std::string SaveCheckpoint(int epoch) override { return ""; }

 private:
  CurveOptions options_;
  SyntheticCurves curves_;
  json params_;
};

}  // namespace

std::unique_ptr<Trainer> NewSyntheticTrainer(const TrialTask& task) {
  return std::make_unique<SyntheticTrainer>(task);
}

}  // namespace hpo
