#include "worker/worker.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "common/error.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "common/study_spec.h"
#include "common/trial_params.h"
#include "worker/handshake_monitor.h"
#include "worker/trainer.h"

namespace hpo {

using nlohmann::json;

namespace {

constexpr char kOutbox[] = "inproc://hpo-worker-outbox";

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Log(const std::string& name, const std::string& line) {
  std::cerr << "hpo-worker " << name << ": " << line << std::endl;
}

// A coordinator decision for a running trial.
struct Decision {
  bool stop = true;
  int to_epoch = 0;
};

// One trial running on its own thread. The thread talks to the main loop
// through its own PUSH socket (frames: lease, "send"|"end", payload) and
// receives decisions through the mailbox.
class TrialRun {
 public:
  TrialRun(zmq::context_t& context, TrialTask task,
           std::shared_ptr<const StudySpec> spec, double decision_timeout_s)
      : task_(std::move(task)),
        spec_(std::move(spec)),
        decision_timeout_s_(decision_timeout_s) {
    task_.spec = spec_.get();
    thread_ = std::thread([this, &context] { Run(context); });
  }
  ~TrialRun() {
    Cancel();
    if (thread_.joinable()) thread_.join();
  }

  int64_t lease() const { return task_.lease; }
  int64_t trial() const { return task_.trial; }
  bool abandoned() const { return cancel_; }
  // True once the coordinator said stop: the slot is free for its next
  // assignment even if the thread has not quite ended.
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

  void Run(zmq::context_t& context) {
    zmq::socket_t out(context, zmq::socket_type::push);
    out.set(zmq::sockopt::linger, 0);
    out.connect(kOutbox);
    auto post = [&](const char* kind, const std::string& payload) {
      const int64_t lease = task_.lease;
      out.send(zmq::buffer(&lease, sizeof lease), zmq::send_flags::sndmore);
      out.send(zmq::buffer(std::string(kind)), zmq::send_flags::sndmore);
      out.send(zmq::buffer(payload), zmq::send_flags::none);
    };
    auto send = [&](MessageType type, json fields) {
      fields["lease"] = task_.lease;
      fields["trial"] = task_.trial;
      post("send", Encode(MakeMessage(type, std::move(fields))));
    };
    int epoch = task_.from_epoch;
    try {
      std::unique_ptr<Trainer> trainer = NewTrainer(task_);
      if (!task_.evaluate_split.empty()) {
        json result = trainer->Evaluate(task_.evaluate_split, cancel_);
        if (!cancel_) {
          result["split"] = task_.evaluate_split;
          released_ = true;  // Before the coordinator can hear of it.
          send(MessageType::kEvaluation, std::move(result));
        }
        post("end", "");
        return;
      }
      int to = task_.to_epoch;
      while (!cancel_) {
        while (epoch < to && !cancel_) {
          json metrics = trainer->TrainEpoch(epoch + 1, cancel_);
          if (cancel_) break;
          ++epoch;
          json checkpoint = nullptr;
          if (epoch == to) {
            std::string path = trainer->SaveCheckpoint(epoch);
            if (!path.empty()) checkpoint = path;
          }
          send(MessageType::kEpoch, {{"epoch", epoch},
                                     {"metrics", std::move(metrics)},
                                     {"checkpoint", checkpoint}});
          if (epoch < to) {
            std::optional<Decision> d = TakeDecision();
            if (d && d->stop) {
              cancel_ = true;  // Pruned: stop here.
            } else if (d && d->to_epoch > epoch) {
              to = d->to_epoch;
            }
          }
        }
        if (cancel_) break;
        Decision d = WaitDecision();
        if (d.stop || d.to_epoch <= epoch) break;
        to = d.to_epoch;
      }
    } catch (const TrialFailure& f) {
      // The slot is free from the moment the coordinator hears of the
      // failure: its next assignment may arrive before this thread ends.
      released_ = true;
      send(MessageType::kFailure,
           {{"epoch", epoch}, {"kind", f.kind()}, {"message", f.what()}});
    } catch (const std::exception& e) {
      released_ = true;
      send(MessageType::kFailure,
           {{"epoch", epoch}, {"kind", "error"}, {"message", e.what()}});
    }
    post("end", "");
  }

