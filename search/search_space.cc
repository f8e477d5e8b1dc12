#include "search/search_space.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace hpo {

using nlohmann::json;

SearchSpace::SearchSpace(SearchSpaceSpec spec) {
  // Repeatedly take the parameters whose parents are all placed. Validation
  // has rejected cycles, so every pass places at least one.
  std::vector<ParamSpec> remaining = std::move(spec.params);
  std::set<std::string> placed;
  while (!remaining.empty()) {
    std::vector<ParamSpec> next;
    size_t before = ordered_.size();
    std::vector<std::string> placed_now;
    for (ParamSpec& p : remaining) {
      bool ready = std::all_of(
          p.when.begin(), p.when.end(),
          [&placed](const Condition& c) { return placed.count(c.param) > 0; });
      if (ready) {
        placed_now.push_back(p.name);
        ordered_.push_back(std::move(p));
      } else {
        next.push_back(std::move(p));
      }
    }
    placed.insert(placed_now.begin(), placed_now.end());
    if (ordered_.size() == before) {  // Unreachable after validation.
      for (ParamSpec& p : next) ordered_.push_back(std::move(p));
      break;
    }
    remaining = std::move(next);
  }
}

bool SearchSpace::IsActive(const ParamSpec& param, const json& config) {
  for (const Condition& c : param.when) {
    auto it = config.find(c.param);
    if (it == config.end() || !c.HoldsFor(*it)) return false;
  }
  return true;
}

json SearchSpace::ValueAt(const ParamSpec& p, double u) {
  switch (p.type) {
    case ParamType::kUniform:
      return std::min(p.low + u * (p.high - p.low), p.high);
    case ParamType::kLogUniform: {
      double lo = std::log(p.low);
      double hi = std::log(p.high);
      return std::clamp(std::exp(lo + u * (hi - lo)), p.low, p.high);
    }
    case ParamType::kInt: {
      const int64_t low = static_cast<int64_t>(p.low);
      const int64_t high = static_cast<int64_t>(p.high);
      if (p.log) {
        // Log-uniform over [low - 0.5, high + 0.5], rounded: each integer
        // gets the mass of its rounding interval.
        double lo = std::log(p.low - 0.5);
        double hi = std::log(p.high + 0.5);
        auto v =
            static_cast<int64_t>(std::llround(std::exp(lo + u * (hi - lo))));
        return std::clamp(v, low, high);
      }
      const int64_t count = (high - low) / p.step + 1;
      int64_t k = std::min<int64_t>(static_cast<int64_t>(u * count), count - 1);
      return low + k * p.step;
    }
    case ParamType::kChoice: {
      size_t k = std::min(static_cast<size_t>(u * p.values.size()),
                          p.values.size() - 1);
      return p.values[k];
    }
  }
  return nullptr;
}

double SearchSpace::PositionOf(const ParamSpec& p, const json& value) {
  if (p.type == ParamType::kChoice) {
    auto it = std::find(p.values.begin(), p.values.end(), value);
    double index = it == p.values.end() ? 0 : it - p.values.begin();
    return (index + 0.5) / static_cast<double>(p.values.size());
  }
  if (!value.is_number() || p.high <= p.low) return 0.5;
  double v = value.get<double>();
  double u = p.is_log() ? (std::log(v) - std::log(p.low)) /
                              (std::log(p.high) - std::log(p.low))
                        : (v - p.low) / (p.high - p.low);
  return std::clamp(u, 0.0, 1.0);
}

double SearchSpace::UnitOf(const ParamSpec& p, const json& value) {
  if (p.type == ParamType::kChoice) return PositionOf(p, value);
  if (p.type == ParamType::kInt) {
    const double v = value.get<double>();
    if (p.log) {
      const double lo = std::log(p.low - 0.5);
      const double hi = std::log(p.high + 0.5);
      return std::clamp((std::log(v) - lo) / (hi - lo), 0.0, 1.0);
    }
    const double step = static_cast<double>(p.step);
    const double count = std::floor((p.high - p.low) / step) + 1;
    return std::clamp((std::round((v - p.low) / step) + 0.5) / count, 0.0, 1.0);
  }
  return PositionOf(p, value);
}

std::vector<json> SearchSpace::GridValues(const ParamSpec& p) {
  if (!p.grid.empty()) return p.grid;
  std::vector<json> values;
  if (p.type == ParamType::kChoice) return p.values;
  if (p.type == ParamType::kInt) {
    for (auto v = static_cast<int64_t>(p.low);
         v <= static_cast<int64_t>(p.high); v += p.step) {
      values.push_back(v);
    }
  }
  return values;
}

}  // namespace hpo
