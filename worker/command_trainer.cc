// The command trainer: a program of the user's own (`"trainer": {"command":
// [...]}`), started for each job with the trial's parameters and read
// through the line protocol (common/command_protocol.h). README, "Your own
// training script".
//
// One run of the program trains the epochs from HPO_FROM_EPOCH + 1 to
// HPO_TO_EPOCH; when the coordinator extends the job (a promotion in the
// same lease), the program runs again from the checkpoint it reported.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>

#include "common/clock.h"
#include "common/command_protocol.h"
#include "common/error.h"
#include "common/paths.h"
#include "common/study_spec.h"
#include "worker/child_process.h"
#include "worker/trainer.h"

extern char** environ;

namespace hpo {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kStderrLines = 8;
constexpr size_t kStderrLineChars = 300;

// CUDA_VISIBLE_DEVICES for a worker on `device`: none for the CPU; for
// cuda:N, the N-th device this worker sees (an entry of its own
// CUDA_VISIBLE_DEVICES when that is set, as Slurm does).
std::string VisibleDevices(const std::string& device) {
  if (device.rfind("cuda", 0) != 0) return "";
  const size_t colon = device.find(':');
  const int index =
      colon == std::string::npos ? 0 : std::atoi(device.c_str() + colon + 1);
  const char* own = std::getenv("CUDA_VISIBLE_DEVICES");
  if (own != nullptr && *own != '\0') {
    std::vector<std::string> entries;
    std::string s = own;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(',', start);
      if (end == std::string::npos) end = s.size();
      entries.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    if (index >= 0 && index < static_cast<int>(entries.size())) {
      return entries[index];
    }
  }
  return std::to_string(index);
}

class CommandTrainer : public Trainer {
 public:
  explicit CommandTrainer(const TrialTask& task)
      : task_(task),
        to_(task.to_epoch),
        checkpoint_(task.checkpoint),
        checkpoint_epoch_(task.checkpoint.empty() ? 0 : task.from_epoch) {
    if (!task.allow_commands) {
      throw TrialFailure(FailureKind::kConfig,
                         "this worker does not run commands: start "
                         "hpo-worker with --allow-commands");
    }
    try {
      // {channels} of a list parameter is its elements as a JSON list.
      argv_ = command::SubstituteParams(
          task.spec->command, WithLists(json::object(), task.params, true));
    } catch (const Error& e) {
      throw TrialFailure(FailureKind::kConfig, e.what());
    }
    root_ = fs::absolute(CheckpointRoot(task.checkpoint_dir, task.data_dir))
                .lexically_normal();
    trial_dir_ = root_ / TrialCheckpointDir(task);
    std::error_code ec;
    fs::create_directories(trial_dir_, ec);
    if (ec) {
      throw TrialFailure(FailureKind::kData,
                         "cannot create the trial's checkpoint directory " +
                             trial_dir_.string() + ": " + ec.message());
    }
    cwd_ = task.spec->trainer.value("cwd", "");
  }

  ~CommandTrainer() override {
    try {
      if (child_) Stop();
    } catch (const std::exception&) {
      // ~ChildProcess still kills and reaps the program.
    }
  }

  void ExtendTo(int to_epoch) override { to_ = std::max(to_, to_epoch); }

