#include "worker/worker_core.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/command_protocol.h"
#include "common/error.h"
#include "common/paths.h"
#include "common/trial_params.h"

namespace hpo {

using nlohmann::json;

// A coordinator decision for a running trial.
struct Decision {
  bool stop = true;
  int to_epoch = 0;
};

// One trial running on its own thread. It reports through the core's Post()
// and receives decisions through its mailbox.
class TrialRun {
 public:
  TrialRun(WorkerCore& core, TrialTask task,
           std::shared_ptr<const StudySpec> spec, double decision_timeout_s)
      : core_(core),
        task_(std::move(task)),
        spec_(std::move(spec)),
        decision_timeout_s_(decision_timeout_s) {
    task_.spec = spec_.get();
    best_value_ = task_.best_value;
    thread_ = std::thread([this] { Run(); });
  }
  ~TrialRun() {
    Cancel();
    if (thread_.joinable()) thread_.join();
  }

  bool abandoned() const { return cancel_; }
  // True once the coordinator said stop (or heard of a failure): the slot is
  // free for its next assignment even if the thread has not quite ended.
  bool released() const { return cancel_ || released_; }

  void Decide(const Decision& d) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (d.stop) released_ = true;
    decisions_.push_back(d);
    cv_.notify_all();
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_ = true;
    cv_.notify_all();
  }

 private:
  std::optional<Decision> TakeDecision() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (decisions_.empty()) return std::nullopt;
    Decision d = decisions_.front();
    decisions_.pop_front();
    return d;
  }
  // Waits for the decision at the end of a job. Stops on cancel or when the
  // coordinator stays silent (then it has given up on this attempt).
  Decision WaitDecision() {
    std::unique_lock<std::mutex> lock(mutex_);
    bool got =
        cv_.wait_for(lock, std::chrono::duration<double>(decision_timeout_s_),
                     [this] { return cancel_ || !decisions_.empty(); });
    if (!got || cancel_) return Decision{};
    Decision d = decisions_.front();
    decisions_.pop_front();
    return d;
  }

  void Send(const Message& message) {
    core_.Post(task_.lease, Encode(message), /*end=*/false);
  }

  // trainer.keep "best": saves epoch `epoch` as the trial's best when its
  // objective beats every epoch before it; returns where.
  std::optional<std::string> SaveIfBest(Trainer& trainer, int epoch,
                                        const json& metrics) {
    const StudySpec& spec = *spec_;
    if (!spec.keep_best) return std::nullopt;
    auto it = metrics.find(spec.objective.metric);
    if (it == metrics.end() || !it->is_number()) return std::nullopt;
    const double value = it->get<double>();
    if (!std::isfinite(value)) return std::nullopt;
    const bool maximize = spec.objective.mode == ObjectiveMode::kMax;
    if (best_value_ &&
        !(maximize ? value > *best_value_ : value < *best_value_)) {
      return std::nullopt;
    }
    const std::string path = trainer.SaveBest(epoch);
    if (path.empty()) return std::nullopt;
    best_value_ = value;
    return path;
  }

  void Run() {
    int epoch = task_.from_epoch;
    try {
      std::unique_ptr<Trainer> trainer = core_.trainers_(task_);
      if (!task_.evaluate_split.empty()) {
        json result = trainer->Evaluate(task_.evaluate_split, cancel_);
        if (!cancel_) {
          released_ = true;  // Before the coordinator can hear of it.
          Send(EvaluationMessage(task_.lease, task_.trial, task_.evaluate_split,
                                 std::move(result)));
        }
        core_.Post(task_.lease, "", /*end=*/true);
        return;
      }
      int to = task_.to_epoch;
      while (!cancel_) {
        while (epoch < to && !cancel_) {
          json metrics = trainer->TrainEpoch(epoch + 1, cancel_);
          if (cancel_) break;
          ++epoch;
          const std::optional<std::string> best =
              SaveIfBest(*trainer, epoch, metrics);
          std::optional<std::string> checkpoint;
          if (epoch == to) {
            std::string path = trainer->SaveCheckpoint(epoch);
            if (!path.empty()) checkpoint = path;
          }
          Send(EpochMessage(task_.lease, task_.trial, epoch, std::move(metrics),
                            checkpoint, best));
          if (epoch < to) {
            std::optional<Decision> d = TakeDecision();
            if (d && d->stop) {
              cancel_ = true;  // Pruned: stop here.
            } else if (d && d->to_epoch > epoch) {
              to = d->to_epoch;
              trainer->ExtendTo(to);
            }
          }
        }
        if (cancel_) break;
        Decision d = WaitDecision();
        if (d.stop || d.to_epoch <= epoch) break;
        to = d.to_epoch;
        trainer->ExtendTo(to);
      }
    } catch (const TrialFailure& f) {
      // The slot is free from the moment the coordinator hears of the
      // failure: its next assignment may arrive before this thread ends.
      released_ = true;
      Send(FailureMessage(task_.lease, task_.trial, epoch, f.kind(), f.what()));
    } catch (const std::exception& e) {
      released_ = true;
      Send(FailureMessage(task_.lease, task_.trial, epoch, FailureKind::kError,
                          e.what()));
    }
    core_.Post(task_.lease, "", /*end=*/true);
  }

  WorkerCore& core_;
  TrialTask task_;
  std::shared_ptr<const StudySpec> spec_;
  double decision_timeout_s_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> released_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Decision> decisions_;
  std::optional<double> best_value_;  // Of the trial: what a best must beat.
  std::thread thread_;
};

