// Samplers propose the parameters of new trials.
#ifndef HPO_SEARCH_SAMPLER_H_
#define HPO_SEARCH_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "search/search_space.h"

namespace hpo {

// A sampler is deterministic: the parameters of trial `number` depend only on
// the sampler's seed and `number`, never on call order or timing. That is what
// makes a resumed study (which replays its history) propose exactly what an
// uninterrupted run would have proposed. Not thread safe.
class Sampler {
 public:
  virtual ~Sampler() = default;

  // The parameters of trial `number` (>= 0) as a JSON object holding the
  // active parameters only, or nullopt when the sampler has nothing more to
  // propose (a finished grid).
  virtual std::optional<nlohmann::json> Sample(int64_t number) = 0;

  // How many distinct configurations there are, or nullopt if unbounded.
  virtual std::optional<int64_t> Size() const = 0;
};

// Independent uniform draws per parameter (log-uniform for log parameters).
// Each parameter draws from its own stream keyed by (seed, number, name), so
// adding a parameter to a study does not change the others' values.
std::unique_ptr<Sampler> NewRandomSampler(const SearchSpace& space,
                                          uint64_t seed);

// The cartesian product of every parameter's grid values, in order (the last
// parameter varies fastest). Points that differ only in inactive conditional
// parameters are merged. With `shuffle`, the order is a seeded permutation.
std::unique_ptr<Sampler> NewGridSampler(const SearchSpace& space, uint64_t seed,
                                        bool shuffle);

}  // namespace hpo

#endif  // HPO_SEARCH_SAMPLER_H_
