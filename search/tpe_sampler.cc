// The Tree-structured Parzen Estimator (Bergstra et al. 2011), with the rules
// and defaults of Optuna 3.1's TPESampler (read in Debian's python3-optuna;
// this is hpo's own code):
//
// - Until n_startup_trials trials have been observed, proposals are random
//   search's (the same values random search would propose for the trial).
// - Then the observations are ranked (observations.h): n_below =
//   min(ceil(gamma n), gamma_max) of them form the good set, the rest the bad
//   set; each set weights its members by DefaultWeights() in trial order.
// - Univariate (the default): every parameter, in dependency order, gets a
//   Parzen estimator l(x) over the good set and g(x) over the bad set, using
//   only the trials where the parameter is active; n_ei_candidates draws from
//   l(x), the one with the largest log l(x) - log g(x) wins. Each parameter
//   draws from its own stream, keyed by (seed, trial number, name).
// - Multivariate: the parameters without a `when` are drawn jointly from
//   multivariate estimators (Scott's rule bandwidths); conditional parameters
//   stay univariate, as in Optuna.
//
// Where hpo differs, on purpose: failed trials count as the worst value
// (Optuna leaves them out), and running trials without a value count as the
// worst value too (Optuna's constant_liar option, on by default here), so
// that many workers proposing at once spread out.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/random.h"
#include "search/learning_sampler.h"
#include "search/observations.h"
#include "search/parzen_estimator.h"

namespace hpo {
namespace {

using nlohmann::json;

constexpr uint64_t kTpeKey = 0x747065;  // "tpe"

class TpeSampler : public LearningSampler {
 public:
  TpeSampler(const SearchSpace& space, uint64_t seed, const SamplerSpec& o)
      : LearningSampler(space, seed, o) {
    parzen_.prior_weight = o.prior_weight;
    parzen_.magic_clip = o.consider_magic_clip;
    parzen_.endpoints = o.consider_endpoints;
  }

  std::optional<json> Sample(int64_t number,
                             const TrialHistory& history) const override {
    std::vector<Observation> observations;
    if (options_.observations == TpeObservations::kFurthest) {
      observations = FurthestObservations(history, options_.constant_liar);
    } else {
      const int budget =
          LargestBudget(history, std::max(1, options_.n_startup_trials));
      if (budget > 0) {
        observations =
            BudgetObservations(history, budget, options_.constant_liar);
      }
    }
    const int n = CountObserved(observations);
    if (n < options_.n_startup_trials || n == 0) {
      return Random(number);
    }
    const int n_below = std::min(
        static_cast<int>(std::ceil(options_.gamma * n)), options_.gamma_max);
    std::vector<Observation> below;
    std::vector<Observation> above;
    SplitObservations(observations, n_below, &below, &above);

    json config = json::object();
    if (options_.multivariate) {
      std::vector<const ParamSpec*> joint;
      for (const ParamSpec& p : space_.ordered()) {
        if (p.when.empty()) joint.push_back(&p);
      }
      if (!joint.empty()) {
        Rng rng(SeedOf(seed_, static_cast<uint64_t>(number), kTpeKey, 1));
        json values = Propose(joint, below, above, true, rng);
        for (const auto& item : values.items())
          config[item.key()] = item.value();
      }
    }
    for (const ParamSpec& p : space_.ordered()) {
      if (config.contains(p.name) || !SearchSpace::IsActive(p, config)) {
        continue;
      }
      Rng rng(SeedOf(seed_, static_cast<uint64_t>(number), HashString(p.name),
                     kTpeKey));
      config[p.name] = Propose({&p}, below, above, false, rng)[p.name];
    }
    return config;
  }

 private:
  // The candidate with the best l(x) / g(x) for `params`, from the trials
  // in which all of them are active.
  json Propose(const std::vector<const ParamSpec*>& params,
               const std::vector<Observation>& below,
               const std::vector<Observation>& above, bool multivariate,
               Rng& rng) const {
    std::vector<ParzenDim> dims;
    for (const ParamSpec* p : params) dims.emplace_back(*p);
    ParzenOptions options = parzen_;
    options.multivariate = multivariate;
    ParzenEstimator l(dims, Coordinates(dims, below), options);
    ParzenEstimator g(dims, Coordinates(dims, above), options);
    std::vector<std::vector<double>> candidates =
        l.Sample(rng, options_.n_ei_candidates);
    size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < candidates.size(); ++i) {
      const double score = l.LogPdf(candidates[i]) - g.LogPdf(candidates[i]);
      if (score > best_score) {  // The first of equal scores, as argmax.
        best_score = score;
        best = i;
      }
    }
    json out = json::object();
    for (size_t j = 0; j < dims.size(); ++j) {
      out[params[j]->name] = dims[j].ToValue(candidates[best][j]);
    }
    return out;
  }

  static std::vector<std::vector<double>> Coordinates(
      const std::vector<ParzenDim>& dims,
      const std::vector<Observation>& observations) {
    std::vector<std::vector<double>> out;
    for (const Observation& o : observations) {
      std::vector<double> x;
      for (const ParzenDim& dim : dims) {
        auto it = o.params->find(dim.param->name);
        if (it == o.params->end()) break;
        x.push_back(dim.ToInternal(*it));
      }
      if (x.size() == dims.size()) out.push_back(std::move(x));
    }
    return out;
  }

  ParzenOptions parzen_;
};

}  // namespace

std::unique_ptr<Sampler> NewTpeSampler(const SearchSpace& space, uint64_t seed,
                                       const SamplerSpec& options) {
  return std::make_unique<TpeSampler>(space, seed, options);
}

}  // namespace hpo