WorkerCore::WorkerCore(const WorkerOptions& options, WorkerTransport& transport,
                       const Clock& clock, Logger log,
                       std::function<void()> wake, TrainerFactory trainers)
    : options_(options),
      transport_(transport),
      clock_(clock),
      log_(std::move(log)),
      wake_(std::move(wake)),
      trainers_(std::move(trainers)),
      session_(NewLease()) {}

WorkerCore::~WorkerCore() {
  AbandonAll();
  runs_.clear();  // Joins the trial threads.
}

void WorkerCore::Post(int64_t lease, std::string bytes, bool end) {
  {
    std::lock_guard<std::mutex> lock(outbox_mutex_);
    outbox_.push_back({lease, std::move(bytes), end});
  }
  wake_();
}

void WorkerCore::OnTrialOutput() {
  std::deque<Output> outputs;
  {
    std::lock_guard<std::mutex> lock(outbox_mutex_);
    outputs.swap(outbox_);
  }
  for (Output& out : outputs) {
    auto it = runs_.find(out.lease);
    if (it == runs_.end()) continue;
    if (out.end) {
      runs_.erase(it);  // Joins its thread, which has finished.
      continue;
    }
    if (!it->second->abandoned() && joined_) {
      transport_.Send(out.bytes);
      last_sent_ = clock_.Now();
    }
  }
}

