// A worker's service logic: one coordinator's decisions, up to `slots`
// trials at once (one thread each), their reports, heartbeats and hellos.
//
// WorkerCore reacts to what the coordinator sends (OnMessage), to what its
// trials report (OnTrialOutput, after the wake callback said there is some),
// and to the passage of time (Tick). It sends through a WorkerTransport and
// reads time from a Clock, so tests drive it with a fake transport, a fake
// clock and fake trainers as coordinator_test drives the Coordinator;
// hpo-worker wires it to a ZeroMQ DEALER (worker.cc). Its methods are
// called from one thread; only the trials run on others.
//
// The worker survives its coordinator: when it hears nothing for the lease
// timeout (or the coordinator does not know it any more), it abandons its
// trials (the coordinator retries them) and says hello again until a
// coordinator answers, then carries on with whatever study that one runs.
#ifndef HPO_WORKER_WORKER_CORE_H_
#define HPO_WORKER_WORKER_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/study_spec.h"
#include "common/transport.h"
#include "worker/trainer.h"
#include "worker/worker.h"

namespace hpo {

class TrialRun;

class WorkerCore {
 public:
  using Logger = std::function<void(const std::string&)>;
  // The trainer a task runs with (NewTrainer; tests pass their own).
  using TrainerFactory =
      std::function<std::unique_ptr<Trainer>(const TrialTask&)>;

  // `wake` is called from trial threads when they have output for
  // OnTrialOutput(); it must be thread-safe and must not block.
  WorkerCore(const WorkerOptions& options, WorkerTransport& transport,
             const Clock& clock, Logger log, std::function<void()> wake,
             TrainerFactory trainers = NewTrainer);
  // Cancels and joins the trial threads.
  ~WorkerCore();
  WorkerCore(const WorkerCore&) = delete;
  WorkerCore& operator=(const WorkerCore&) = delete;

  // Handles one message from the coordinator. Returns the exit code when
  // the worker must end: 0 after "done" with exit_when_done; 2 for another
  // protocol version, a refusal ("error") or a study this worker cannot
  // run. Bad messages are logged and dropped.
  std::optional<int> OnMessage(const std::string& bytes);
  // Sends what the trials reported and reaps the trials that ended.
  void OnTrialOutput();
  // Hellos until a coordinator answers, heartbeats, and the lease timeout
  // (reconnect and hello again). Call at least a few times a second.
  void Tick();
  // Abandons the trials and, when joined, says "bye" (the coordinator
  // retries them now rather than after the lease runs out).
  void Stop();

  bool joined() const { return joined_; }
  // Trials holding a slot (the coordinator has not released them).
  int ActiveRuns() const;
  // Trial threads not yet reaped (released ones may still be ending).
  int threads() const { return static_cast<int>(runs_.size()); }
  int64_t session() const { return session_; }

 private:
  friend class TrialRun;
  // From a trial thread: one encoded message for the coordinator, or (with
  // `bytes` empty and `end` true) the thread has finished.
  void Post(int64_t lease, std::string bytes, bool end);

  std::optional<int> OnWelcome(const nlohmann::json& body);
  void OnAssign(MessageType type, const nlohmann::json& body);
  void Forget(const nlohmann::json& body);
  void SendHello();
  void Leave();
  void AbandonAll();
  void Send(const Message& message);

  const WorkerOptions options_;
  WorkerTransport& transport_;
  const Clock& clock_;
  Logger log_;
  std::function<void()> wake_;
  TrainerFactory trainers_;

  struct Output {
    int64_t lease = 0;
    std::string bytes;
    bool end = false;
  };
  std::mutex outbox_mutex_;
  std::deque<Output> outbox_;

  std::map<int64_t, std::unique_ptr<TrialRun>> runs_;  // By lease.
  std::shared_ptr<const StudySpec> spec_;
  bool joined_ = false;
  int64_t session_;
  double heartbeat_s_ = 2;
  double lease_timeout_s_ = 20;
  double last_heard_ = 0;
  double last_sent_ = 0;
  double last_hello_ = -1e300;
};

}  // namespace hpo

#endif  // HPO_WORKER_WORKER_CORE_H_
