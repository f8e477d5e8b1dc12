#include "search/scheduler.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "search/schedulers.h"

namespace hpo {

using nlohmann::json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const char* EventName(SchedulerEvent::Type type) {
  switch (type) {
    case SchedulerEvent::Type::kNextJob:
      return "next";
    case SchedulerEvent::Type::kEpoch:
      return "epoch";
    case SchedulerEvent::Type::kFailed:
      return "failed";
    case SchedulerEvent::Type::kRestart:
      return "restart";
  }
  return "?";
}

}  // namespace

json SchedulerEvent::ToJson() const {
  json out = {{"type", EventName(type)}};
  if (type != Type::kNextJob) out["trial"] = trial;
  if (type == Type::kEpoch) {
    out["epoch"] = epoch;
    out["value"] = std::isfinite(value) ? json(value) : json(nullptr);
  }
  return out;
}

SchedulerEvent SchedulerEvent::FromJson(const json& in) {
  SchedulerEvent event;
  auto bad = [&in](const std::string& why) {
    return BadInput("scheduler event " + in.dump() + ": " + why);
  };
  if (!in.is_object() || !in.contains("type") || !in["type"].is_string()) {
    throw bad("needs a string \"type\"");
  }
  const std::string type = in["type"].get<std::string>();
  if (type == "next") {
    event.type = Type::kNextJob;
    return event;
  }
  if (type == "epoch") {
    event.type = Type::kEpoch;
  } else if (type == "failed") {
    event.type = Type::kFailed;
  } else if (type == "restart") {
    event.type = Type::kRestart;
  } else {
    throw bad("unknown type");
  }
  if (!in.contains("trial") || !in["trial"].is_number_integer()) {
    throw bad("needs an integer \"trial\"");
  }
  event.trial = in["trial"].get<int64_t>();
  if (event.type == Type::kEpoch) {
    if (!in.contains("epoch") || !in["epoch"].is_number_integer() ||
        in["epoch"].get<int64_t>() < 1 ||
        in["epoch"].get<int64_t>() > 1000000) {
      throw bad("needs an integer \"epoch\" from 1 to 1000000");
    }
    event.epoch = static_cast<int>(in["epoch"].get<int64_t>());
    const json& v = in.value("value", json(nullptr));
    if (!v.is_null() && !v.is_number()) throw bad("\"value\" must be a number");
    event.value = v.is_null() ? std::nan("") : v.get<double>();
  }
  return event;
}

Scheduler::Scheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
    : spec_(spec),
      sampler_(std::move(sampler)),
      max_trials_(spec.budget.max_trials) {}

Scheduler::~Scheduler() = default;

double Scheduler::Score(double value) const {
  if (!std::isfinite(value)) return kInf;
  return spec_.objective.mode == ObjectiveMode::kMax ? -value : value;
}

Decision Scheduler::NextJob() { return DoNextJob(); }

Verdict Scheduler::OnEpoch(int64_t number, int epoch, double value) {
  TrialRecord* trial = Find(number);
  if (trial == nullptr || trial->state != TrialState::kRunning) {
    return Verdict::kStop;  // Stale: the trial is not training.
  }
  if (epoch <= trial->epochs) {
    // A duplicate report (a retried message): already counted.
    return epoch >= trial->job.to_epoch ? Verdict::kStop : Verdict::kContinue;
  }
  epoch = std::min(epoch, trial->job.to_epoch);
  trial->score.resize(static_cast<size_t>(epoch), kInf);
  trial->score[static_cast<size_t>(epoch - 1)] = Score(value);
  trial->epochs = epoch;
  if (epoch >= trial->job.to_epoch) {
    OnJobEnd(*trial);
    return Verdict::kStop;
  }
  if (ShouldPrune(*trial, epoch)) {
    SetState(*trial, TrialState::kPruned);
    OnTrialPruned(*trial);
    return Verdict::kStop;
  }
  return Verdict::kContinue;
}

void Scheduler::OnFailed(int64_t number) {
  TrialRecord* trial = Find(number);
  if (trial == nullptr || IsFinal(trial->state)) return;
  SetState(*trial, TrialState::kFailed);
  OnTrialFailed(*trial);
}

void Scheduler::OnRestart(int64_t number) {
  TrialRecord* trial = Find(number);
  if (trial == nullptr || trial->state != TrialState::kRunning) return;
  trial->epochs = trial->job.from_epoch;
  trial->score.resize(static_cast<size_t>(trial->epochs));
}

