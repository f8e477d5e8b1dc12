#include <algorithm>
#include <set>

#include "common/random.h"
#include "search/sampler.h"

namespace hpo {
namespace {

using nlohmann::json;

class GridSampler : public Sampler {
 public:
  GridSampler(const SearchSpace& space, uint64_t seed, bool shuffle) {
    // Enumerate in file (name) order so the last parameter varies fastest;
    // activity is decided afterwards in dependency order.
    std::vector<const ParamSpec*> params;
    std::vector<std::vector<json>> values;
    for (const ParamSpec& p : space.ordered()) params.push_back(&p);
    std::sort(params.begin(), params.end(),
              [](const ParamSpec* a, const ParamSpec* b) {
                return a->name < b->name;
              });
    for (const ParamSpec* p : params) {
      values.push_back(SearchSpace::GridValues(*p));
    }
    std::vector<size_t> index(params.size(), 0);
    std::set<std::string> seen;
    do {
      json full = json::object();
      for (size_t i = 0; i < params.size(); ++i) {
        if (!values[i].empty()) full[params[i]->name] = values[i][index[i]];
      }
      json active = json::object();
      for (const ParamSpec& p : space.ordered()) {
        if (full.contains(p.name) && SearchSpace::IsActive(p, active)) {
          active[p.name] = full[p.name];
        }
      }
      if (seen.insert(active.dump()).second) points_.push_back(active);
    } while (Advance(values, index));
    if (shuffle) {
      Rng rng(SeedOf(seed, 0x67726964 /* "grid" */));
      for (size_t i = points_.size(); i > 1; --i) {
        std::swap(points_[i - 1], points_[rng.Below(i)]);
      }
    }
  }

  std::optional<json> Sample(int64_t number,
                             const TrialHistory& /*history*/) const override {
    if (number < 0 || number >= static_cast<int64_t>(points_.size())) {
      return std::nullopt;
    }
    return points_[static_cast<size_t>(number)];
  }

  std::optional<int64_t> Size() const override {
    return static_cast<int64_t>(points_.size());
  }

 private:
  // Odometer step, last parameter fastest; false after the last point.
  static bool Advance(const std::vector<std::vector<json>>& values,
                      std::vector<size_t>& index) {
    for (size_t i = index.size(); i-- > 0;) {
      if (values[i].empty()) continue;
      if (++index[i] < values[i].size()) return true;
      index[i] = 0;
    }
    return false;
  }

  std::vector<json> points_;
};

}  // namespace

std::unique_ptr<Sampler> NewGridSampler(const SearchSpace& space, uint64_t seed,
                                        bool shuffle) {
  return std::make_unique<GridSampler>(space, seed, shuffle);
}

}  // namespace hpo
