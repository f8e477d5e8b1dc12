// Synchronous successive halving and Hyperband (Li et al. 2018, Algorithm 1).
//
// A bracket runs its rungs in order: every trial that entered a rung must
// finish it (or fail) before the best floor(n_i / eta) continue, from their
// checkpoints, into the next rung; the rest are pruned. Hyperband runs its
// brackets s = s_max..0; they are independent, so a worker that would wait for
// a rung of one bracket to complete starts work of the next bracket instead.
//
// Each bracket owns a fixed block of trial numbers (bracket s_max: 0..n-1,
// the next bracket from n on, ...). Parameters depend only on the trial
// number, and promotions only on values, so the trials, their parameters and
// every promotion are the same however many workers run and whatever order
// their results arrive in.
#include <algorithm>
#include <deque>
#include <set>

#include "search/hyperband_math.h"
#include "search/schedulers.h"

namespace hpo {
namespace {

class BracketScheduler : public Scheduler {
 public:
  BracketScheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
      : Scheduler(spec, std::move(sampler)) {
    const AlgorithmSpec& a = spec.algorithm;
    if (a.type == AlgorithmType::kSuccessiveHalving) {
      plans_.push_back(
          SuccessiveHalvingBracket(a.n, a.min_epochs, a.max_epochs, a.eta));
    } else {
      plans_ = HyperbandBrackets(a.min_epochs, a.max_epochs, a.eta);
    }
    int64_t first = 0;
    for (int iteration = 0; iteration < std::max(1, a.iterations);
         ++iteration) {
      for (const BracketPlan& plan : plans_) {
        Bracket b;
        b.plan = plan;
        b.index = static_cast<int>(brackets_.size());
        b.first_trial = first;
        first += plan.rungs[0].trials;
        brackets_.push_back(std::move(b));
      }
    }
  }

  nlohmann::ordered_json SchedulePlan() const override {
    const AlgorithmSpec& a = spec_.algorithm;
    // What runs under the trial budget: brackets take new trials in order.
    std::vector<BracketPlan> run;
    int64_t left =
        spec_.budget.max_trials > 0 ? spec_.budget.max_trials : INT64_MAX;
    int64_t unbudgeted = 0;
    for (const Bracket& b : brackets_) {
      const int64_t planned = b.plan.rungs[0].trials;
      unbudgeted += planned;
      const int64_t started = std::min(planned, left);
      left -= started;
      if (started > 0) run.push_back(CutBracket(b.plan, started, a.eta));
    }
    const bool cut =
        unbudgeted > spec_.budget.max_trials && spec_.budget.max_trials > 0;
    nlohmann::ordered_json plan;
    plan["algorithm"] = ToString(a.type);
    plan["eta"] = a.eta;
    plan["min_epochs"] = a.min_epochs;
    plan["max_epochs"] = a.max_epochs;
    int64_t total = 0;
    if (a.type == AlgorithmType::kSuccessiveHalving) {
      plan["n"] = run[0].rungs[0].trials;
      plan["rungs"] = RungsJson(run[0]);
      total = BracketEpochs(run[0]);
    } else {
      // One iteration's brackets, or every bracket that runs if the budget
      // cuts them short.
      if (a.iterations > 1 && !cut) plan["iterations"] = a.iterations;
      plan["brackets"] = nlohmann::ordered_json::array();
      const size_t listed = cut ? run.size() : plans_.size();
      for (size_t i = 0; i < listed; ++i) {
        nlohmann::ordered_json b;
        b["s"] = run[i].s;
        b["rungs"] = RungsJson(run[i]);
        plan["brackets"].push_back(b);
      }
      for (const BracketPlan& bracket : run) total += BracketEpochs(bracket);
    }
    plan["total_epochs"] = total;
    if (cut) {
      plan["budget_cut"] = {{"max_trials", spec_.budget.max_trials},
                            {"trials_without_budget", unbudgeted}};
    }
    return plan;
  }

 protected:
  Decision DoNextJob() override {
    // Promotions first, oldest bracket first.
    if (!with_promotions_.empty()) {
      Bracket& b = brackets_[static_cast<size_t>(*with_promotions_.begin())];
      int64_t trial = b.promotions.front();
      b.promotions.pop_front();
      if (b.promotions.empty()) with_promotions_.erase(b.index);
      return Run(ContinueTrial(
          trial, b.rung, b.plan.rungs[static_cast<size_t>(b.rung)].epochs));
    }
    // Then new trials, in the first bracket that still takes some. Brackets
    // close in order, so the search starts where the last one stopped.
    for (; first_open_ < brackets_.size(); ++first_open_) {
      Bracket& b = brackets_[first_open_];
      const int64_t slots = b.plan.rungs[0].trials;
      while (!b.closed && b.next_slot < slots) {
        const int64_t number = b.first_trial + b.next_slot++;
        std::optional<Job> job =
            StartTrial(number, b.index, 0, b.plan.rungs[0].epochs);
        if (!job) continue;  // The sampler has nothing for this slot.
        b.entered.push_back(number);
        if (b.next_slot == slots) b.closed = true;
        if (!BudgetLeft()) CloseAll();
        return Run(*job);
      }
      if (!b.closed) {
        b.closed = true;
        Advance(b);
        if (!with_promotions_.empty()) return DoNextJob();
      }
    }
    return done_ == brackets_.size() ? Done() : Wait();
  }

