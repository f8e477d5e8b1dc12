// Population-based training (Jaderberg et al. 2017), asynchronous as in Ray
// Tune's PopulationBasedTraining: no member waits for another.
//
// `population` members start with parameters from the sampler, all before
// any trains a second interval; then free workers take the paused members
// in the order they paused. Each job
// trains one member for `interval` epochs (the last one may be shorter), to
// the next boundary. When a member reaches boundary b before max_epochs, it
// is ranked against every member that has reached b (by its value after b
// epochs; failed members are out): in the bottom quantile, it exploits a
// member of the top quantile chosen at random, resuming that member's
// checkpoint from boundary b with its parameters explored (PbtExplore);
// otherwise it continues with its own. Comparing values at the same epoch
// keeps a member from being judged against one that has simply trained
// longer; the first member to reach a boundary has no one to compare with
// and continues.
//
// Every random draw comes from (study seed, member, boundary), so replaying
// the event log reproduces every decision.
#include <algorithm>
#include <deque>

#include "search/pbt.h"
#include "search/schedulers.h"
#include "search/search_space.h"

namespace hpo {
namespace {

class PbtScheduler : public Scheduler {
 public:
  PbtScheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
      : Scheduler(spec, std::move(sampler)), space_(spec.search_space) {}

  nlohmann::ordered_json SchedulePlan() const override {
    const AlgorithmSpec& a = spec_.algorithm;
    nlohmann::ordered_json plan;
    plan["algorithm"] = "pbt";
    plan["population"] = a.population;
    plan["trials"] = a.population;
    plan["max_epochs"] = a.max_epochs;
    plan["interval"] = a.interval;
    nlohmann::ordered_json boundaries = nlohmann::ordered_json::array();
    for (int b = a.interval; b < a.max_epochs; b += a.interval) {
      boundaries.push_back(b);
    }
    plan["boundaries"] = boundaries;
    plan["quantile"] = a.quantile;
    plan["resample_probability"] = a.resample_probability;
    plan["perturb_factors"] = a.perturb_factors;
    plan["mutable"] = a.mutable_params;
    plan["expected_total_epochs"] =
        static_cast<int64_t>(a.population) * a.max_epochs;
    plan["max_total_epochs"] =
        static_cast<int64_t>(a.population) * a.max_epochs;
    return plan;
  }

  std::optional<bool> KeepsCheckpoint(int64_t number,
                                      int epoch) const override {
    auto it = trials().find(number);
    if (it == trials().end()) return false;
    // The member's newest: it resumes from it (or it is a final result).
    const bool failed = it->second.state == TrialState::kFailed;
    if (it->second.epochs == epoch && !failed) return true;
    // Members yet to start will rank at every boundary.
    if (!failed && started() < spec_.algorithm.population) return true;
    // A decided job not handed out yet starts from it.
    for (const Pending& p : pending_) {
      const int64_t source = p.parent < 0 ? p.trial : p.parent;
      if (source == number && p.from_epoch == epoch) return true;
    }
    for (const auto& [n, member] : trials()) {
      if (IsFinal(member.state)) continue;
      // A running job that starts from it may be restarted from it.
      const Job& job = member.job;
      const int64_t source = job.source < 0 ? n : job.source;
      if (member.state == TrialState::kRunning && source == number &&
          job.from_epoch == epoch) {
        return true;
      }
      // A member yet to decide at this boundary may copy it.
      auto d = decided_.find(n);
      if (!failed && (d == decided_.end() ? 0 : d->second) < epoch) {
        return true;
      }
    }
    return false;
  }

 protected:
  Decision DoNextJob() override {
    // The whole population starts before anyone trains a second interval:
    // with fewer workers than members, members then take turns (the one
    // that has waited longest goes next) and reach each boundary together,
    // rather than a few running to the end before the rest start.
    if (started() < spec_.algorithm.population && BudgetLeft()) {
      std::optional<Job> job = StartTrial(next_number_, 0, 0, NextBoundary(0));
      if (job) {
        ++next_number_;
        return Run(*job);
      }
    }
    while (!pending_.empty()) {
      const Pending p = pending_.front();
      pending_.pop_front();
      TrialRecord* trial = Find(p.trial);
      if (trial == nullptr || trial->state != TrialState::kPaused) continue;
      if (p.parent >= 0) {
        return Run(ExploitTrial(p.trial, p.parent, p.params, p.to_epoch));
      }
      return Run(ContinueTrial(p.trial, 0, p.to_epoch));
    }
    if (AnyRunning()) return Wait();
    return Done();
  }

  void OnJobEnd(TrialRecord& trial) override {
    const AlgorithmSpec& a = spec_.algorithm;
    const int b = trial.epochs;
    decided_[trial.number] = b;
    // What the member trained with up to b: a later exploit of its own
    // replaces trial.params, and a member copying it at b takes these.
    params_at_[{trial.number, b}] = trial.params;
    if (b >= a.max_epochs) {
      SetState(trial, TrialState::kComplete);
      return;
    }
    SetState(trial, TrialState::kPaused);
    Pending next{trial.number, -1, nlohmann::json(), b, NextBoundary(b)};
    std::vector<std::pair<double, int64_t>> members;
    for (const auto& [n, member] : trials()) {
      if (member.state == TrialState::kFailed || member.epochs < b ||
          static_cast<int>(member.score.size()) < b) {
        continue;
      }
      members.emplace_back(member.score[static_cast<size_t>(b - 1)], n);
    }
    const PbtQuantiles q = RankPbt(members, a.quantile);
    const bool bottom = std::find(q.bottom.begin(), q.bottom.end(),
                                  trial.number) != q.bottom.end();
    if (bottom && !q.top.empty()) {
      Rng rng(SeedOf(spec_.seed, HashString("pbt"),
                     static_cast<uint64_t>(trial.number),
                     static_cast<uint64_t>(b)));
      const int64_t parent =
          q.top[static_cast<size_t>(rng.Below(q.top.size()))];
      next.parent = parent;
      auto at = params_at_.find({parent, b});
      next.params = PbtExplore(
          space_, a,
          at != params_at_.end() ? at->second : trials().at(parent).params,
          rng);
      AddExploit({trial.number, b, parent, b, trial.params, next.params});
    }
    pending_.push_back(std::move(next));
  }

  void OnTrialFailed(TrialRecord& trial) override {
    // A failed member leaves the population: it never ranks again, and
    // its pending job (if paused) is dropped by DoNextJob.
    (void)trial;
  }

 private:
  struct Pending {
    int64_t trial;
    int64_t parent;  // -1: continue with its own parameters.
    nlohmann::json params;
    int from_epoch;
    int to_epoch;
  };

  int NextBoundary(int epoch) const {
    const AlgorithmSpec& a = spec_.algorithm;
    return std::min(a.max_epochs, (epoch / a.interval + 1) * a.interval);
  }

  SearchSpace space_;
  std::deque<Pending> pending_;
  std::map<int64_t, int> decided_;  // Last boundary each member ranked at.
  // (member, boundary) -> the parameters its job ending there ran with.
  std::map<std::pair<int64_t, int>, nlohmann::json> params_at_;
  int64_t next_number_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> NewPbtScheduler(const StudySpec& spec,
                                           std::unique_ptr<Sampler> sampler) {
  return std::make_unique<PbtScheduler>(spec, std::move(sampler));
}

}  // namespace hpo