  json TrainEpoch(int epoch, const std::atomic<bool>& cancel) override {
    cancel_ = &cancel;
    if (cancel) return json::object();
    to_ = std::max(to_, epoch);  // Called past the task's end: go on.
    if (!child_) Start(epoch - 1);
    for (;;) {
      ChildProcess::Event e = child_->Next(TimeLeft(), &cancel);
      switch (e.kind) {
        case ChildProcess::Event::Kind::kCancel:
          return json::object();
        case ChildProcess::Event::Kind::kStderr:
          OnStderr(e.line);
          break;
        case ChildProcess::Event::Kind::kTimeout:
          TimedOut(epoch, "no hpo-metrics line for epoch");
          break;
        case ChildProcess::Event::Kind::kExited:
          if (child_->exit_code() == 0 && epoch == run_to_ + 1 &&
              run_to_ < to_) {
            // The run ended where it was asked to; the job goes on.
            child_.reset();
            PruneSuperseded();
            Start(epoch - 1);
            break;
          }
          Failed("before reporting epoch " + std::to_string(epoch));
          break;
        case ChildProcess::Event::Kind::kStdout: {
          command::ProtocolLine line = command::ParseLine(e.line);
          if (line.kind == command::ProtocolLine::Kind::kMetrics) {
            if (line.epoch != epoch) {
              Fail(FailureKind::kConfig,
                   "reported epoch " + std::to_string(line.epoch) +
                       " where epoch " + std::to_string(epoch) +
                       " was due (it was started with HPO_FROM_EPOCH=" +
                       std::to_string(run_from_) +
                       " HPO_TO_EPOCH=" + std::to_string(run_to_) + ")");
            }
            const double now = MonotonicSeconds();
            json metrics = std::move(line.metrics);
            // As hpo's own trainer: a non-finite loss has diverged.
            for (const char* loss : {"train_loss", "val_loss"}) {
              if (metrics.contains(loss) && metrics[loss].is_null()) {
                Fail(FailureKind::kDiverged,
                     std::string("reported ") + loss +
                         " NaN or infinite (or null) at epoch " +
                         std::to_string(epoch) + ": the trial diverged");
              }
            }
            if (!metrics.contains("epoch_seconds")) {
              metrics["epoch_seconds"] = now - last_progress_;
            }
            last_progress_ = now;
            return metrics;
          }
          OnOtherLine(line, e.line);
          break;
        }
      }
    }
  }

  std::string SaveCheckpoint(int epoch) override {
    if (!child_) return checkpoint_epoch_ == epoch ? checkpoint_ : "";
    // After its last epoch the program says where it saved, then ends.
    // Once it has said so, it gets stop_grace_s to end by itself (threads
    // or uploads may linger) before it is stopped.
    const double grace = task_.spec->execution.stop_grace_s;
    double saved_at = -1;
    for (bool done = false; !done;) {
      const bool saved = checkpoint_epoch_ == epoch;
      if (saved && saved_at < 0) saved_at = MonotonicSeconds();
      const double left =
          saved ? std::max(0.0, saved_at + grace - MonotonicSeconds())
                : TimeLeft();
      ChildProcess::Event e = child_->Next(left, cancel_);
      switch (e.kind) {
        case ChildProcess::Event::Kind::kCancel:
          return "";
        case ChildProcess::Event::Kind::kStderr:
          OnStderr(e.line);
          break;
        case ChildProcess::Event::Kind::kTimeout:
          if (saved) {
            Log("did not end within execution.stop_grace_s of its "
                "checkpoint line; stopping it");
            Stop();
            done = true;
            break;
          }
          TimedOut(epoch, "no hpo-checkpoint line after epoch");
          break;
        case ChildProcess::Event::Kind::kExited:
          if (child_->exit_code() != 0) {
            Failed("after reporting epoch " + std::to_string(epoch));
          }
          done = true;
          break;
        case ChildProcess::Event::Kind::kStdout: {
          command::ProtocolLine line = command::ParseLine(e.line);
          if (line.kind == command::ProtocolLine::Kind::kMetrics) {
            Fail(FailureKind::kConfig,
                 "reported epoch " + std::to_string(line.epoch) +
                     " after its last one, " + std::to_string(epoch) +
                     " (HPO_TO_EPOCH)");
          }
          OnOtherLine(line, e.line);
          break;
        }
      }
    }
    child_.reset();
    PruneSuperseded();
    if (checkpoint_epoch_ != epoch) {
      Log("reported no checkpoint after epoch " + std::to_string(epoch) +
          " (hpo-checkpoint): a promotion will start it from HPO_FROM_EPOCH "
          "without one");
      return "";
    }
    return checkpoint_;
  }

 private:
  void Log(const std::string& line) const {
    if (task_.log)
      task_.log("trial " + std::to_string(task_.trial) + ": " + line);
  }

  // Seconds until the program must have reported its next epoch; -1: no
  // limit.
  double TimeLeft() const {
    const double limit = task_.spec->execution.epoch_timeout_s;
    if (limit <= 0) return -1;
    return std::max(0.0, last_progress_ + limit - MonotonicSeconds());
  }

