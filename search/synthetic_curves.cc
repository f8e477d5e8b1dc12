#include "search/synthetic_curves.h"

#include <cmath>

#include "common/random.h"
#include "search/search_space.h"

namespace hpo {

using nlohmann::json;

namespace {

// The track-level loss: the segment loss with the track accuracy in place of
// the segment accuracy (and the same noise), drawing no random numbers of
// its own so the other curves stay as they were.
double TrackLoss(const EpochMetrics& m) {
  return m.val_loss + std::log(std::max(m.val_accuracy, 1e-3)) -
         std::log(std::max(m.val_track_accuracy, 1e-3));
}

}  // namespace

double EpochMetrics::Get(const std::string& metric) const {
  if (metric == "train_loss") return train_loss;
  if (metric == "val_loss") return val_loss;
  if (metric == "val_accuracy") return val_accuracy;
  if (metric == "val_track_accuracy") return val_track_accuracy;
  if (metric == "val_track_loss") return val_track_loss;
  if (metric == "epoch_seconds") return epoch_seconds;
  if (metric == "samples_per_second") return samples_per_second;
  return std::nan("");
}

SyntheticCurves::SyntheticCurves(SearchSpaceSpec space, CurveOptions options)
    : space_(std::move(space)), options_(options) {}

double SyntheticCurves::Unit(const json& params, const char* what,
                             uint64_t extra) const {
  Rng rng(SeedOf(options_.seed, HashString(params.dump()), HashString(what),
                 extra));
  return rng.Uniform();
}

double SyntheticCurves::Quality(const json& params,
                                const std::string& except) const {
  double total = 0;
  double weights = 0;
  for (const ParamSpec& p : space_.params) {
    if (p.name == except) continue;
    auto it = params.find(p.name);
    if (it == params.end()) continue;
    const uint64_t key = SeedOf(options_.seed, HashString(p.name));
    const double weight = 0.5 + Rng(SeedOf(key, 1)).Uniform();
    double q;
    if (p.type == ParamType::kChoice) {
      // Each option has its own merit; one of them is clearly best.
      double merit = Rng(SeedOf(key, HashString(it->dump()))).Uniform();
      q = 0.3 + 0.7 * merit * merit;
    } else {
      const double optimum = 0.2 + 0.6 * Rng(SeedOf(key, 2)).Uniform();
      const double u = SearchSpace::PositionOf(p, *it);
      const double d = (u - optimum) / 0.3;
      q = std::exp(-d * d);
    }
    total += weight * q;
    weights += weight;
  }
  return weights > 0 ? total / weights : 0.5;
}

EpochMetrics SyntheticCurves::At(const json& params, int epoch) const {
  const double chance = 1.0 / options_.classes;
  const double quality = Quality(params);
  // Asymptote: from chance to 0.8 for a perfect configuration.
  const double ceiling = chance + (0.8 - chance) * quality * quality;
  // Convergence time constant in epochs, independent of quality in part.
  const double speed = Unit(params, "speed");
  const double tau = 0.7 + 6.0 * speed * speed;
  const double progress = 1.0 - std::exp(-epoch / tau);
  Rng noise(SeedOf(options_.seed, HashString(params.dump()),
                   HashString("noise"), static_cast<uint64_t>(epoch)));
  double accuracy =
      chance + (ceiling - chance) * progress + options_.noise * noise.Normal();
  accuracy = std::min(std::max(accuracy, 0.0), 1.0);
  const double track_accuracy =
      std::min(1.0, accuracy + 0.03 * progress * quality);

  const double time_factor = std::exp(
      options_.time_spread *
      Rng(SeedOf(options_.seed, HashString(params.dump()), HashString("time")))
          .Normal());
  const double jitter = 1.0 + options_.epoch_jitter * noise.Normal();
  const double seconds =
      std::max(0.05 * options_.epoch_seconds,
               options_.epoch_seconds * time_factor * jitter);

  EpochMetrics m;
  m.val_accuracy = accuracy;
  m.val_track_accuracy = track_accuracy;
  m.val_loss = -std::log(std::max(accuracy, 1e-3)) + 0.05 * noise.Normal();
  m.val_track_loss = TrackLoss(m);
  m.train_loss = m.val_loss * (0.9 - 0.3 * progress);
  m.epoch_seconds = seconds;
  m.samples_per_second = 6400.0 / seconds;
  m.diverged = false;
  if (Unit(params, "diverges") < options_.divergence_rate) {
    const int at = 1 + static_cast<int>(Unit(params, "diverge-epoch") * 3);
    if (epoch >= at) {
      m.diverged = true;
      m.train_loss = m.val_loss = m.val_track_loss = std::nan("");
      m.val_accuracy = m.val_track_accuracy = chance;
    }
  }
  return m;
}

EpochMetrics SyntheticCurves::Train(const json& params, int epoch,
                                    CurveState& state) const {
  EpochMetrics m = At(params, epoch);
  if (!options_.annealing || m.diverged) return m;
  double u = 0.5;
  const ParamSpec* lr = space_.Find("lr");
  auto it = params.find("lr");
  if (lr != nullptr && it != params.end())
    u = SearchSpace::PositionOf(*lr, *it);
  const double optimum = 0.85 - 0.7 * state.skill;
  const double d = (u - optimum) / 0.18;
  const double gain = (0.12 + 0.18 * Quality(params, "lr")) * std::exp(-d * d);
  state.skill += (1 - state.skill) * gain;
  const double chance = 1.0 / options_.classes;
  Rng noise(SeedOf(options_.seed, HashString(params.dump()),
                   HashString("annealing-noise"),
                   static_cast<uint64_t>(epoch)));
  double accuracy =
      chance + (0.85 - chance) * state.skill + options_.noise * noise.Normal();
  accuracy = std::min(std::max(accuracy, 0.0), 1.0);
  m.val_accuracy = accuracy;
  m.val_track_accuracy = std::min(1.0, accuracy + 0.02 * state.skill);
  m.val_loss = -std::log(std::max(accuracy, 1e-3)) + 0.05 * noise.Normal();
  m.val_track_loss = TrackLoss(m);
  m.train_loss = m.val_loss * (0.9 - 0.3 * state.skill);
  return m;
}

CurveOptions SyntheticTrainerOptions(const StudySpec& spec) {
  CurveOptions options;
  options.seed = spec.seed;
  const json& t = spec.trainer;
  options.epoch_seconds = t.value("epoch_seconds", 0.0);
  options.noise = t.value("noise", options.noise);
  options.time_spread = t.value("time_spread", options.time_spread);
  options.divergence_rate = t.value("divergence_rate", 0.0);
  options.classes = t.value("classes", options.classes);
  options.annealing = t.value("curves", "static") == "annealing";
  return options;
}

}  // namespace hpo
