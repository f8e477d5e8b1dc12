#include "search/pbt.h"

#include <algorithm>
#include <cmath>

namespace hpo {

using nlohmann::json;

PbtQuantiles RankPbt(std::vector<std::pair<double, int64_t>> members,
                     double quantile) {
  PbtQuantiles out;
  const size_t n = members.size();
  if (n < 2) return out;
  std::sort(members.begin(), members.end());
  size_t q = static_cast<size_t>(std::ceil(n * quantile - 1e-9));
  q = std::max<size_t>(1, std::min(q, n / 2));
  for (size_t i = 0; i < q; ++i) out.top.push_back(members[i].second);
  for (size_t i = n - q; i < n; ++i) out.bottom.push_back(members[i].second);
  return out;
}

namespace {

json Perturb(const ParamSpec& p, const json& value, const AlgorithmSpec& a,
             Rng& rng) {
  if (rng.Uniform() < a.resample_probability || value.is_null()) {
    return SearchSpace::ValueAt(p, rng.Uniform());
  }
  if (p.type == ParamType::kChoice) {
    const int64_t n = static_cast<int64_t>(p.values.size());
    auto it = std::find(p.values.begin(), p.values.end(), value);
    if (n < 2 || it == p.values.end()) return value;
    const int64_t index = it - p.values.begin();
    int64_t next = index + (rng.Below(2) == 0 ? -1 : 1);
    if (next < 0) next = 1;
    if (next >= n) next = n - 2;
    return p.values[static_cast<size_t>(next)];
  }
  const double factor = a.perturb_factors[static_cast<size_t>(
      rng.Below(a.perturb_factors.size()))];
  const double v = value.get<double>() * factor;
  if (p.type == ParamType::kInt) {
    const int64_t low = static_cast<int64_t>(p.low);
    const int64_t high = static_cast<int64_t>(p.high);
    int64_t k = std::llround((v - low) / static_cast<double>(p.step));
    int64_t out = low + k * p.step;
    while (out > high) out -= p.step;
    return std::clamp(out, low, high);
  }
  return std::clamp(v, p.low, p.high);
}

}  // namespace

json PbtExplore(const SearchSpace& space, const AlgorithmSpec& a,
                const json& parent, Rng& rng) {
  json out = parent;
  for (const ParamSpec& p : space.ordered()) {
    const bool listed =
        std::find(a.mutable_params.begin(), a.mutable_params.end(), p.name) !=
        a.mutable_params.end();
    const bool active = SearchSpace::IsActive(p, out);
    if (!active) {
      out.erase(p.name);
    } else if (!out.contains(p.name)) {
      out[p.name] = SearchSpace::ValueAt(p, rng.Uniform());
    } else if (listed) {
      out[p.name] = Perturb(p, out[p.name], a, rng);
    }
  }
  return out;
}

}  // namespace hpo
