// Asynchronous successive halving (Li et al. 2020, Algorithm 2).
//
// When a worker is free: look at the rungs from the top down; in the first
// rung whose top 1/eta completed results contain a trial not yet promoted,
// promote the best such trial (it continues from its checkpoint to the next
// rung). Otherwise start a new trial in the bottom rung. No worker ever waits
// for a rung to fill.
//
// With several brackets (early-stopping rates s = 0..brackets-1), new trials
// go to the brackets in turn (trial number modulo the bracket count), and
// bracket s starts its trials at a rung s levels higher.
#include <algorithm>
#include <set>

#include "search/hyperband_math.h"
#include "search/schedulers.h"

namespace hpo {
namespace {

class AshaScheduler : public Scheduler {
 public:
  AshaScheduler(const StudySpec& spec, std::unique_ptr<Sampler> sampler)
      : Scheduler(spec, std::move(sampler)) {
    const AlgorithmSpec& a = spec.algorithm;
    const int s_max = HyperbandSMax(a.min_epochs, a.max_epochs, a.eta);
    for (int s = 0; s < a.brackets; ++s) {
      Bracket b;
      // Bracket s has s_max - s + 1 rungs ending at max_epochs.
      for (int k = 0; k <= s_max - s; ++k) {
        b.rung_epochs.push_back(RungEpochs(a.max_epochs, a.eta, s_max - s, k));
      }
      b.rungs.resize(b.rung_epochs.size());
      brackets_.push_back(std::move(b));
    }
  }

  nlohmann::ordered_json SchedulePlan() const override {
    const AlgorithmSpec& a = spec_.algorithm;
    nlohmann::ordered_json plan;
    plan["algorithm"] = "asha";
    plan["eta"] = a.eta;
    plan["min_epochs"] = a.min_epochs;
    plan["max_epochs"] = a.max_epochs;
    plan["max_trials"] = spec_.budget.max_trials;
    plan["brackets"] = nlohmann::ordered_json::array();
    // Expected shape if every rung promotes its top 1/eta: the new trials
    // split evenly over the brackets.
    double expected_epochs = 0;
    for (size_t s = 0; s < brackets_.size(); ++s) {
      const Bracket& b = brackets_[s];
      double trials =
          static_cast<double>(spec_.budget.max_trials) / brackets_.size();
      nlohmann::ordered_json bracket;
      bracket["s"] = s;
      bracket["rungs"] = nlohmann::ordered_json::array();
      int previous = 0;
      for (int epochs : b.rung_epochs) {
        nlohmann::ordered_json rung;
        rung["epochs"] = epochs;
        rung["expected_trials"] = static_cast<int64_t>(trials);
        bracket["rungs"].push_back(rung);
        expected_epochs += static_cast<int64_t>(trials) * (epochs - previous);
        previous = epochs;
        trials /= a.eta;
      }
      plan["brackets"].push_back(bracket);
    }
    plan["expected_total_epochs"] = static_cast<int64_t>(expected_epochs);
    plan["max_total_epochs"] =
        spec_.budget.max_trials * static_cast<int64_t>(a.max_epochs);
    return plan;
  }

 protected:
  Decision DoNextJob() override {
    for (Bracket& b : brackets_) {
      for (int k = static_cast<int>(b.rungs.size()) - 2; k >= 0; --k) {
        Rung& rung = b.rungs[static_cast<size_t>(k)];
        // The best unpromoted result is promotable if it is among the top
        // 1/eta of all results: O(log n), not a scan of the rung.
        const size_t top = rung.results.size() / spec_.algorithm.eta;
        if (top == 0 || rung.unpromoted.empty()) continue;
        const Entry best = *rung.unpromoted.begin();
        if (rung.results[top - 1] < best) continue;
        rung.unpromoted.erase(rung.unpromoted.begin());
        return Run(ContinueTrial(best.second, k + 1,
                                 b.rung_epochs[static_cast<size_t>(k + 1)]));
      }
    }
    if (BudgetLeft()) {
      const int64_t number = next_number_;
      const int bracket = static_cast<int>(number % brackets_.size());
      std::optional<Job> job =
          StartTrial(number, bracket, 0,
                     brackets_[static_cast<size_t>(bracket)].rung_epochs[0]);
      if (job) {
        ++next_number_;
        return Run(*job);
      }
    }
    if (AnyRunning()) return Wait();
    // Nothing to promote, nothing running, no budget: trials left in lower
    // rungs will never continue.
    for (const auto& [number, trial] : trials()) {
      if (trial.state == TrialState::kPaused) {
        SetState(*Find(number), TrialState::kPruned);
      }
    }
    return Done();
  }

  void OnJobEnd(TrialRecord& trial) override {
    Bracket& b = brackets_[static_cast<size_t>(trial.bracket)];
    const size_t k = static_cast<size_t>(trial.rung);
    if (k + 1 == b.rungs.size()) {
      SetState(trial, TrialState::kComplete);
    } else {
      SetState(trial, TrialState::kPaused);
    }
    Rung& rung = b.rungs[k];
    const Entry entry(trial.score.back(), trial.number);
    rung.results.insert(
        std::upper_bound(rung.results.begin(), rung.results.end(), entry),
        entry);
    if (k + 1 < b.rungs.size()) rung.unpromoted.insert(entry);
  }

  void OnTrialFailed(TrialRecord& trial) override {
    // A failed trial leaves every rung, so it never takes a promotion slot:
    // the next best result of its rung becomes promotable in its place.
    Bracket& b = brackets_[static_cast<size_t>(trial.bracket)];
    for (Rung& rung : b.rungs) {
      auto it = std::find_if(
          rung.results.begin(), rung.results.end(),
          [&trial](const Entry& r) { return r.second == trial.number; });
      if (it == rung.results.end()) continue;
      rung.unpromoted.erase(*it);
      rung.results.erase(it);
    }
  }

 private:
  using Entry = std::pair<double, int64_t>;  // (score, trial number).
  struct Rung {
    std::vector<Entry> results;  // Every result at this rung, best first.
    std::set<Entry> unpromoted;  // Those not yet promoted.
  };
  struct Bracket {
    std::vector<int> rung_epochs;
    std::vector<Rung> rungs;
  };

  std::vector<Bracket> brackets_;
  int64_t next_number_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> NewAshaScheduler(const StudySpec& spec,
                                            std::unique_ptr<Sampler> sampler) {
  return std::make_unique<AshaScheduler>(spec, std::move(sampler));
}

}  // namespace hpo