  TrialTask task_;
  std::shared_ptr<const StudySpec> spec_;
  double decision_timeout_s_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> released_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Decision> decisions_;
  std::thread thread_;
};

int64_t NewSession() { return NewLease(); }

class WorkerService {
 public:
  WorkerService(const WorkerOptions& options, const std::atomic<int>& stop)
      : options_(options),
        stop_(stop),
        context_(1),
        dealer_(context_, zmq::socket_type::dealer),
        outbox_(context_, zmq::socket_type::pull) {
    dealer_.set(zmq::sockopt::linger, 500);
    // Queue nothing for a coordinator that is not there: hellos are resent,
    // and stale reports would only be dropped.
    dealer_.set(zmq::sockopt::immediate, 1);
    dealer_.set(zmq::sockopt::reconnect_ivl, 100);
    dealer_.set(zmq::sockopt::reconnect_ivl_max, 2000);
    // A connection attempt into a cut network gives up after 2 s and is
    // retried, instead of waiting out the kernel's SYN retries (2 min).
    dealer_.set(zmq::sockopt::connect_timeout, 2000);
    dealer_.set(zmq::sockopt::sndhwm, 100000);
    dealer_.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(4 * kMaxMessageBytes));
    // A stable routing id for this process, so a reconnection after a
    // network blip is the same worker to the coordinator.
    const std::string routing_id = "w" + std::to_string(NewLease());
    dealer_.set(zmq::sockopt::routing_id, routing_id);
    // CurveZMQ: encrypts the traffic, proves this worker's key to the
    // coordinator and the coordinator's (server_public) to this worker.
    if (!options_.curve_secret.empty()) {
      dealer_.set(zmq::sockopt::curve_serverkey, options_.server_public);
      dealer_.set(zmq::sockopt::curve_publickey, options_.curve_public);
      dealer_.set(zmq::sockopt::curve_secretkey, options_.curve_secret);
    }
    const std::string name = options_.name;
    handshakes_ = std::make_unique<HandshakeMonitor>(
        context_, dealer_, options_.connect, [name](const std::string& line) {
          std::cerr << ("hpo-worker " + name + ": " + line + "\n")
                    << std::flush;
        });
    outbox_.bind(kOutbox);
    try {
      dealer_.connect(options_.connect);
    } catch (const zmq::error_t& e) {
      throw BadInput("hpo-worker: cannot connect to --connect " +
                     options_.connect + ": " + e.what() +
                     " (expected e.g. tcp://HOST:5555)");
    }
  }

  ~WorkerService() {
    runs_.clear();  // Joins the trial threads.
    handshakes_.reset();
  }