void Scheduler::Apply(const SchedulerEvent& event, Decision* decision,
                      Verdict* verdict) {
  switch (event.type) {
    case SchedulerEvent::Type::kNextJob: {
      Decision d = NextJob();
      if (decision != nullptr) *decision = d;
      break;
    }
    case SchedulerEvent::Type::kEpoch: {
      Verdict v = OnEpoch(event.trial, event.epoch, event.value);
      if (verdict != nullptr) *verdict = v;
      break;
    }
    case SchedulerEvent::Type::kFailed:
      OnFailed(event.trial);
      break;
    case SchedulerEvent::Type::kRestart:
      OnRestart(event.trial);
      break;
  }
}

std::vector<StateChange> Scheduler::TakeStateChanges() {
  std::vector<StateChange> out;
  out.swap(changes_);
  return out;
}

std::vector<Exploit> Scheduler::TakeExploits() {
  std::vector<Exploit> out;
  out.swap(exploits_);
  return out;
}

std::vector<Job> Scheduler::RunningJobs() const {
  std::vector<Job> jobs;
  for (const auto& [number, trial] : trials_) {
    if (trial.state == TrialState::kRunning) jobs.push_back(trial.job);
  }
  return jobs;
}

std::optional<Job> Scheduler::StartTrial(int64_t number, int bracket, int rung,
                                         int to_epoch) {
  std::optional<json> params = sampler_->Sample(number, trials_);
  if (!params) return std::nullopt;
  ++started_;
  TrialRecord& trial = trials_[number];
  trial.number = number;
  trial.params = std::move(*params);
  trial.bracket = bracket;
  trial.rung = rung;
  trial.job = Job{number, trial.params, 0, to_epoch, bracket, rung};
  ++running_;
  changes_.push_back({number, TrialState::kRunning, 0});
  return trial.job;
}

Job Scheduler::ContinueTrial(int64_t number, int rung, int to_epoch) {
  TrialRecord& trial = trials_.at(number);
  trial.rung = rung;
  trial.job =
      Job{number, trial.params, trial.epochs, to_epoch, trial.bracket, rung};
  SetState(trial, TrialState::kRunning);
  return trial.job;
}

Job Scheduler::ExploitTrial(int64_t number, int64_t parent, json params,
                            int to_epoch) {
  TrialRecord& trial = trials_.at(number);
  trial.params = std::move(params);
  trial.job = Job{number,        trial.params, trial.epochs, to_epoch,
                  trial.bracket, trial.rung,   parent};
  SetState(trial, TrialState::kRunning);
  return trial.job;
}

void Scheduler::SetState(TrialRecord& trial, TrialState state) {
  if (trial.state == state) return;
  running_ +=
      (state == TrialState::kRunning) - (trial.state == TrialState::kRunning);
  trial.state = state;
  changes_.push_back({trial.number, state, trial.epochs});
}

bool Scheduler::AnyRunning() const { return running_ > 0; }

TrialRecord* Scheduler::Find(int64_t number) {
  auto it = trials_.find(number);
  return it == trials_.end() ? nullptr : &it->second;
}

nlohmann::ordered_json Scheduler::Plan() const {
  nlohmann::ordered_json plan = SchedulePlan();
  plan["sampler"] = SamplerPlan(spec_);
  return plan;
}

std::unique_ptr<Scheduler> NewScheduler(const StudySpec& spec) {
  std::unique_ptr<Sampler> sampler = NewSampler(spec);
  switch (spec.algorithm.type) {
    case AlgorithmType::kRandom:
    case AlgorithmType::kGrid:
      return NewFifoScheduler(spec, std::move(sampler));
    case AlgorithmType::kSuccessiveHalving:
    case AlgorithmType::kHyperband:
      return NewBracketScheduler(spec, std::move(sampler));
    case AlgorithmType::kAsha:
      return NewAshaScheduler(spec, std::move(sampler));
    case AlgorithmType::kMedian:
      return NewMedianScheduler(spec, std::move(sampler));
    case AlgorithmType::kPbt:
      return NewPbtScheduler(spec, std::move(sampler));
  }
  return nullptr;
}

void Replay(Scheduler& scheduler, const std::vector<SchedulerEvent>& events) {
  for (const SchedulerEvent& event : events) scheduler.Apply(event);
}

}  // namespace hpo
