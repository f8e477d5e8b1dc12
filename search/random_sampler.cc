#include "search/rng.h"
#include "search/sampler.h"

namespace hpo {
namespace {

class RandomSampler : public Sampler {
 public:
  RandomSampler(const SearchSpace& space, uint64_t seed)
      : space_(space), seed_(seed) {}

  std::optional<nlohmann::json> Sample(int64_t number) override {
    nlohmann::json config = nlohmann::json::object();
    for (const ParamSpec& p : space_.ordered()) {
      if (!SearchSpace::IsActive(p, config)) continue;
      Rng rng(SeedOf(seed_, static_cast<uint64_t>(number), HashString(p.name)));
      config[p.name] = SearchSpace::ValueAt(p, rng.Uniform());
    }
    return config;
  }

  std::optional<int64_t> Size() const override { return std::nullopt; }

 private:
  SearchSpace space_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Sampler> NewRandomSampler(const SearchSpace& space,
                                          uint64_t seed) {
  return std::make_unique<RandomSampler>(space, seed);
}

}  // namespace hpo
