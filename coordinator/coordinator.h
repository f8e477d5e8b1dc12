// The coordinator's service logic: one study, its scheduler, the workers
// connected to it, their leases, and the results database.
//
// Coordinator reacts to three things: a message from a worker (OnMessage),
// the passage of time (Tick), and a request to stop (Stop). It sends through a
// Transport and reads time from a Clock, so tests drive it without sockets or
// sleeps; hpo-coordinator wires it to a ZeroMQ ROUTER and the system clock.
// It is single-threaded.
//
// Every scheduler input is appended to the study's event log in the same
// database transaction as the results it came with, so a resumed
// coordinator rebuilds its scheduler by replaying the log (see Replay()) and
// restarts the jobs that were running from their last checkpoint.
#ifndef HPO_COORDINATOR_COORDINATOR_H_
#define HPO_COORDINATOR_COORDINATOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/store.h"
#include "common/study_spec.h"
#include "common/transport.h"
#include "coordinator/test_evaluation.h"
#include "search/scheduler.h"

namespace hpo {

// What the coordinator is doing, for the progress line.
struct CoordinatorStats {
  int64_t planned_trials = 0;  // From the plan; 0 if unknown.
  int64_t trials = 0;          // Started so far.
  int64_t complete = 0;
  int64_t pruned = 0;
  int64_t failed = 0;
  int64_t running = 0;  // On a worker now.
  int64_t queued = 0;   // Waiting for a worker (retries, resumed jobs).
  int64_t workers = 0;
  int64_t slots = 0;
  int64_t epochs = 0;  // Epoch reports accepted this session.
  int64_t best_trial = -1;
  double best_value = 0;
  int64_t dropped_messages = 0;   // Malformed, oversized, unknown, stale.
  int64_t evaluating_trial = -1;  // On the test split now, or -1.
  double elapsed_s = 0;           // Over all sessions of the study.
};

class Coordinator {
 public:
  using Logger = std::function<void(const std::string&)>;

  // Starts study `spec` (parsed from `spec_json`, the text of file `source`)
  // in `store`, or resumes it when `resume` is true. Throws hpo::Error (bad
  // input) when the study exists and `resume` is false, when `resume` is true
  // and it does not, and when the file changed in a way that would change the
  // search (the message lists the changes).
  Coordinator(const StudySpec& spec, const nlohmann::json& spec_json,
              const std::string& spec_text, Store& store, Clock& clock,
              Transport& transport, bool resume, Logger log);
  ~Coordinator();

  // Handles one message from the worker with routing id `identity`. Never
  // throws for bad input: malformed, oversized, unknown or stale messages are
  // logged and dropped. Throws hpo::Error only when the database fails.
  void OnMessage(const std::string& identity, const std::string& bytes);

  // Heartbeats, lease expiry, the time budget, and periodic commits. Call at
  // least a few times per heartbeat interval.
  void Tick();

  // Stops dispatching, asks workers to stop the trials they run, records them
  // as queued (a resume restarts them from their checkpoints), saves
  // everything and finishes. `why` is recorded as the study's state.
  void Stop(const std::string& why);

  // True once the study is over (done, out of time, or stopped); everything
  // is then saved.
  bool finished() const { return finished_; }
  // "complete", "time_limit", or what Stop() was given.
  const std::string& outcome() const { return outcome_; }
  // True once every worker has left after the study finished. Keep passing
  // messages to OnMessage() until then (for a while), so a worker that missed
  // "done" hears it again.
  bool drained() const { return finished_ && workers_.empty(); }

  CoordinatorStats stats() const;

 private:
  struct Worker {
    int64_t id = 0;  // Row in the workers table.
    std::string name;
    int64_t session = 0;
    int slots = 1;
    std::set<int64_t> leases;
    double last_heard = 0;
    double last_sent = 0;
    // It failed a job for want of the study's data (its --data lacks the
    // shards, or they do not read): it gets no more jobs of this study while
    // a worker without this mark is connected. Cleared when it rejoins.
    bool data_error = false;
  };
  struct Attempt {
    int64_t trial = 0;
    int64_t row_id = 0;  // Row in the attempts table.
    std::string identity;
    int from_epoch = 0;
    int to_epoch = 0;
    int epoch = 0;  // Epochs the trial has completed in this attempt.
    double last_activity = 0;  // When assigned or last reported.
  };
  struct TrialInfo {
    TrialRow row;
    std::vector<double> values;  // values[e-1]: objective after epoch e.
    int failures = 0;            // Attempts lost or failed (retryable).
    int64_t lease = 0;           // Active attempt, 0 if none.
  };

  void StartNew(const StudySpec& spec, const std::string& spec_text);
  void ResumeFrom(const StudyRow& study, const nlohmann::json& spec_json);

  void HandleHello(const std::string& identity, const Message& m);
  void HandleHeartbeat(const std::string& identity, const Message& m);
  // Messages after the study is over: "done" again for a worker that missed
  // it, and "bye" from those that leave.
  void AfterFinish(const std::string& identity, const Message& m);
  void HandleEpoch(const std::string& identity, const Message& m);
  void HandleFailure(const std::string& identity, const Message& m);
  void HandleEvaluation(const std::string& identity, const Message& m);
  // The live attempt a message refers to, or nullptr (stale: dropped).
  Attempt* FindAttempt(const std::string& identity, const Message& m);