  int Run() {
    Log(options_.name, "connecting to " + options_.connect + " with " +
                           std::to_string(options_.slots) + " slot(s) on " +
                           options_.device +
                           (options_.device_reason.empty()
                                ? ""
                                : " (" + options_.device_reason + ")"));
    zmq::pollitem_t items[] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0},
                               {outbox_.handle(), 0, ZMQ_POLLIN, 0}};
    while (true) {
      if (stop_ != 0) {
        // "bye" tells the coordinator to retry this worker's trials now,
        // rather than after the lease runs out.
        AbandonAll();
        if (joined_) {
          SendRaw(Encode(MakeMessage(MessageType::kBye,
                                     {{"why", "the worker was stopped"}})));
        }
        Log(options_.name, "stopping");
        return 0;
      }
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(50));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
      for (int i = 0; i < 1024 && (items[1].revents & ZMQ_POLLIN); ++i) {
        if (!ForwardFromTrial()) break;
      }
      for (int i = 0; i < 1024 && (items[0].revents & ZMQ_POLLIN); ++i) {
        zmq::message_t msg;
        if (!dealer_.recv(msg, zmq::recv_flags::dontwait)) break;
        std::optional<int> exit = OnMessage(msg);
        if (exit) return *exit;
      }
      Timers();
      RetryHandshake();
    }
  }

 private:
  // libzmq does not reconnect after the coordinator refused this worker's
  // key (or their CurveZMQ settings differ): connect again every couple of
  // seconds, so a key authorised later lets the worker in.
  void RetryHandshake() {
    if (!handshakes_->RetryDue(2.0)) return;
    Reconnect();
  }

  // Drops the connection and opens a new one.
  void Reconnect() {
    try {
      dealer_.disconnect(options_.connect);
    } catch (const zmq::error_t&) {
      // Already gone.
    }
    try {
      dealer_.connect(options_.connect);
    } catch (const zmq::error_t& e) {
      Log(options_.name, std::string("cannot reconnect: ") + e.what());
    }
  }

  // Moves one message from a trial thread to the coordinator. False when
  // there was none.
  bool ForwardFromTrial() {
    zmq::message_t lease_frame, kind_frame, payload;
    if (!outbox_.recv(lease_frame, zmq::recv_flags::dontwait)) return false;
    (void)outbox_.recv(kind_frame);
    (void)outbox_.recv(payload);
    int64_t lease = 0;
    std::memcpy(&lease, lease_frame.data(), sizeof lease);
    auto it = runs_.find(lease);
    if (it == runs_.end()) return true;
    if (kind_frame.to_string_view() == "end") {
      runs_.erase(it);  // Joins its thread, which has finished.
      return true;
    }
    if (!it->second->abandoned() && joined_) {
      SendRaw(payload.to_string());
    }
    return true;
  }

  std::optional<int> OnMessage(const zmq::message_t& msg) {
    Message m;
    try {
      m = Decode(msg.data(), msg.size());
    } catch (const ProtocolError& e) {
      if (e.version_mismatch()) {
        Log(options_.name, std::string("the coordinator at ") +
                               options_.connect +
                               " speaks another protocol: " + e.what());
        return 2;
      }
      Log(options_.name, std::string("dropped a bad message: ") + e.what());
      return std::nullopt;
    }
    last_heard_ = Now();
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
          it->second->Decide(
              {b.at("action") != "continue",
               static_cast<int>(b.at("to_epoch").get<int64_t>())});
        }
        break;
      }
      case MessageType::kDone:
        Log(options_.name,
            "study \"" + b.at("study").get<std::string>() + "\" is over");
        SendRaw(Encode(MakeMessage(
            MessageType::kBye, {{"why", options_.exit_when_done
                                            ? "exiting (--exit-when-done)"
                                            : "waiting for the next study"}})));
        if (options_.exit_when_done) {
          AbandonAll();
          return 0;
        }
        // Wait for the next study: say hello until a coordinator answers.
        Leave();
        break;
      case MessageType::kRejoin:
        if (joined_) {
          Log(options_.name, "the coordinator asks to rejoin (" +
                                 b.at("why").get<std::string>() + ")");
          Leave();
        }
        break;
      case MessageType::kError:
        Log(options_.name, "the coordinator refused this worker: " +
                               b.at("message").get<std::string>());
        return 2;
      case MessageType::kHeartbeat:
        break;
      default:
        Log(options_.name,
            std::string("ignored a \"") + ToString(m.type) + "\" message");
    }
    return std::nullopt;
  }

  std::optional<int> OnWelcome(const json& b) {
    try {
      spec_ = std::make_shared<const StudySpec>(
          ParseStudy(b.at("spec"), "study from the coordinator"));
    } catch (const Error& e) {
      Log(options_.name,
          std::string("the coordinator's study is invalid here: ") + e.what());
      return 2;
    }
    if (!spec_->data_shards.empty()) {
      try {
        (void)ShardsPath(options_.data_dir, spec_->data_shards);
      } catch (const Error& e) {
        Log(options_.name,
            std::string("the coordinator's study is invalid here: ") +
                e.what());
        return 2;
      }
    }
    if (!joined_) {
      Log(options_.name, "joined study \"" + spec_->name + "\" as worker " +
                             b.at("worker_id").dump());
    }
    joined_ = true;
    heartbeat_s_ = b.at("heartbeat_s").get<double>();
    lease_timeout_s_ = b.at("lease_timeout_s").get<double>();
    return std::nullopt;
  }

  // An "assign" (train) or an "evaluate" (score a checkpoint on a split).
  void OnAssign(MessageType type, const json& b) {
    TrialTask task;
    task.lease = b.at("lease").get<int64_t>();
    task.trial = b.at("trial").get<int64_t>();
    task.params = b.at("params");
    if (type == MessageType::kEvaluate) {
      task.from_epoch = task.to_epoch =
          static_cast<int>(b.at("epoch").get<int64_t>());
      task.evaluate_split = b.at("split").get<std::string>();
      Log(options_.name, "evaluating trial " + std::to_string(task.trial) +
                             " on the " + task.evaluate_split + " split");
    } else {
      task.attempt = static_cast<int>(b.at("attempt").get<int64_t>());
      task.from_epoch = static_cast<int>(b.at("from_epoch").get<int64_t>());
      task.to_epoch = static_cast<int>(b.at("to_epoch").get<int64_t>());
    }
    const json& ck = b.value("checkpoint", json(nullptr));
    task.checkpoint = ck.is_string() ? ck.get<std::string>() : "";
    task.data_dir = options_.data_dir;
    task.device = options_.device;
    task.threads = options_.threads;
    task.checkpoint_dir = options_.checkpoint_dir;
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
      Log(options_.name, "refused parameters outside the study: " + refused);
      SendRaw(
          Encode(MakeMessage(MessageType::kFailure, {{"lease", task.lease},
                                                     {"trial", task.trial},
                                                     {"epoch", task.from_epoch},
                                                     {"kind", "config"},
                                                     {"message", refused}})));
      return;
    }
    if (ActiveRuns() >= options_.slots || runs_.count(task.lease)) {
      SendRaw(
          Encode(MakeMessage(MessageType::kFailure,
                             {{"lease", task.lease},
                              {"trial", task.trial},
                              {"epoch", task.from_epoch},
                              {"kind", "error"},
                              {"message", "the worker has no free slot"}})));
      return;
    }
    const int64_t lease = task.lease;
    runs_[lease] = std::make_unique<TrialRun>(context_, std::move(task), spec_,
                                              lease_timeout_s_);
  }

  // Deletes checkpoints the coordinator no longer needs (of pruned and
  // failed trials), and their trial directories once empty. Paths are
  // relative to the checkpoint directory and may not leave it.
  void Forget(const json& b) {
    namespace fs = std::filesystem;
    const fs::path root = options_.checkpoint_dir.empty()
                              ? fs::path(options_.data_dir) / "checkpoints"
                              : fs::path(options_.checkpoint_dir);
    int removed = 0;
    for (const json& entry : b.at("checkpoints")) {
      const fs::path rel(entry.get<std::string>());
      if (std::optional<std::string> problem =
              RelativePathProblem(root, rel.string())) {
        Log(options_.name, "refused to delete checkpoint " + rel.string() +
                               ": the path " + *problem +
                               ", outside the checkpoint directory");
        continue;
      }
      std::error_code ec;
      removed += fs::remove(root / rel, ec) ? 1 : 0;
      // The trial's directory, if that was its last file.
      if (rel.has_parent_path()) fs::remove(root / rel.parent_path(), ec);
    }
    if (removed > 0) {
      Log(options_.name, "deleted " + std::to_string(removed) +
                             " checkpoint(s) of pruned or failed trials");
    }
  }

  int ActiveRuns() const {
    int n = 0;
    for (const auto& [lease, run] : runs_) n += !run->released();
    return n;
  }

  void Timers() {
    const double now = Now();
    if (!joined_) {
      if (now - last_hello_ >= options_.hello_interval_s) SendHello();
      return;
    }
    if (now - last_heard_ > lease_timeout_s_) {
      Log(options_.name,
          "no word from the coordinator for " +
              std::to_string(static_cast<int>(now - last_heard_)) +
              " s; reconnecting");
      // On a fresh connection: the old one may be stalled behind TCP's
      // retransmission backoff (after a long outage the first resend can
      // come a minute after the network is back). The coordinator hands
      // this worker's routing id over to the new connection.
      Reconnect();
      Leave();
      return;
    }
    if (now - last_sent_ >= heartbeat_s_) {
      json running = json::array();
      for (const auto& [lease, run] : runs_) {
        if (!run->released()) running.push_back(lease);
      }
      SendRaw(
          Encode(MakeMessage(MessageType::kHeartbeat, {{"running", running}})));
    }
  }

  void SendHello() {
    last_hello_ = Now();
    SendRaw(Encode(MakeMessage(MessageType::kHello,
                               {{"name", options_.name},
                                {"host", options_.host},
                                {"devices", json::array({options_.device})},
                                {"slots", options_.slots},
                                {"session", session_},
                                {"pid", static_cast<int64_t>(getpid())}})));
  }

  // Stops every trial and says hello again (a new session).
  void Leave() {
    AbandonAll();
    joined_ = false;
    session_ = NewSession();
    SendHello();
  }

  void AbandonAll() {
    for (auto& [lease, run] : runs_) run->Cancel();
  }

  void SendRaw(const std::string& bytes) {
    try {
      (void)dealer_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      Log(options_.name, std::string("send failed: ") + e.what());
    }
    last_sent_ = Now();
  }

  const WorkerOptions options_;
  const std::atomic<int>& stop_;
  zmq::context_t context_;
  zmq::socket_t dealer_;
  zmq::socket_t outbox_;
  std::unique_ptr<HandshakeMonitor> handshakes_;  // Before dealer_ closes.
  std::map<int64_t, std::unique_ptr<TrialRun>> runs_;
  std::shared_ptr<const StudySpec> spec_;
  bool joined_ = false;
  int64_t session_ = NewSession();
  double heartbeat_s_ = 2;
  double lease_timeout_s_ = 20;
  double last_heard_ = 0;
  double last_sent_ = 0;
  double last_hello_ = -1e9;
};

}  // namespace

int RunWorker(const WorkerOptions& options, const std::atomic<int>& stop) {
  WorkerService service(options, stop);
  return service.Run();
}

}  // namespace hpo