std::optional<int> WorkerCore::OnMessage(const std::string& bytes) {
  Message m;
  try {
    m = Decode(bytes);
  } catch (const ProtocolError& e) {
    if (e.version_mismatch()) {
      log_(std::string("the coordinator at ") + options_.connect +
           " speaks another protocol: " + e.what());
      return 2;
    }
    log_(std::string("dropped a bad message: ") + e.what());
    return std::nullopt;
  }
  last_heard_ = clock_.Now();
  const json& b = m.body;
  switch (m.type) {
    case MessageType::kWelcome:
      return OnWelcome(b);
    case MessageType::kAssign:
    case MessageType::kEvaluate:
      if (joined_) OnAssign(m.type, b);
      break;
    case MessageType::kForget:
      if (joined_) Forget(b);
      break;
    case MessageType::kDecision: {
      auto it = runs_.find(b.at("lease").get<int64_t>());
      if (it != runs_.end()) {
        it->second->Decide({b.at("action") != "continue",
                            static_cast<int>(b.at("to_epoch").get<int64_t>())});
      }
      break;
    }
    case MessageType::kDone:
      log_("study \"" + b.at("study").get<std::string>() + "\" is over");
      Send(ByeMessage(options_.exit_when_done ? "exiting (--exit-when-done)"
                                              : "waiting for the next study"));
      if (options_.exit_when_done) {
        AbandonAll();
        return 0;
      }
      // Wait for the next study: say hello until a coordinator answers.
      Leave();
      break;
    case MessageType::kRejoin:
      if (joined_) {
        log_("the coordinator asks to rejoin (" +
             b.at("why").get<std::string>() + ")");
        Leave();
      }
      break;
    case MessageType::kError:
      log_("the coordinator refused this worker: " +
           b.at("message").get<std::string>());
      return 2;
    case MessageType::kHeartbeat:
      break;
    default:
      log_(std::string("ignored a \"") + ToString(m.type) + "\" message");
  }
  return std::nullopt;
}

std::optional<int> WorkerCore::OnWelcome(const json& b) {
  try {
    spec_ = std::make_shared<const StudySpec>(
        ParseStudy(b.at("spec"), "study from the coordinator"));
    if (!spec_->data_shards.empty()) {
      (void)ShardsPath(options_.data_dir, spec_->data_shards);
    }
  } catch (const Error& e) {
    log_(std::string("the coordinator's study is invalid here: ") + e.what());
    return 2;
  }
  if (!spec_->command.empty() && !options_.allow_commands) {
    // A study file could otherwise run any program on every worker.
    log_("refused study \"" + spec_->name + "\": it runs the command `" +
         command::JoinArgv(spec_->command) +
         "` on its workers; start hpo-worker with --allow-commands to let "
         "it");
    Send(ByeMessage("it refuses to run commands (no --allow-commands)"));
    return 2;
  }
  if (!joined_) {
    log_("joined study \"" + spec_->name + "\" as worker " +
         b.at("worker_id").dump());
  }
  joined_ = true;
  heartbeat_s_ = b.at("heartbeat_s").get<double>();
  lease_timeout_s_ = b.at("lease_timeout_s").get<double>();
  return std::nullopt;
}

// An "assign" (train) or an "evaluate" (score a checkpoint on a split).
void WorkerCore::OnAssign(MessageType type, const json& b) {
  TrialTask task;
  task.lease = b.at("lease").get<int64_t>();
  task.trial = b.at("trial").get<int64_t>();
  task.params = b.at("params");
  if (type == MessageType::kEvaluate) {
    task.from_epoch = task.to_epoch =
        static_cast<int>(b.at("epoch").get<int64_t>());
    task.evaluate_split = b.at("split").get<std::string>();
    log_("evaluating trial " + std::to_string(task.trial) + " on the " +
         task.evaluate_split + " split");
  } else {
    task.attempt = static_cast<int>(b.at("attempt").get<int64_t>());
    task.from_epoch = static_cast<int>(b.at("from_epoch").get<int64_t>());
    task.to_epoch = static_cast<int>(b.at("to_epoch").get<int64_t>());
  }
  const json& ck = b.value("checkpoint", json(nullptr));
  task.checkpoint = ck.is_string() ? ck.get<std::string>() : "";
  const json& best = b.value("best_value", json(nullptr));
  if (best.is_number()) task.best_value = best.get<double>();
  task.data_dir = options_.data_dir;
  task.device = options_.device;
  task.threads = options_.threads;
  task.checkpoint_dir = options_.checkpoint_dir;
  task.log = log_;
  task.allow_commands = options_.allow_commands;
  // Parameters from the network are checked as a study file is, before
  // anything trains with them.
  std::string refused;
  try {
    CheckTrialParams(*spec_, task.params,
                     "trial " + std::to_string(task.trial));
  } catch (const ValidationError& e) {
    for (const std::string& problem : e.problems()) {
      refused += (refused.empty() ? "" : "; ") + problem;
    }
  }
  if (!refused.empty()) {
    log_("refused parameters outside the study: " + refused);
    Send(FailureMessage(task.lease, task.trial, task.from_epoch,
                        FailureKind::kConfig, refused));
    return;
  }
  if (ActiveRuns() >= options_.slots || runs_.count(task.lease)) {
    Send(FailureMessage(task.lease, task.trial, task.from_epoch,
                        FailureKind::kError, "the worker has no free slot"));
    return;
  }
  const int64_t lease = task.lease;
  runs_[lease] = std::make_unique<TrialRun>(*this, std::move(task), spec_,
                                            lease_timeout_s_);
}