  // The next job to run: a queued retry first, else the scheduler's choice.
  std::optional<Job> NextJob();
  // Hands out work to every worker with a free slot, one job per worker per
  // round.
  void DispatchAll();
  void Assign(const std::string& identity, Worker& worker, const Job& job);
  // Ends attempt `lease` with `state` (its slot becomes free).
  void EndAttempt(int64_t lease, const std::string& state,
                  const std::string& reason);
  // The attempt failed or was lost: retry it if attempts remain, else fail
  // the trial.
  void RetryOrFail(int64_t trial, const std::string& reason,
                   bool counts = true);
  // Puts a running job back in the queue, restarting from its checkpoint.
  void Requeue(int64_t trial);
  void FailTrial(int64_t trial, const std::string& reason);
  // Ends a worker's session and requeues its trials. `counts` says whether
  // the lost attempts count towards execution.max_attempts (not when the
  // worker left politely, saying "bye").
  void LoseWorker(const std::string& identity, const std::string& why,
                  bool counts = true);

  void RecordEvent(const SchedulerEvent& event);
  // Applies the scheduler's state changes to the trial rows.
  void SaveStateChanges();
  void SetTrialState(TrialInfo& info, TrialState state);
  // Marks the trial's row for writing with the next commit: a trial changes
  // several times per job, its row is written once per batch.
  void SaveTrial(TrialInfo& info);
  // Writes the marked trial rows and commits the batch.
  void Commit();
  void CheckDone();
  // The search is over: evaluate the best trial on the test split (a real
  // trainer only), then finish.
  void EvaluateOrFinish();
  // Sends the pending evaluation to a worker with a free slot, if any.
  void DispatchEvaluation();
  // The evaluation's attempt failed (TestEvaluation::OnFailure's arguments):
  // start it on another worker, or record the failure and finish.
  void EvaluationFailed(const std::string& kind, const std::string& reason,
                        bool counts = true, bool elsewhere = false);
  // Records the evaluation's outcome and finishes the study.
  void EndEvaluation(const EvaluationRow& row);
  // Marks the worker as unable to read this study's data. True if another
  // connected worker is not so marked (the job is retried there).
  bool MarkDataError(const std::string& identity, const std::string& reason);
  // Whether the worker is passed over for jobs: marked by MarkDataError
  // while some connected worker is not.
  bool PassedOver(const Worker& worker) const;
  // Asks a worker to delete the checkpoints of pruned and failed trials, and
  // (PBT) the boundary checkpoints no member will resume any more.
  void ForgetCheckpoints();
  // PBT: records the exploits the scheduler decided (lineage rows, the
  // members' new parameters) and marks boundary checkpoints nobody needs.
  void SaveExploits();
  void SweepSharedCheckpoints();
  // The checkpoint `job` resumes: its trial's own, or (PBT) the one of the
  // member it copies, at job.from_epoch; nullopt if none is recorded.
  std::optional<std::string> CheckpointFor(const Job& job) const;
  void Finish(const std::string& outcome);
  double Elapsed() const;

  void Send(const std::string& identity, const Message& message);
  void Drop(const std::string& identity, const std::string& why);

  const StudySpec spec_;
  nlohmann::json spec_json_;
  Store& store_;
  Clock& clock_;
  Transport& transport_;
  Logger log_;
  std::unique_ptr<Scheduler> scheduler_;

  int64_t study_id_ = 0;
  int64_t next_event_ = 0;
  int64_t planned_trials_ = 0;
  double prior_elapsed_ = 0;
  double session_start_ = 0;
  double last_commit_ = 0;
  double last_scan_ = -1e300;  // Tick()'s last look at every worker.

  std::map<std::string, Worker> workers_;
  int data_error_workers_ = 0;  // Workers in workers_ with data_error.
  // Workers that said "bye" after the study finished.
  std::set<std::string> left_;
  std::unordered_map<int64_t, Attempt> attempts_;  // By lease.
  std::map<int64_t, TrialInfo> trials_;
  std::deque<Job> queue_;
  std::set<int64_t> unsaved_trials_;
  bool scheduler_done_ = false;
  bool finished_ = false;

  // The test-split evaluation of the best trial, once the search is over.
  std::unique_ptr<TestEvaluation> evaluation_;
  // Trials whose checkpoints are no longer needed (pruned, failed).
  std::set<int64_t> forget_;
  // PBT: every member's boundary checkpoints, (trial, epoch) -> path, kept
  // while the scheduler says a member may resume them; and those to delete.
  bool shared_checkpoints_ = false;
  std::map<std::pair<int64_t, int>, std::string> shared_;
  std::vector<std::string> forget_paths_;
  // Paths the sweep dropped in the open batch: sent after its Commit().
  std::vector<std::string> uncommitted_forgets_;
  std::string outcome_;

  int64_t epochs_ = 0;
  int64_t dropped_ = 0;
  int64_t best_trial_ = -1;
  double best_score_ = 0;
  double best_value_ = 0;
};

}  // namespace hpo

#endif  // HPO_COORDINATOR_COORDINATOR_H_
