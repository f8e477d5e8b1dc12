// BOHB's proposals (Falkner, Klein and Hutter, ICML 2018), as HpBandSter's
// config generator makes them (read for the rules; this is hpo's own code).
//
// Configurations live in the unit cube (SearchSpace::UnitOf; a choice is its
// option's index). For each proposal:
// - with probability random_fraction, or while no budget has a model, the
//   proposal is random search's;
// - otherwise the model is that of the largest budget (epoch count) at
//   which at least min_points_in_model trials have a value (default: the
//   number of parameters d + 2). Its trials are ranked; the best
//   max(d + 1, top_n_percent % of them) are "good", the rest "bad"; a
//   product KDE is fitted to each (kde.h) with normal-reference bandwidths
//   floored at min_bandwidth (a categorical one also capped at
//   (levels - 1) / levels, where its kernel is already uniform);
// - num_samples candidates are drawn around good points: a random good
//   point, each continuous coordinate from a normal truncated to [0, 1]
//   with the good KDE's bandwidth times bandwidth_factor, each categorical
//   one kept with probability 1 - bandwidth, else a random option;
// - the candidate with the largest l(x) / g(x) wins.
// Parameters inactive in a configuration are imputed from another good (or
// bad) configuration where they are active, else drawn at random, as
// HpBandSter does. Failed trials count as the worst value at the budget they
// were training for; with the constant liar (default), trials running towards
// the model's budget penalise l(x) / g(x) around them (see Sample()), so that
// simultaneous proposals avoid each other's regions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/random.h"
#include "search/kde.h"
#include "search/learning_sampler.h"
#include "search/observations.h"
#include "search/truncnorm.h"

namespace hpo {
namespace {

using nlohmann::json;

constexpr uint64_t kBohbKey = 0x626f6862;  // "bohb"

class BohbSampler : public LearningSampler {
 public:
  BohbSampler(const SearchSpace& space, uint64_t seed, const SamplerSpec& o)
      : LearningSampler(space, seed, o) {
    for (const ParamSpec& p : space_.ordered()) {
      levels_.push_back(
          p.type == ParamType::kChoice ? static_cast<int>(p.values.size()) : 0);
    }
  }

  std::optional<json> Sample(int64_t number,
                             const TrialHistory& history) const override {
    Rng rng(SeedOf(seed_, static_cast<uint64_t>(number), kBohbKey));
    const int d = static_cast<int>(space_.ordered().size());
    const int min_points =
        options_.min_points_in_model > 0 ? options_.min_points_in_model : d + 2;
    const bool random = rng.Uniform() < options_.random_fraction;
    const int budget = LargestBudget(history, min_points);
    if (random || budget == 0 || d == 0) {
      return Random(number);
    }
    std::vector<Observation> observations;
    std::vector<Observation> pending;
    for (Observation& o : BudgetObservations(history, budget, true)) {
      (o.pending ? pending : observations).push_back(o);
    }
    const int n = static_cast<int>(observations.size());
    const int n_good = std::min(
        std::max(d + 1, static_cast<int>(
                            std::floor(options_.top_n_percent * n / 100))),
        n - 1);
    std::vector<Observation> good;
    std::vector<Observation> bad;
    SplitObservations(observations, n_good, &good, &bad);
    if (good.empty() || bad.empty()) return Random(number);

    Rng impute(SeedOf(seed_, static_cast<uint64_t>(number), kBohbKey, 1));
    ProductKde l(Encode(good, impute), levels_);
    ProductKde g(Encode(bad, impute), levels_);
    for (ProductKde* kde : {&l, &g}) {
      std::vector<double> bw = kde->bandwidth();
      for (size_t j = 0; j < bw.size(); ++j) {
        bw[j] = std::max(bw[j], options_.min_bandwidth);
        if (levels_[j] > 1) {
          bw[j] = std::min(bw[j], (levels_[j] - 1.0) / levels_[j]);
        }
      }
      kde->set_bandwidth(std::move(bw));
    }
    // The constant liar: l(x) / g(x) is multiplied by a local penalty
    // 1 - exp(-|x - p|^2 / 2) around each trial p running towards the budget,
    // distances in units of the spread of the candidates drawn around a good
    // point (the good model's bandwidths times bandwidth_factor; a different
    // option counts as 2 units). Near a busy point the ratio goes to 0, far
    // from it nothing changes: local penalisation (Gonzalez et al., AISTATS
    // 2016) with "as bad as can be" for the pending value. A plain extra
    // point in the wide bad KDE would barely move l(x) / g(x).
    std::vector<std::vector<double>> busy;
    if (options_.constant_liar) busy = Encode(pending, impute);
    std::vector<double> radius = l.bandwidth();
    for (double& r : radius) r *= options_.bandwidth_factor;
    auto penalty = [&](const std::vector<double>& x) {
      double factor = 1;
      for (const auto& p : busy) {
        double d2 = 0;
        for (size_t j = 0; j < x.size(); ++j) {
          if (levels_[j] > 0) {
            d2 += x[j] == p[j] ? 0 : 4;
          } else {
            const double z = (x[j] - p[j]) / radius[j];
            d2 += z * z;
          }
        }
        factor *= 1 - std::exp(-0.5 * d2);
      }
      return factor;
    };

    std::vector<double> best;
    double best_ratio = std::numeric_limits<double>::infinity();
    for (int s = 0; s < options_.num_samples; ++s) {
      const std::vector<double>& datum = l.data()[rng.Below(l.data().size())];
      std::vector<double> x(datum.size());
      for (size_t j = 0; j < datum.size(); ++j) {
        const double h = l.bandwidth()[j];
        if (levels_[j] > 0) {
          x[j] = rng.Uniform() < 1 - h
                     ? datum[j]
                     : static_cast<double>(rng.Below(levels_[j]));
        } else {
          const double m = datum[j];
          const double scale = h * options_.bandwidth_factor;
          x[j] = std::clamp(m + scale * SampleTruncatedNormal(rng, -m / scale,
                                                              (1 - m) / scale),
                            0.0, 1.0);
        }
      }
      // Minimise g(x) / l(x), as HpBandSter does.
      const double ratio =
          std::max(1e-32, g.Pdf(x)) / std::max(l.Pdf(x) * penalty(x), 1e-32);
      if (std::isfinite(ratio) && ratio < best_ratio) {
        best_ratio = ratio;
        best = std::move(x);
      }
    }
    if (best.empty()) return Random(number);
    return Decode(best);
  }