// Deletes checkpoints the coordinator no longer needs (of pruned and failed
// trials; in a PBT study, those no member will resume), and their trial
// directories once empty. Paths are relative to
// the checkpoint directory and may not leave it.
void WorkerCore::Forget(const json& b) {
  namespace fs = std::filesystem;
  const fs::path root =
      CheckpointRoot(options_.checkpoint_dir, options_.data_dir);
  int removed = 0;
  for (const json& entry : b.at("checkpoints")) {
    const fs::path rel(entry.get<std::string>());
    if (std::optional<std::string> problem =
            RelativePathProblem(root, rel.string())) {
      log_("refused to delete checkpoint " + rel.string() + ": the path " +
           *problem + ", outside the checkpoint directory");
      continue;
    }
    std::error_code ec;
    removed += fs::remove(root / rel, ec) ? 1 : 0;
    // The trial's directory, if that was its last file.
    if (rel.has_parent_path()) fs::remove(root / rel.parent_path(), ec);
  }
  if (removed > 0) {
    log_("deleted " + std::to_string(removed) +
         " checkpoint(s) that no trial will resume");
  }
}

int WorkerCore::ActiveRuns() const {
  int n = 0;
  for (const auto& [lease, run] : runs_) n += !run->released();
  return n;
}

void WorkerCore::Tick() {
  const double now = clock_.Now();
  if (!joined_) {
    if (now - last_hello_ >= options_.hello_interval_s) SendHello();
    return;
  }
  if (now - last_heard_ > lease_timeout_s_) {
    log_("no word from the coordinator for " +
         std::to_string(static_cast<int>(now - last_heard_)) +
         " s; reconnecting");
    // On a fresh connection: the old one may be stalled behind TCP's
    // retransmission backoff (after a long outage the first resend can come
    // a minute after the network is back). The coordinator hands this
    // worker's routing id over to the new connection.
    transport_.Reconnect();
    Leave();
    return;
  }
  if (now - last_sent_ >= heartbeat_s_) {
    std::vector<int64_t> running;
    for (const auto& [lease, run] : runs_) {
      if (!run->released()) running.push_back(lease);
    }
    Send(HeartbeatMessage(running));
  }
}

void WorkerCore::Stop() {
  AbandonAll();
  if (joined_) Send(ByeMessage("the worker was stopped"));
}

void WorkerCore::SendHello() {
  last_hello_ = clock_.Now();
  Send(HelloMessage({options_.name,
                     options_.host,
                     {options_.device},
                     options_.slots,
                     session_,
                     static_cast<int64_t>(getpid())}));
}

// Stops every trial and says hello again (a new session).
void WorkerCore::Leave() {
  AbandonAll();
  joined_ = false;
  session_ = NewLease();
  SendHello();
}

void WorkerCore::AbandonAll() {
  for (auto& [lease, run] : runs_) run->Cancel();
}

void WorkerCore::Send(const Message& message) {
  transport_.Send(Encode(message));
  last_sent_ = clock_.Now();
}

}  // namespace hpo