  std::vector<std::string> Environment(int from_epoch) const {
    // The elements of a list parameter, and the list itself.
    json params = WithLists(json::object(), task_.params, true);
    std::map<std::string, std::string> set = {
        {"HPO_STUDY", task_.spec->name},
        {"HPO_TRIAL", std::to_string(task_.trial)},
        {"HPO_ATTEMPT", std::to_string(task_.attempt)},
        {"HPO_PARAMS", params.dump()},
        {"HPO_FROM_EPOCH", std::to_string(from_epoch)},
        {"HPO_TO_EPOCH", std::to_string(to_)},
        {"HPO_CHECKPOINT",
         ResumeFrom(from_epoch).empty() ? "" : (root_ / checkpoint_).string()},
        {"HPO_CHECKPOINT_DIR", trial_dir_.string()},
        {"HPO_DATA", fs::absolute(task_.data_dir.empty() ? "." : task_.data_dir)
                         .lexically_normal()
                         .string()},
        {"HPO_DEVICE", task_.device.rfind("cuda", 0) == 0 ? "cuda:0" : "cpu"},
        {"CUDA_VISIBLE_DEVICES", VisibleDevices(task_.device)},
    };
    if (!task_.spec->data_shards.empty()) {
      set["HPO_SHARDS"] =
          fs::absolute(ShardsPath(task_.data_dir, task_.spec->data_shards))
              .lexically_normal()
              .string();
    }
    if (task_.threads > 0) set["HPO_THREADS"] = std::to_string(task_.threads);
    // Defaults the user's own environment or trainer.env may override.
    std::map<std::string, std::string> defaults = {{"PYTHONUNBUFFERED", "1"}};
    if (task_.threads > 0) {
      defaults["OMP_NUM_THREADS"] = std::to_string(task_.threads);
    }
    std::map<std::string, std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string entry = *e;
      const size_t eq = entry.find('=');
      if (eq == std::string::npos) continue;
      const std::string name = entry.substr(0, eq);
      if (name.rfind("HPO_", 0) == 0) continue;  // The worker's own.
      env[name] = entry.substr(eq + 1);
    }
    for (const auto& [name, value] : defaults) env.emplace(name, value);
    const json extra = task_.spec->trainer.value("env", json::object());
    for (const auto& [name, value] : extra.items()) {
      if (value.is_string()) env[name] = value.get<std::string>();
    }
    for (const auto& [name, value] : set) env[name] = value;
    std::vector<std::string> out;
    for (const auto& [name, value] : env) out.push_back(name + "=" + value);
    return out;
  }

  // The checkpoint a run from `from_epoch` resumes: the newest, if it holds
  // that epoch (else none: the program starts over at HPO_FROM_EPOCH).
  std::string ResumeFrom(int from_epoch) const {
    return checkpoint_epoch_ == from_epoch ? checkpoint_ : "";
  }

  // Deletes the trial's checkpoints that a newer one replaced, once the
  // program that wrote the newer one has ended well (only the newest is
  // kept, as hpo's own trainer does).
  void PruneSuperseded() {
    // In a PBT study another member may copy them: the coordinator deletes
    // them once none will.
    if (task_.spec->algorithm.type == AlgorithmType::kPbt) superseded_.clear();
    for (const std::string& old : superseded_) {
      if (old == checkpoint_ || RelativePathProblem(root_, old)) continue;
      std::error_code ec;
      fs::remove(root_ / old, ec);
    }
    superseded_.clear();
  }

  void Start(int from_epoch) {
    // The coordinator may have deleted an emptied directory meanwhile.
    std::error_code ec;
    fs::create_directories(trial_dir_, ec);
    if (!ResumeFrom(from_epoch).empty()) {
      if (auto problem = RelativePathProblem(root_, checkpoint_)) {
        Fail(FailureKind::kConfig, "checkpoint path " + checkpoint_ + " " +
                                       *problem +
                                       ": it must stay inside the checkpoint "
                                       "directory");
      }
      if (!fs::exists(root_ / checkpoint_)) {
        Fail(FailureKind::kData,
             "checkpoint " + (root_ / checkpoint_).string() +
                 " does not exist: every worker needs the same "
                 "--checkpoints directory (a shared one)");
      }
    }
    run_from_ = from_epoch;
    run_to_ = to_;
    ChildProcess::Options options;
    options.argv = argv_;
    options.env = Environment(from_epoch);
    options.cwd = cwd_;
    try {
      child_ = std::make_unique<ChildProcess>(options);
    } catch (const Error& e) {
      Fail(e.kind() == ErrorKind::kBadInput ? FailureKind::kConfig
                                            : FailureKind::kError,
           e.what());
    }
    last_progress_ = MonotonicSeconds();
    Log("started `" + command::JoinArgv(argv_) + "` (pid " +
        std::to_string(child_->pid()) + ", epochs " +
        std::to_string(from_epoch + 1) + " to " + std::to_string(to_) +
        (checkpoint_.empty() ? "" : ", from " + checkpoint_) + ")");
  }