 private:
  // Points in the unit cube (choices as indices); inactive coordinates
  // copied from another point of the same set where they are active, else
  // drawn at random.
  std::vector<std::vector<double>> Encode(const std::vector<Observation>& set,
                                          Rng& rng) const {
    const auto& params = space_.ordered();
    const double kMissing = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::vector<double>> data;
    for (const Observation& o : set) {
      std::vector<double> x;
      for (const ParamSpec& p : params) {
        auto it = o.params->find(p.name);
        if (it == o.params->end()) {
          x.push_back(kMissing);
        } else if (p.type == ParamType::kChoice) {
          x.push_back(static_cast<double>(
              std::find(p.values.begin(), p.values.end(), *it) -
              p.values.begin()));
        } else {
          x.push_back(SearchSpace::UnitOf(p, *it));
        }
      }
      data.push_back(std::move(x));
    }
    for (size_t j = 0; j < params.size(); ++j) {
      std::vector<size_t> valid;
      for (size_t i = 0; i < data.size(); ++i) {
        if (!std::isnan(data[i][j])) valid.push_back(i);
      }
      for (auto& x : data) {
        if (!std::isnan(x[j])) continue;
        if (!valid.empty()) {
          x[j] = data[valid[rng.Below(valid.size())]][j];
        } else if (levels_[j] > 0) {
          x[j] = static_cast<double>(rng.Below(levels_[j]));
        } else {
          x[j] = rng.Uniform();
        }
      }
    }
    return data;
  }

  json Decode(const std::vector<double>& x) const {
    json config = json::object();
    const auto& params = space_.ordered();
    for (size_t j = 0; j < params.size(); ++j) {
      const ParamSpec& p = params[j];
      if (!SearchSpace::IsActive(p, config)) continue;
      if (p.type == ParamType::kChoice) {
        config[p.name] = p.values[static_cast<size_t>(x[j])];
      } else {
        config[p.name] =
            SearchSpace::ValueAt(p, std::min(x[j], std::nextafter(1.0, 0.0)));
      }
    }
    return config;
  }

  std::vector<int> levels_;  // Per ordered parameter: options, 0 if numeric.
};

}  // namespace

std::unique_ptr<Sampler> NewBohbSampler(const SearchSpace& space, uint64_t seed,
                                        const SamplerSpec& options) {
  return std::make_unique<BohbSampler>(space, seed, options);
}

}  // namespace hpo
