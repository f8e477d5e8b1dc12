#include "search/simulator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>

namespace hpo {

using nlohmann::json;

json ToJson(const Decision& d) {
  switch (d.type) {
    case Decision::Type::kWait:
      return "wait";
    case Decision::Type::kDone:
      return "done";
    case Decision::Type::kRun:
      break;
  }
  json out = {{"trial", d.job.trial}, {"from", d.job.from_epoch},
              {"to", d.job.to_epoch}, {"bracket", d.job.bracket},
              {"rung", d.job.rung},   {"params", d.job.params}};
  if (d.job.source >= 0) out["source"] = d.job.source;
  return out;
}

json ToJson(Verdict v) { return v == Verdict::kContinue ? "continue" : "stop"; }

std::optional<SimPoint> SimResult::Reach(double target,
                                         ObjectiveMode mode) const {
  for (const SimPoint& p : progress) {
    bool reached =
        mode == ObjectiveMode::kMax ? p.best >= target : p.best <= target;
    if (reached) return p;
  }
  return std::nullopt;
}

namespace {

struct Worker {
  bool running = false;
  bool retired = false;
  Job job;
  int epoch = 0;     // Epochs the current job's trial has completed.
  CurveState state;  // What the trial has learnt (annealing curves).
};

// An epoch that ends at `time` on `worker`; seq breaks ties in time.
struct EpochEnd {
  double time;
  int64_t seq;
  int worker;
  bool operator>(const EpochEnd& o) const {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

class Simulation {
 public:
  Simulation(Scheduler& scheduler, const SyntheticCurves& curves,
             const StudySpec& spec, const SimOptions& options)
      : scheduler_(scheduler),
        curves_(curves),
        spec_(spec),
        options_(options),
        workers_(static_cast<size_t>(options.workers)) {
    result_.best = std::nan("");
  }

  SimResult Run() {
    OfferWork();
    while (!queue_.empty()) {
      if (result_.epochs >= options_.max_epochs_total) {
        result_.cut_short = true;
        break;
      }
      EpochEnd end = queue_.top();
      if (options_.time_limit > 0 && end.time > options_.time_limit) {
        now_ = options_.time_limit;
        time_limited_ = true;
        break;
      }
      queue_.pop();
      now_ = end.time;
      if (FinishEpoch(workers_[static_cast<size_t>(end.worker)], end.worker)) {
        OfferWork();
      }
    }
    // Nothing is running: the scheduler must now say done.
    for (const Worker& w : workers_) {
      if (!w.retired && !time_limited_ && !result_.cut_short) {
        result_.stalled = true;
      }
    }
    result_.makespan = now_;
    result_.utilisation =
        now_ > 0 ? result_.busy / (options_.workers * now_) : 0;
    for (const auto& [number, trial] : scheduler_.trials()) {
      ++result_.trials;
      result_.completed += trial.state == TrialState::kComplete;
      result_.pruned += trial.state == TrialState::kPruned;
      result_.failed += trial.state == TrialState::kFailed;
    }
    return result_;
  }

 private:
  // Hands work to every idle worker, in worker order, until the scheduler
  // says wait or done.
  void OfferWork() {
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker& w = workers_[i];
      if (w.running || w.retired) continue;
      Decision d = scheduler_.NextJob();
      Record({{"type", "next"}}, ToJson(d));
      if (d.type == Decision::Type::kDone) {
        w.retired = true;
        continue;
      }
      if (d.type == Decision::Type::kWait) break;  // Others would wait too.
      w.running = true;
      w.job = d.job;
      w.epoch = d.job.from_epoch;
      // The job resumes the checkpoint after from_epoch epochs: its own,
      // or (PBT) that of the member it copies.
      w.state = CurveState{};
      if (d.job.from_epoch > 0) {
        const int64_t source = d.job.source < 0 ? d.job.trial : d.job.source;
        auto it = checkpoints_.find({source, d.job.from_epoch});
        if (it != checkpoints_.end()) w.state = it->second;
      }
      ScheduleEpoch(w, static_cast<int>(i));
    }
  }

  void ScheduleEpoch(const Worker& w, int index) {
    double seconds = curves_.At(w.job.params, w.epoch + 1).epoch_seconds;
    queue_.push({now_ + seconds, seq_++, index});
    double end = now_ + seconds;
    if (options_.time_limit > 0) end = std::min(end, options_.time_limit);
    result_.busy += std::max(0.0, end - now_);
  }

  // Returns true if the worker became free.
  bool FinishEpoch(Worker& w, int index) {
    ++w.epoch;
    ++result_.epochs;
    EpochMetrics m = curves_.Train(w.job.params, w.epoch, w.state);
    if (m.diverged) {
      scheduler_.OnFailed(w.job.trial);
      Record(
          SchedulerEvent{SchedulerEvent::Type::kFailed, w.job.trial}.ToJson(),
          nullptr);
      w.running = false;
      return true;
    }
    const double value = m.Get(spec_.objective.metric);
    Verdict v = scheduler_.OnEpoch(w.job.trial, w.epoch, value);
    Record(SchedulerEvent{SchedulerEvent::Type::kEpoch, w.job.trial, w.epoch,
                          value}
               .ToJson(),
           ToJson(v));
    if (w.epoch == spec_.algorithm.max_epochs) NoteFinal(w.job.trial, value);
    if (v == Verdict::kContinue) {
      ScheduleEpoch(w, index);
      return false;
    }
    if (w.epoch == w.job.to_epoch)
      checkpoints_[{w.job.trial, w.epoch}] = w.state;
    w.running = false;
    return true;
  }

  void NoteFinal(int64_t trial, double value) {
    if (!std::isfinite(value)) return;
    bool better = std::isnan(result_.best) ||
                  scheduler_.Score(value) < scheduler_.Score(result_.best);
    if (!better) return;
    result_.best = value;
    result_.best_trial = trial;
    result_.progress.push_back({now_, result_.epochs, value});
  }

  void Record(const json& event, const json& output) {
    result_.events.push_back(SchedulerEvent::FromJson(event));
    result_.outputs.push_back(output);
  }

  Scheduler& scheduler_;
  const SyntheticCurves& curves_;
  const StudySpec& spec_;
  SimOptions options_;
  std::vector<Worker> workers_;
  std::priority_queue<EpochEnd, std::vector<EpochEnd>, std::greater<>> queue_;
  // Each job's last epoch (trial, epoch) -> state, as trainers checkpoint.
  std::map<std::pair<int64_t, int>, CurveState> checkpoints_;
  double now_ = 0;
  bool time_limited_ = false;
  int64_t seq_ = 0;
  SimResult result_;
};

}  // namespace

SimResult Simulate(Scheduler& scheduler, const SyntheticCurves& curves,
                   const StudySpec& spec, const SimOptions& options) {
  return Simulation(scheduler, curves, spec, options).Run();
}

}  // namespace hpo