  void Stop() {
    if (child_->exited()) {  // It failed, and said how.
      child_.reset();
      return;
    }
    const double start = MonotonicSeconds();
    const double grace = task_.spec->execution.stop_grace_s;
    child_->Terminate(grace, [this](const std::string& line) { Log(line); });
    Log("stopped the program (" + child_->Describe() + ", " +
        std::to_string(static_cast<int>((MonotonicSeconds() - start) * 1000)) +
        " ms)");
    child_.reset();
  }

  void OnStderr(const std::string& line) {
    Log("stderr: " + line);
    stderr_tail_.push_back(line.substr(0, kStderrLineChars));
    while (stderr_tail_.size() > kStderrLines) stderr_tail_.pop_front();
  }

  void OnOtherLine(const command::ProtocolLine& line, const std::string& raw) {
    if (line.kind == command::ProtocolLine::Kind::kCheckpoint) {
      OnCheckpoint(line);
    } else if (line.kind == command::ProtocolLine::Kind::kMalformed) {
      Log("ignored a malformed line (" + line.error +
          "): " + raw.substr(0, 200));
    } else {
      Log(raw);
    }
  }

  // The program saved its state after `line.epoch` epochs at `line.path`
  // (relative paths are relative to HPO_CHECKPOINT_DIR).
  void OnCheckpoint(const command::ProtocolLine& line) {
    fs::path path(line.path);
    if (path.is_relative()) path = trial_dir_ / path;
    path = path.lexically_normal();
    const fs::path rel = path.lexically_relative(root_);
    if (rel.empty() || *rel.begin() == "..") {
      Fail(FailureKind::kConfig,
           "its checkpoint " + path.string() +
               " is outside the checkpoint directory " + root_.string() +
               ": save it under HPO_CHECKPOINT_DIR so that every worker can "
               "resume it");
    }
    if (!fs::is_regular_file(path)) {
      Fail(FailureKind::kConfig, "reported the checkpoint " + path.string() +
                                     ", which is not a file");
    }
    if (!checkpoint_.empty() && checkpoint_ != rel.string()) {
      superseded_.push_back(checkpoint_);
    }
    checkpoint_ = rel.string();
    checkpoint_epoch_ = line.epoch;
  }

  [[noreturn]] void Fail(FailureKind kind, const std::string& what) {
    throw TrialFailure(kind, "`" + command::JoinArgv(argv_) + "` " + what);
  }

  [[noreturn]] void TimedOut(int epoch, const std::string& what) {
    const double limit = task_.spec->execution.epoch_timeout_s;
    child_->Terminate(0.0);
    Fail(FailureKind::kError,
         "printed " + what + " " + std::to_string(epoch) + " in " +
             std::to_string(static_cast<int>(limit)) +
             " s (execution.epoch_timeout_s) and was killed");
  }

  // The program ended with a failure, or without finishing its epochs.
  [[noreturn]] void Failed(const std::string& when) {
    const std::optional<int> code = child_->exit_code();
    // Exit code 0 without the epochs asked for happens again on retry.
    const FailureKind kind = !code        ? FailureKind::kError
                             : *code == 0 ? FailureKind::kConfig
                                          : command::ExitFailureKind(*code);
    std::string what = "ended (" + child_->Describe() + ") " + when;
    if (!stderr_tail_.empty()) {
      what += "; stderr:";
      for (const std::string& l : stderr_tail_) what += " | " + l;
    }
    Fail(kind, what);
  }

  const TrialTask task_;
  std::vector<std::string> argv_;
  int to_;
  std::string checkpoint_;  // Relative to root_: the newest.
  int checkpoint_epoch_ = 0;
  fs::path root_;
  fs::path trial_dir_;
  std::string cwd_;
  std::unique_ptr<ChildProcess> child_;
  int run_from_ = 0;
  int run_to_ = 0;
  double last_progress_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
  std::deque<std::string> stderr_tail_;
  std::vector<std::string> superseded_;  // Checkpoints to delete.
};

}  // namespace

std::unique_ptr<Trainer> NewCommandTrainer(const TrialTask& task) {
  return std::make_unique<CommandTrainer>(task);
}

}  // namespace hpo
