// The coordinator's construction, its message handling, Tick() and the
// end of a study. Dispatch and leases: coordinator_dispatch.cc; resuming:
// coordinator_resume.cc; the test-split evaluation:
// coordinator_evaluation.cc; checkpoint clean-up: coordinator_checkpoints.cc.
#include "coordinator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/json_util.h"

namespace hpo {

using nlohmann::json;

namespace {

// Seconds between batch commits. Short, so that each commit (which holds up
// the loop) stays short; in WAL mode with synchronous=NORMAL a commit does
// not fsync, so frequent commits cost little.
constexpr double kCommitInterval = 0.02;
constexpr int64_t kMaxBatch = 50000;  // Writes that force a commit.
constexpr int kMaxSlots = 256;

}  // namespace

Coordinator::Coordinator(const StudySpec& spec, const json& spec_json,
                         const std::string& spec_text, Store& store,
                         Clock& clock, Transport& transport, bool resume,
                         Logger log)
    : spec_(spec),
      spec_json_(spec_json),
      store_(store),
      clock_(clock),
      transport_(transport),
      log_(std::move(log)),
      scheduler_(NewScheduler(spec)) {
  json plan = scheduler_->Plan();
  shared_checkpoints_ = spec.algorithm.type == AlgorithmType::kPbt;
  // How many trials the study will start, for the progress line (ASHA runs
  // until its trial budget is spent).
  if (spec.algorithm.type == AlgorithmType::kAsha) {
    planned_trials_ = spec.budget.max_trials;
  } else if (plan.contains("n")) {
    planned_trials_ = plan["n"].get<int64_t>();
  } else if (plan.contains("brackets")) {
    for (const json& b : plan["brackets"]) {
      planned_trials_ += b["rungs"][0]["trials"].get<int64_t>();
    }
    planned_trials_ *= plan.value("iterations", int64_t{1});
  } else {
    planned_trials_ = plan.value("trials", int64_t{0});
  }
  session_start_ = clock_.Now();
  last_commit_ = session_start_;
  std::optional<StudyRow> existing = store_.FindStudy(spec.name);
  if (existing && !resume) {
    throw BadInput("study \"" + spec.name + "\" already exists in " +
                   store.path() + " (" + existing->state +
                   "); pass --resume to continue it, or rename the study or "
                   "use another --db to start afresh");
  }
  if (!existing && resume) {
    throw BadInput("--resume: " + store.path() + " has no study named \"" +
                   spec.name + "\"; run without --resume to start it");
  }
  if (existing) {
    ResumeFrom(*existing, spec_json);
  } else {
    StartNew(spec, spec_text);
  }
  Commit();
}

Coordinator::~Coordinator() = default;

void Coordinator::StartNew(const StudySpec& spec,
                           const std::string& spec_text) {
  StudyRow row;
  row.name = spec.name;
  row.spec = spec_text;
  row.spec_hash = HashText(spec_json_.dump());
  row.algorithm = ToString(spec.algorithm.type);
  row.metric = spec.objective.metric;
  row.mode = ToString(spec.objective.mode);
  row.state = "running";
  row.created_at = row.updated_at = clock_.WallTime();
  study_id_ = store_.CreateStudy(row);
}

void Coordinator::OnMessage(const std::string& identity,
                            const std::string& bytes) {
  Message m;
  try {
    m = Decode(bytes);
  } catch (const ProtocolError& e) {
    if (e.version_mismatch()) {
      Send(identity,
           ErrorMessage(std::string("coordinator refused the message: ") +
                        e.what()));
    }
    Drop(identity, e.what());
    return;
  }
  if (finished_) {
    AfterFinish(identity, m);
    return;
  }
  if (m.type == MessageType::kHello) {
    HandleHello(identity, m);
    return;
  }
  auto it = workers_.find(identity);
  if (it == workers_.end()) {
    // A worker this coordinator does not know (it restarted, or the worker
    // was declared lost): it must say hello again.
    if (m.type == MessageType::kEpoch || m.type == MessageType::kFailure ||
        m.type == MessageType::kEvaluation ||
        m.type == MessageType::kHeartbeat) {
      Send(identity,
           RejoinMessage("the coordinator does not know this worker session"));
    }
    ++dropped_;
    return;
  }
  it->second.last_heard = clock_.Now();
  switch (m.type) {
    case MessageType::kHeartbeat:
      HandleHeartbeat(identity, m);
      break;
    case MessageType::kBye:
      LoseWorker(identity, "it left: " + m.body.at("why").get<std::string>(),
                 /*counts=*/false);
      break;
    case MessageType::kEpoch:
      HandleEpoch(identity, m);
      break;
    case MessageType::kFailure:
      HandleFailure(identity, m);
      break;
    case MessageType::kEvaluation:
      HandleEvaluation(identity, m);
      break;
    default:
      Drop(identity,
           std::string("a worker may not send \"") + ToString(m.type) + "\"");
  }
}

void Coordinator::HandleHello(const std::string& identity, const Message& m) {
  const json& b = m.body;
  const int64_t session = b.at("session").get<int64_t>();
  auto it = workers_.find(identity);
  if (it != workers_.end() && it->second.session != session) {
    LoseWorker(identity, "it rejoined with a new session");
    it = workers_.end();
  }
  if (it == workers_.end()) {
    Worker w;
    w.name = b.at("name").get<std::string>();
    w.session = session;
    w.slots = static_cast<int>(
        std::min<int64_t>(b.at("slots").get<int64_t>(), kMaxSlots));
    w.id = store_.AddWorker(w.name, b.at("host").get<std::string>(),
                            b.at("devices"), w.slots, b.value("pid", 0),
                            clock_.WallTime());
    w.last_heard = clock_.Now();
    log_("worker " + w.name + " joined from " +
         b.at("host").get<std::string>() + " (" + std::to_string(w.slots) +
         " slot" + (w.slots == 1 ? "" : "s") + ", devices " +
         b.at("devices").dump() + ")");
    it = workers_.emplace(identity, std::move(w)).first;
  }
  it->second.last_heard = clock_.Now();
  Send(identity, WelcomeMessage({it->second.id, spec_.name, spec_json_,
                                 spec_.execution.heartbeat_s,
                                 spec_.execution.lease_timeout_s}));
  DispatchAll();
}

void Coordinator::AfterFinish(const std::string& identity, const Message& m) {
  auto it = workers_.find(identity);
  if (m.type == MessageType::kBye) {
    if (it != workers_.end()) {
      store_.UpdateWorker(it->second.id, "left", clock_.WallTime());
      data_error_workers_ -= it->second.data_error;
      workers_.erase(it);
      Commit();
    }
    left_.insert(identity);
    return;
  }
  if (outcome_ != "complete" && outcome_ != "time_limit") return;
  // A worker still in the study has missed the news, and one that says
  // hello for the first time (it started late, or reconnected after a
  // restart of this coordinator) hears it too, so that --exit-when-done
  // workers end. A hello from one that left after "done" (it waits for the
  // next study) is ignored.
  if (m.type != MessageType::kHello || !left_.count(identity)) {
    Send(identity, DoneMessage(spec_.name));
  }
}

void Coordinator::HandleHeartbeat(const std::string& identity,
                                  const Message& m) {
  // A safety net for a lost message: an attempt that the worker no longer
  // runs, although the coordinator has heard nothing of it for a lease
  // timeout, is lost.
  Worker& worker = workers_.at(identity);
  auto running = m.body.find("running");
  if (running == m.body.end()) return;
  std::set<int64_t> listed;
  for (const json& lease : *running) listed.insert(lease.get<int64_t>());
  const double now = clock_.Now();
  std::vector<int64_t> gone;
  for (int64_t lease : worker.leases) {
    const Attempt& a = attempts_.at(lease);
    if (!listed.count(lease) &&
        now - a.last_activity > spec_.execution.lease_timeout_s) {
      gone.push_back(lease);
    }
  }
  if (evaluation_ &&
      evaluation_->Overdue(identity, listed, spec_.execution.lease_timeout_s)) {
    EvaluationFailed("error", "the worker " + worker.name +
                                  " no longer runs the evaluation");
  }
  for (int64_t lease : gone) {
    const int64_t trial = attempts_.at(lease).trial;
    log_("worker " + worker.name + " no longer runs trial " +
         std::to_string(trial) + "; retrying it");
    EndAttempt(lease, "lost", "the worker no longer runs it");
    SetTrialState(trials_.at(trial), TrialState::kLost);
    RetryOrFail(trial, "the worker " + worker.name + " no longer runs it");
  }
  if (!gone.empty()) {
    DispatchAll();
    CheckDone();
  }
}

Coordinator::Attempt* Coordinator::FindAttempt(const std::string& identity,
                                               const Message& m) {
  auto it = attempts_.find(m.body.at("lease").get<int64_t>());
  if (it == attempts_.end() || it->second.identity != identity ||
      it->second.trial != m.body.at("trial").get<int64_t>()) {
    // A late message from an attempt given up on (its worker was declared
    // lost, or the coordinator restarted): logged, rate-limited, by Drop().
    Drop(identity, std::string("a late \"") + ToString(m.type) +
                       "\" of trial " + m.body.at("trial").dump() +
                       " from an attempt that has ended");
    return nullptr;
  }
  return &it->second;
}

void Coordinator::HandleEpoch(const std::string& identity, const Message& m) {
  Attempt* a = FindAttempt(identity, m);
  if (a == nullptr) return;
  const int epoch = static_cast<int>(
      std::min<int64_t>(m.body.at("epoch").get<int64_t>(), 1 << 30));
  if (epoch <= a->epoch) {
    ++dropped_;  // A duplicate.
    return;
  }
  if (epoch != a->epoch + 1 || epoch > a->to_epoch) {
    Drop(identity, "epoch " + std::to_string(epoch) + " of trial " +
                       std::to_string(a->trial) + " out of order (expected " +
                       std::to_string(a->epoch + 1) + ")");
    return;
  }
  const int64_t lease = m.body.at("lease").get<int64_t>();
  const int64_t trial = a->trial;
  TrialInfo& info = trials_.at(trial);
  const json& metrics = m.body.at("metrics");
  auto mv = metrics.find(spec_.objective.metric);
  double value =
      mv != metrics.end() && mv->is_number() ? mv->get<double>() : std::nan("");
  if (!std::isfinite(value)) value = std::nan("");

  MetricRow row;
  row.trial = trial;
  row.epoch = epoch;
  row.attempt_id = a->row_id;
  row.metrics = metrics;
  if (std::isfinite(value)) row.objective = value;
  row.recorded_at = clock_.WallTime();
  store_.PutMetrics(study_id_, row);
  a->epoch = epoch;
  a->last_activity = clock_.Now();
  ++epochs_;

  info.values.resize(static_cast<size_t>(epoch), std::nan(""));
  info.values[static_cast<size_t>(epoch - 1)] = value;
  info.row.epochs = epoch;
  info.row.value = row.objective;
  double score = scheduler_->Score(value);
  if (std::isfinite(score)) {
    if (!info.row.best_value ||
        score < scheduler_->Score(*info.row.best_value)) {
      info.row.best_value = value;
    }
    if (best_trial_ < 0 || score < best_score_) {
      best_trial_ = trial;
      best_score_ = score;
      best_value_ = value;
    }
  }
  auto best_ck = m.body.find("best_checkpoint");
  if (spec_.keep_best && best_ck != m.body.end() && best_ck->is_string() &&
      !best_ck->get<std::string>().empty() && std::isfinite(value)) {
    info.row.best_checkpoint = best_ck->get<std::string>();
    info.row.best_checkpoint_epoch = epoch;
  }
  auto ck = m.body.find("checkpoint");
  if (ck != m.body.end() && ck->is_string() &&
      !ck->get<std::string>().empty()) {
    info.row.checkpoint = ck->get<std::string>();
    info.row.checkpoint_epoch = epoch;
    if (shared_checkpoints_) {
      std::string& path = shared_[{trial, epoch}];
      if (!path.empty() && path != info.row.checkpoint) {
        uncommitted_forgets_.push_back(path);
      }
      path = info.row.checkpoint;
      store_.PutCheckpoint(study_id_, trial, epoch, path);
    }
  }

  RecordEvent({SchedulerEvent::Type::kEpoch, trial, epoch, value});
  Verdict verdict = scheduler_->OnEpoch(trial, epoch, value);
  SaveStateChanges();
  SaveExploits();
  if (shared_checkpoints_ && verdict == Verdict::kStop) {
    SweepSharedCheckpoints();
  }
  SaveTrial(info);
  if (verdict == Verdict::kContinue) return;

  const TrialState state = scheduler_->trials().at(trial).state;
  if (state == TrialState::kPaused) {
    // The job reached the end of its rung. If the scheduler's next job
    // continues this very trial, the worker keeps going without reloading.
    std::optional<Job> next = NextJob();
    if (next && next->trial == trial && next->from_epoch == epoch &&
        next->source < 0) {
      a->to_epoch = next->to_epoch;
      store_.UpdateAttemptTarget(a->row_id, next->to_epoch);
      Send(identity,
           DecisionMessage(lease, trial, /*go_on=*/true, next->to_epoch));
      return;
    }
    EndAttempt(lease, "done", "");
    Send(identity, DecisionMessage(lease, trial, /*go_on=*/false, epoch));
    if (next) Assign(identity, workers_.at(identity), *next);
  } else {
    EndAttempt(lease, state == TrialState::kPruned ? "pruned" : "done", "");
    Send(identity, DecisionMessage(lease, trial, /*go_on=*/false, epoch));
  }
  DispatchAll();
  CheckDone();
}

void Coordinator::HandleFailure(const std::string& identity, const Message& m) {
  if (evaluation_ &&
      evaluation_->Owns(identity, m.body.at("lease").get<int64_t>())) {
    const std::string kind = m.body.at("kind").get<std::string>();
    const std::string message = m.body.at("message").get<std::string>();
    const bool elsewhere = ParseFailureKind(kind) == FailureKind::kData &&
                           MarkDataError(identity, kind + ": " + message);
    EvaluationFailed(kind, message, !elsewhere, elsewhere);
    return;
  }
  Attempt* a = FindAttempt(identity, m);
  if (a == nullptr) return;
  const int64_t trial = a->trial;
  const std::string kind = m.body.at("kind").get<std::string>();
  std::string message = m.body.at("message").get<std::string>();
  if (message.size() > 500) message = message.substr(0, 497) + "...";
  const std::string reason = kind + ": " + message;
  log_("trial " + std::to_string(trial) + " failed on " +
       workers_.at(identity).name + " at epoch " +
       std::to_string(m.body.at("epoch").get<int64_t>()) + ": " + reason);
  EndAttempt(m.body.at("lease").get<int64_t>(), "failed", reason);
  const FailureKind failure = ParseFailureKind(kind);
  if (failure == FailureKind::kData && MarkDataError(identity, reason)) {
    // The worker's data, not the trial, is at fault: the attempt does not
    // count against the trial's execution.max_attempts.
    RetryOrFail(trial, reason, false);
  } else if (Retryable(failure)) {
    RetryOrFail(trial, reason);
  } else {
    FailTrial(trial, reason);
  }
  DispatchAll();
  CheckDone();
}

void Coordinator::Tick() {
  if (finished_) return;
  const double now = clock_.Now();
  // Looking at every worker costs O(workers), and a busy coordinator ticks
  // after every few messages: a few times per heartbeat is enough.
  if (now - last_scan_ >= std::min(0.05, spec_.execution.heartbeat_s / 4)) {
    last_scan_ = now;
    std::vector<std::string> silent;
    for (const auto& [identity, worker] : workers_) {
      if (now - worker.last_heard > spec_.execution.lease_timeout_s) {
        silent.push_back(identity);
      }
    }
    for (const std::string& identity : silent) {
      char why[96];
      std::snprintf(why, sizeof why, "no message for %.1f s (lease_timeout_s)",
                    spec_.execution.lease_timeout_s);
      LoseWorker(identity, why);
    }
    for (auto& [identity, worker] : workers_) {
      if (now - worker.last_sent >= spec_.execution.heartbeat_s) {
        Send(identity, CoordinatorHeartbeatMessage());
      }
    }
  }
  if (spec_.budget.max_hours > 0 &&
      Elapsed() >= spec_.budget.max_hours * 3600) {
    log_("budget.max_hours reached; stopping the study");
    Stop("time_limit");
    return;
  }
  CheckDone();
  if (!finished_ && store_.pending_writes() > 0 &&
      (now - last_commit_ >= kCommitInterval ||
       store_.pending_writes() >= kMaxBatch)) {
    Commit();
    last_commit_ = now;
  }
}

void Coordinator::CheckDone() {
  if (finished_ || !attempts_.empty() || !queue_.empty()) return;
  if (!scheduler_done_) {
    // Nothing runs: the scheduler either has more work (queued until a
    // worker comes) or is done.
    std::optional<Job> job = NextJob();
    if (job) {
      queue_.push_back(*job);
      SetTrialState(trials_.at(job->trial), TrialState::kQueued);
      SaveTrial(trials_.at(job->trial));
      DispatchAll();
      return;
    }
  }
  if (scheduler_done_) EvaluateOrFinish();
}

void Coordinator::Stop(const std::string& why) {
  if (finished_) return;
  std::vector<int64_t> leases;
  for (const auto& [lease, a] : attempts_) leases.push_back(lease);
  for (int64_t lease : leases) {
    const Attempt a = attempts_.at(lease);
    Send(a.identity, DecisionMessage(lease, a.trial, /*go_on=*/false, a.epoch));
    EndAttempt(lease, "interrupted", why);
    TrialInfo& info = trials_.at(a.trial);
    SetTrialState(info, TrialState::kQueued);
    SaveTrial(info);
  }
  Finish(why);
}

void Coordinator::Finish(const std::string& outcome) {
  ForgetCheckpoints();
  store_.UpdateStudy(study_id_, outcome, Elapsed(), clock_.WallTime());
  Commit();
  finished_ = true;
  outcome_ = outcome;
  if (outcome == "complete" || outcome == "time_limit") {
    for (const auto& [identity, worker] : workers_) {
      Send(identity, DoneMessage(spec_.name));
    }
  }
}

double Coordinator::Elapsed() const {
  return prior_elapsed_ + (clock_.Now() - session_start_);
}

CoordinatorStats Coordinator::stats() const {
  CoordinatorStats s;
  s.planned_trials = planned_trials_;
  for (const auto& [number, info] : trials_) {
    ++s.trials;
    switch (info.row.state) {
      case TrialState::kComplete:
        ++s.complete;
        break;
      case TrialState::kPruned:
        ++s.pruned;
        break;
      case TrialState::kFailed:
        ++s.failed;
        break;
      default:
        break;
    }
  }
  s.running = static_cast<int64_t>(attempts_.size());
  s.queued = static_cast<int64_t>(queue_.size());
  s.workers = static_cast<int64_t>(workers_.size());
  for (const auto& [identity, worker] : workers_) s.slots += worker.slots;
  s.epochs = epochs_;
  s.best_trial = best_trial_;
  s.best_value = best_value_;
  s.dropped_messages = dropped_;
  s.evaluating_trial = evaluation_ ? evaluation_->trial() : -1;
  s.elapsed_s = Elapsed();
  return s;
}

void Coordinator::Send(const std::string& identity, const Message& message) {
  transport_.Send(identity, Encode(message));
  auto it = workers_.find(identity);
  if (it != workers_.end()) it->second.last_sent = clock_.Now();
}

void Coordinator::Drop(const std::string& identity, const std::string& why) {
  ++dropped_;
  // Log the first few and then every thousandth, so a flood cannot fill
  // the log.
  if (dropped_ <= 20 || dropped_ % 1000 == 0) {
    auto it = workers_.find(identity);
    log_("dropped a message from " +
         (it != workers_.end() ? "worker " + it->second.name
                               : std::string("an unknown peer")) +
         ": " + why + " (" + std::to_string(dropped_) + " dropped so far)");
  }
}

}  // namespace hpo
