// Samplers propose the parameters of new trials.
#ifndef HPO_SEARCH_SAMPLER_H_
#define HPO_SEARCH_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/study_spec.h"
#include "search/search_space.h"
#include "search/trial_record.h"

namespace hpo {

// A sampler is a pure function: the parameters of trial `number` depend only
// on the sampler's seed, `number` and `history` (the trials started before
// it: their parameters, states, values per epoch and jobs, which say which
// are running), never on call order, timing or earlier calls. A scheduler's
// history is a function of the events it was given, so a resumed study
// (which replays its events) proposes exactly what an uninterrupted run
// would have proposed, whatever the sampler learns from.
class Sampler {
 public:
  virtual ~Sampler() = default;

  // The parameters of trial `number` (>= 0) as a JSON object holding the
  // active parameters only, or nullopt when the sampler has nothing more to
  // propose (a finished grid).
  virtual std::optional<nlohmann::json> Sample(
      int64_t number, const TrialHistory& history) const = 0;

  // The proposal for trial `number` with nothing observed yet.
  std::optional<nlohmann::json> Sample(int64_t number) const {
    return Sample(number, TrialHistory());
  }

  // How many distinct configurations there are, or nullopt if unbounded.
  virtual std::optional<int64_t> Size() const = 0;
};

// Independent uniform draws per parameter (log-uniform for log parameters).
// Each parameter draws from its own stream keyed by (seed, number, name), so
// adding a parameter to a study does not change the others' values. Ignores
// the history.
std::unique_ptr<Sampler> NewRandomSampler(const SearchSpace& space,
                                          uint64_t seed);

// The value random search draws for `param` in trial `number`.
nlohmann::json RandomValue(const ParamSpec& param, uint64_t seed,
                           int64_t number);

// The cartesian product of every parameter's grid values, in order (the last
// parameter varies fastest). Points that differ only in inactive conditional
// parameters are merged. With `shuffle`, the order is a seeded permutation.
std::unique_ptr<Sampler> NewGridSampler(const SearchSpace& space, uint64_t seed,
                                        bool shuffle);

// The Tree-structured Parzen Estimator (Bergstra et al. 2011) with Optuna
// 3.1's semantics and defaults; see tpe_sampler.cc and README.md.
std::unique_ptr<Sampler> NewTpeSampler(const SearchSpace& space, uint64_t seed,
                                       const SamplerSpec& options);

// BOHB's model-based proposals (Falkner et al. 2018; HpBandSter): one
// multivariate KDE per budget; see bohb_sampler.cc and README.md.
std::unique_ptr<Sampler> NewBohbSampler(const SearchSpace& space, uint64_t seed,
                                        const SamplerSpec& options);

// The sampler a study asks for (`algorithm.sampler`), running the study's
// `enqueue` list first: the i-th trial started gets enqueue[i], its missing
// parameters drawn at random.
std::unique_ptr<Sampler> NewSampler(const StudySpec& spec);

// The sampler's settings as --plan and the studies listing show them.
nlohmann::ordered_json SamplerPlan(const StudySpec& spec);

}  // namespace hpo

#endif  // HPO_SEARCH_SAMPLER_H_
