#include "search/sampler.h"

namespace hpo {
namespace {

using nlohmann::json;

// Runs the study's `enqueue` list first: the i-th trial started (i = the
// number of trials before it) gets enqueue[i], with every active parameter
// it leaves out drawn as random search would for that trial; later trials
// are the inner sampler's.
class EnqueueSampler : public Sampler {
 public:
  EnqueueSampler(const SearchSpace& space, uint64_t seed,
                 std::vector<json> enqueue, std::unique_ptr<Sampler> inner)
      : space_(space),
        seed_(seed),
        enqueue_(std::move(enqueue)),
        inner_(std::move(inner)) {}

  std::optional<json> Sample(int64_t number,
                             const TrialHistory& history) const override {
    if (history.size() >= enqueue_.size()) {
      return inner_->Sample(number, history);
    }
    const json& given = enqueue_[history.size()];
    json config = json::object();
    for (const ParamSpec& p : space_.ordered()) {
      if (!SearchSpace::IsActive(p, config)) continue;
      auto it = given.find(p.name);
      config[p.name] = it != given.end() ? *it : RandomValue(p, seed_, number);
    }
    return config;
  }

  std::optional<int64_t> Size() const override {
    std::optional<int64_t> inner = inner_->Size();
    if (!inner) return std::nullopt;
    return *inner + static_cast<int64_t>(enqueue_.size());
  }

 private:
  SearchSpace space_;
  uint64_t seed_;
  std::vector<json> enqueue_;
  std::unique_ptr<Sampler> inner_;
};

}  // namespace

std::unique_ptr<Sampler> NewSampler(const StudySpec& spec) {
  SearchSpace space(spec.search_space);
  const SamplerSpec& s = spec.algorithm.sampler;
  std::unique_ptr<Sampler> sampler;
  switch (s.type) {
    case SamplerType::kRandom:
      sampler = NewRandomSampler(space, spec.seed);
      break;
    case SamplerType::kGrid:
      sampler = NewGridSampler(space, spec.seed, false);
      break;
    case SamplerType::kTpe:
      sampler = NewTpeSampler(space, spec.seed, s);
      break;
    case SamplerType::kBohb:
      sampler = NewBohbSampler(space, spec.seed, s);
      break;
  }
  if (spec.enqueue.empty()) return sampler;
  return std::make_unique<EnqueueSampler>(space, spec.seed, spec.enqueue,
                                          std::move(sampler));
}

nlohmann::ordered_json SamplerPlan(const StudySpec& spec) {
  const SamplerSpec& s = spec.algorithm.sampler;
  nlohmann::ordered_json plan;
  plan["type"] = ToString(s.type);
  if (s.type == SamplerType::kTpe) {
    plan["n_startup_trials"] = s.n_startup_trials;
    plan["n_ei_candidates"] = s.n_ei_candidates;
    plan["prior_weight"] = s.prior_weight;
    plan["consider_magic_clip"] = s.consider_magic_clip;
    plan["consider_endpoints"] = s.consider_endpoints;
    plan["multivariate"] = s.multivariate;
    plan["gamma"] = s.gamma;
    plan["gamma_max"] = s.gamma_max;
    plan["observations"] = ToString(s.observations);
    plan["constant_liar"] = s.constant_liar;
  }
  if (s.type == SamplerType::kBohb) {
    const int d = static_cast<int>(spec.search_space.params.size());
    plan["top_n_percent"] = s.top_n_percent;
    plan["min_points_in_model"] =
        s.min_points_in_model > 0 ? s.min_points_in_model : d + 2;
    plan["min_bandwidth"] = s.min_bandwidth;
    plan["random_fraction"] = s.random_fraction;
    plan["num_samples"] = s.num_samples;
    plan["bandwidth_factor"] = s.bandwidth_factor;
    plan["constant_liar"] = s.constant_liar;
  }
  if (!spec.enqueue.empty()) {
    plan["enqueued"] = static_cast<int64_t>(spec.enqueue.size());
  }
  return plan;
}

}  // namespace hpo
