#include "common/random.h"
#include "search/sampler.h"

namespace hpo {
namespace {

class RandomSampler : public Sampler {
 public:
  RandomSampler(const SearchSpace& space, uint64_t seed)
      : space_(space), seed_(seed) {}

  std::optional<nlohmann::json> Sample(
      int64_t number, const TrialHistory& /*history*/) const override {
    nlohmann::json config = nlohmann::json::object();
    for (const ParamSpec& p : space_.ordered()) {
      if (!SearchSpace::IsActive(p, config)) continue;
      config[p.name] = RandomValue(p, seed_, number);
    }
    return config;
  }

  std::optional<int64_t> Size() const override { return std::nullopt; }

 private:
  SearchSpace space_;
  uint64_t seed_;
};

}  // namespace

nlohmann::json RandomValue(const ParamSpec& param, uint64_t seed,
                           int64_t number) {
  Rng rng(SeedOf(seed, static_cast<uint64_t>(number), HashString(param.name)));
  return SearchSpace::ValueAt(param, rng.Uniform());
}

std::unique_ptr<Sampler> NewRandomSampler(const SearchSpace& space,
                                          uint64_t seed) {
  return std::make_unique<RandomSampler>(space, seed);
}

}  // namespace hpo