  void OnJobEnd(TrialRecord& trial) override {
    Bracket& b = brackets_[static_cast<size_t>(trial.bracket)];
    const bool last = b.rung + 1 == static_cast<int>(b.plan.rungs.size());
    SetState(trial, last ? TrialState::kComplete : TrialState::kPaused);
    b.results.emplace_back(trial.score.back(), trial.number);
    ++b.finished;
    Advance(b);
  }

  void OnTrialFailed(TrialRecord& trial) override {
    Bracket& b = brackets_[static_cast<size_t>(trial.bracket)];
    auto in = [](auto& list, int64_t t) {
      return std::find(list.begin(), list.end(), t) != list.end();
    };
    if (!in(b.entered, trial.number)) return;  // Not in the current rung.
    auto result = std::find_if(
        b.results.begin(), b.results.end(),
        [&trial](const auto& r) { return r.second == trial.number; });
    if (result != b.results.end()) {
      b.results.erase(result);  // Finished the rung, then failed.
    } else {
      auto queued =
          std::find(b.promotions.begin(), b.promotions.end(), trial.number);
      if (queued != b.promotions.end()) {
        b.promotions.erase(queued);
        if (b.promotions.empty()) with_promotions_.erase(b.index);
      }
      ++b.finished;
    }
    Advance(b);
  }

 private:
  struct Bracket {
    BracketPlan plan;
    int index = 0;
    int64_t first_trial = 0;  // Trial numbers first_trial.. are this bracket's.
    int64_t next_slot = 0;    // Next rung-0 slot to start.
    bool closed = false;      // Rung 0 takes no more trials.
    int rung = 0;             // The rung being trained.
    std::vector<int64_t> entered;  // Trials in the current rung.
    int64_t finished = 0;          // Of those: ended the rung or failed.
    std::vector<std::pair<double, int64_t>> results;  // (score, trial).
    std::deque<int64_t> promotions;  // Decided, not yet handed out.
    bool done = false;
  };

  static nlohmann::ordered_json RungsJson(const BracketPlan& bracket) {
    nlohmann::ordered_json rungs = nlohmann::ordered_json::array();
    for (const RungPlan& r : bracket.rungs) {
      nlohmann::ordered_json rung;
      rung["trials"] = r.trials;
      rung["epochs"] = r.epochs;
      rungs.push_back(rung);
    }
    return rungs;
  }

  // The trial budget is spent: no bracket starts another trial.
  void CloseAll() {
    for (Bracket& b : brackets_) {
      if (!b.closed) {
        b.closed = true;
        Advance(b);
      }
    }
  }

  // Resolves the current rung of `b` once every trial in it has finished.
  void Advance(Bracket& b) {
    if (b.done || !b.closed) return;
    if (b.finished < static_cast<int64_t>(b.entered.size())) return;
    // Ties: lower score first, then the lower trial number.
    std::sort(b.results.begin(), b.results.end());
    const size_t rung = static_cast<size_t>(b.rung);
    if (rung + 1 == b.plan.rungs.size()) {
      MarkDone(b);  // Its trials were marked complete as they finished.
      return;
    }
    const int64_t entered = static_cast<int64_t>(b.entered.size());
    int64_t keep =
        std::min(b.plan.rungs[rung + 1].trials, entered / spec_.algorithm.eta);
    if (keep == 0 && !b.results.empty()) keep = 1;
    keep = std::min<int64_t>(keep, static_cast<int64_t>(b.results.size()));
    b.entered.clear();
    for (size_t i = 0; i < b.results.size(); ++i) {
      const int64_t trial = b.results[i].second;
      if (static_cast<int64_t>(i) < keep) {
        b.promotions.push_back(trial);
        with_promotions_.insert(b.index);
        b.entered.push_back(trial);
      } else {
        SetState(*Find(trial), TrialState::kPruned);
      }
    }
    b.results.clear();
    b.finished = 0;
    ++b.rung;
    if (keep == 0) MarkDone(b);
  }

  void MarkDone(Bracket& b) {
    b.done = true;
    ++done_;
  }

  std::vector<BracketPlan> plans_;  // One iteration's brackets.
  std::vector<Bracket> brackets_;   // Every iteration's brackets, in order.
  std::set<int> with_promotions_;   // Brackets with promotions to hand out.
  size_t first_open_ = 0;           // Brackets before it take no new trials.
  size_t done_ = 0;                 // Brackets that are done.
};

}  // namespace

std::unique_ptr<Scheduler> NewBracketScheduler(
    const StudySpec& spec, std::unique_ptr<Sampler> sampler) {
  return std::make_unique<BracketScheduler>(spec, std::move(sampler));
}

}  // namespace hpo
