// What the learning samplers (TPE, BOHB) share: the search space, the seed,
// their settings, and random search for their start-up and random proposals.
#ifndef HPO_SEARCH_LEARNING_SAMPLER_H_
#define HPO_SEARCH_LEARNING_SAMPLER_H_

#include <memory>

#include "search/sampler.h"

namespace hpo {

class LearningSampler : public Sampler {
 public:
  std::optional<int64_t> Size() const override { return std::nullopt; }

 protected:
  LearningSampler(const SearchSpace& space, uint64_t seed,
                  const SamplerSpec& options)
      : space_(space),
        seed_(seed),
        options_(options),
        random_(NewRandomSampler(space, seed)) {}

  // Random search's proposal for trial `number`.
  nlohmann::json Random(int64_t number) const {
    return *random_->Sample(number);
  }

  const SearchSpace space_;
  const uint64_t seed_;
  const SamplerSpec options_;

 private:
  std::unique_ptr<Sampler> random_;
};

}  // namespace hpo

#endif  // HPO_SEARCH_LEARNING_SAMPLER_H_
