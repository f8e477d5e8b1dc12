// Schedulers decide which trial trains next, for how many epochs, and which
// trials stop early. They are pure logic: no I/O, no clock, no threads. The
// coordinator (or the simulator) feeds them events and carries out their
// decisions:
//
//   NextJob()            a worker is free: run a job, wait, or the study is
//   done OnEpoch(t, e, v)     trial t finished epoch e with objective value v:
//                        continue, or stop (the job ended or the trial is
//                        pruned)
//   OnFailed(t)          trial t failed (diverged, crashed, out of attempts)
//   OnRestart(t)         trial t's job restarts from its checkpoint (its worker
//                        was lost); epochs reported since then are forgotten
//
// A scheduler's state is a function of the events it was given, so replaying
// a recorded event log into a new scheduler for the same study reconstructs
// it exactly (see Replay()). NextJob() calls that return kWait change
// nothing and need not be recorded.
//
// Epochs count completed epochs: a job {from_epoch: 3, to_epoch: 9} resumes
// from the checkpoint taken after epoch 3 and reports epochs 4..9.
#ifndef HPO_SEARCH_SCHEDULER_H_
#define HPO_SEARCH_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/study_spec.h"
#include "common/trial_state.h"
#include "search/sampler.h"
#include "search/trial_record.h"

namespace hpo {

struct Decision {
  enum class Type { kRun, kWait, kDone };
  Type type = Type::kWait;
  Job job;  // Set for kRun.
};

enum class Verdict {
  kContinue,  // Train the next epoch.
  kStop,      // Stop this job: it reached to_epoch, or the trial is pruned.
};

// A PBT exploit (search/pbt_scheduler.cc): after `epoch` epochs, `trial`
// takes `parent`'s checkpoint from after `parent_epoch` epochs and continues
// with `new_params` instead of `old_params`.
struct Exploit {
  int64_t trial = -1;
  int epoch = 0;
  int64_t parent = -1;
  int parent_epoch = 0;
  nlohmann::json old_params;
  nlohmann::json new_params;
};

struct StateChange {
  int64_t trial;
  TrialState state;
  int epoch;  // Epochs the trial had completed when its state changed.
};

// One input to a scheduler, as recorded for replay.
struct SchedulerEvent {
  enum class Type { kNextJob, kEpoch, kFailed, kRestart };
  Type type = Type::kNextJob;
  int64_t trial = -1;
  int epoch = 0;
  double value = 0;  // NaN when the metric was missing or not finite.

  nlohmann::json ToJson() const;
  // Throws hpo::Error (bad input) for a malformed event.
  static SchedulerEvent FromJson(const nlohmann::json& json);
};

class Scheduler {
 public:
  virtual ~Scheduler();

  Decision NextJob();
  Verdict OnEpoch(int64_t trial, int epoch, double value);
  void OnFailed(int64_t trial);
  void OnRestart(int64_t trial);

  // Applies one recorded event. For kNextJob returns its decision through
  // `decision` (may be null); for kEpoch its verdict through `verdict`.
  void Apply(const SchedulerEvent& event, Decision* decision = nullptr,
             Verdict* verdict = nullptr);

  // The schedule as JSON (for `hpo-coordinator --plan`): algorithm, sizes,
  // epochs per rung and the total number of epochs it will train.
  // It names the sampler (SamplerPlan()).
  nlohmann::ordered_json Plan() const;

  // State changes since the last call, oldest first.
  std::vector<StateChange> TakeStateChanges();

  // Exploits decided since the last call, oldest first (PBT only).
  std::vector<Exploit> TakeExploits();

  // Whether the checkpoint `trial` wrote after `epoch` epochs may still be
  // resumed, by the trial itself or (PBT) by a member that copies it. Only
  // schedulers that resume other trials' checkpoints (PBT) answer; the
  // others return nullopt, and each trainer keeps its trial's newest one.
  virtual std::optional<bool> KeepsCheckpoint(int64_t trial, int epoch) const {
    return std::nullopt;
  }

  // Jobs handed out and not yet ended (for re-queueing after a resume).
  std::vector<Job> RunningJobs() const;

  // Every trial the scheduler has started, by number.
  const TrialHistory& trials() const { return trials_; }

  // Converts a metric value into minimisation form for this study.
  double Score(double value) const;

 protected:
  // `sampler` proposes parameters; spec.budget.max_trials caps how many
  // trials start (0: no cap).
  Scheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler);

  // The algorithm's part of Plan().
  virtual nlohmann::ordered_json SchedulePlan() const = 0;

  // Policy hooks. NextJob hook: returns the next decision; may call
  // StartTrial() and ContinueTrial().
  virtual Decision DoNextJob() = 0;
  // The running job of `trial` reached its to_epoch.
  virtual void OnJobEnd(TrialRecord& trial) = 0;
  // `trial` failed; it may have been running or paused.
  virtual void OnTrialFailed(TrialRecord& trial) = 0;
  // Whether to prune `trial` now, after it reported `epoch` (median rule).
  virtual bool ShouldPrune(const TrialRecord& trial, int epoch) {
    return false;
  }
  // `trial` was pruned by ShouldPrune().
  virtual void OnTrialPruned(TrialRecord& trial) {}

  // Starts trial `number` with parameters from the sampler; nullopt if the
  // sampler is exhausted. Counts towards the trial budget.
  std::optional<Job> StartTrial(int64_t number, int bracket, int rung,
                                int to_epoch);
  // Hands out a job that continues a paused trial up to `to_epoch`.
  Job ContinueTrial(int64_t number, int rung, int to_epoch);
  // Hands out a job that continues paused trial `number` from `parent`'s
  // checkpoint at the trial's own epoch count, with `params` (PBT).
  Job ExploitTrial(int64_t number, int64_t parent, nlohmann::json params,
                   int to_epoch);
  // Records an exploit for TakeExploits().
  void AddExploit(Exploit exploit) { exploits_.push_back(std::move(exploit)); }
  // Records a state change of a known trial.
  void SetState(TrialRecord& trial, TrialState state);
  // True while the trial budget allows starting another trial.
  bool BudgetLeft() const { return max_trials_ == 0 || started_ < max_trials_; }
  bool AnyRunning() const;
  TrialRecord* Find(int64_t number);
  const Sampler& sampler() const { return *sampler_; }
  int64_t started() const { return started_; }

  Decision Run(const Job& job) const {
    return Decision{Decision::Type::kRun, job};
  }
  static Decision Wait() { return Decision{Decision::Type::kWait, {}}; }
  static Decision Done() { return Decision{Decision::Type::kDone, {}}; }

  const StudySpec spec_;

 private:
  std::unique_ptr<Sampler> sampler_;
  int64_t max_trials_;
  int64_t started_ = 0;
  int64_t running_ = 0;  // Trials in state kRunning.
  TrialHistory trials_;
  std::vector<StateChange> changes_;
  std::vector<Exploit> exploits_;
};

// Builds the scheduler that `spec.algorithm` names, with its sampler.
std::unique_ptr<Scheduler> NewScheduler(const StudySpec& spec);

// Applies `events` in order to `scheduler` (normally a new one).
void Replay(Scheduler& scheduler, const std::vector<SchedulerEvent>& events);

}  // namespace hpo

#endif  // HPO_SEARCH_SCHEDULER_H_
