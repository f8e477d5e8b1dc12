// The synthetic trainer: metrics from SyntheticCurves, a pure function of
// (study seed, parameters, epoch), optionally taking `epoch_seconds` of wall
// time per epoch. It trains nothing and says so in its name; it exists so the
// coordinator can be tested and benchmarked at scale without GPUs.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "common/json_util.h"
#include "common/paths.h"
#include "search/synthetic_curves.h"
#include "worker/trainer.h"

namespace hpo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class SyntheticTrainer : public Trainer {
 public:
  explicit SyntheticTrainer(const TrialTask& task)
      : options_(SyntheticTrainerOptions(*task.spec)),
        curves_(task.spec->search_space, options_),
        params_(task.params),
        task_(task) {
    if (options_.annealing && !task.checkpoint.empty()) Restore();
  }

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    if (cancel) return json::object();
    const auto start = std::chrono::steady_clock::now();
    EpochMetrics m = curves_.Train(params_, epoch, state_);
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
            {"val_track_loss", m.val_track_loss},
            {"epoch_seconds", m.epoch_seconds},
            {"samples_per_second", m.samples_per_second}};
  }

  // Static curves are a function of the epoch: there is no state to save.
  // Annealing curves save their state as a small JSON file where hpo's own
  // trainer puts its checkpoints (STUDY/trial-NNNNN/epoch-EEEE.json).
  std::string SaveCheckpoint(int epoch) override {
    if (!options_.annealing) return "";
    const std::string rel = EpochCheckpointPath(task_, epoch, "json");
    const fs::path path = Root() / rel;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    const json state = {{"trial", task_.trial},
                        {"epoch", epoch},
                        {"params", params_},
                        {"skill", state_.skill}};
    const fs::path tmp = path.string() + ".tmp";
    {
      std::ofstream out(tmp);
      out << state.dump() << "\n";
      if (!out) {
        throw TrialFailure(FailureKind::kError,
                           "cannot write checkpoint " + path.string());
      }
    }
    fs::rename(tmp, path, ec);
    if (ec) {
      throw TrialFailure(
          FailureKind::kError,
          "cannot write checkpoint " + path.string() + ": " + ec.message());
    }
    // Only the newest is kept, as hpo's own trainer does; in a PBT study
    // the coordinator deletes them once no member may copy them.
    if (task_.spec->algorithm.type != AlgorithmType::kPbt) {
      for (const auto& e : fs::directory_iterator(path.parent_path(), ec)) {
        if (e.path() != path && e.path().extension() == ".json") {
          fs::remove(e.path(), ec);
        }
      }
    }
    return rel;
  }

 private:
  fs::path Root() const {
    return CheckpointRoot(task_.checkpoint_dir, task_.data_dir);
  }

  void Restore() {
    if (auto problem = RelativePathProblem(Root(), task_.checkpoint)) {
      throw TrialFailure(FailureKind::kConfig,
                         "checkpoint path " + task_.checkpoint + " " +
                             *problem +
                             ": it must stay inside the checkpoint directory");
    }
    const fs::path path = Root() / task_.checkpoint;
    try {
      const json state =
          ParseJsonText(ReadTextFile(path.string()), path.string());
      state_.skill = state.at("skill").get<double>();
    } catch (const std::exception& e) {
      throw TrialFailure(FailureKind::kData,
                         "cannot restore checkpoint " + path.string() + ": " +
                             e.what() +
                             " (every worker needs the same --checkpoints "
                             "directory, a shared one)");
    }
  }

  CurveOptions options_;
  SyntheticCurves curves_;
  json params_;
  const TrialTask task_;
  CurveState state_;
};

}  // namespace

std::unique_ptr<Trainer> NewSyntheticTrainer(const TrialTask& task) {
  return std::make_unique<SyntheticTrainer>(task);
}

}  // namespace hpo
