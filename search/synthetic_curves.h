// Synthetic learning curves: an analytic stand-in for training, for testing
// and benchmarking schedulers and the coordinator without a GPU. It is named
// as what it is (the synthetic trainer); nothing here pretends to train.
//
// Each configuration gets a quality in [0, 1] from where its parameters lie
// relative to hidden optima (drawn from the seed), an asymptotic accuracy from
// that quality, and a convergence speed that is partly independent of it, so
// curves cross: a configuration that is ahead early is not always ahead at the
// end, as in real training. Epoch times vary between configurations (a
// log-normal factor) and between epochs (jitter).
//
// Every value is a pure function of (seed, parameters, epoch): training a
// trial from epoch 0 to 9 in one job or as 0-3 then 3-9 gives the same curve.
#ifndef HPO_SEARCH_SYNTHETIC_CURVES_H_
#define HPO_SEARCH_SYNTHETIC_CURVES_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/study_spec.h"

namespace hpo {

struct CurveOptions {
  uint64_t seed = 0;
  double noise = 0.01;           // Std. dev. of per-epoch accuracy noise.
  double time_spread = 0.5;      // Sigma of the log-normal epoch-time factor.
  double epoch_jitter = 0.05;    // Relative std. dev. of each epoch's time.
  double divergence_rate = 0.0;  // Fraction of configurations that diverge.
  double epoch_seconds = 1.0;    // Median seconds per epoch.
  int classes = 8;               // Chance accuracy is 1 / classes.
  // "annealing" curves (trainer.curves): training has a state, and the
  // learning rate that improves it most falls as it grows (see Train()).
  bool annealing = false;
};

// What a trial has learnt so far, on annealing curves (checkpointed).
struct CurveState {
  double skill = 0;  // In [0, 1).
};

struct EpochMetrics {
  double train_loss;
  double val_loss;
  double val_accuracy;
  double val_track_accuracy;
  double val_track_loss;
  double epoch_seconds;
  double samples_per_second;
  bool diverged;  // Losses are NaN from this epoch on.

  // The named metric (one of KnownMetrics()).
  double Get(const std::string& metric) const;
};

class SyntheticCurves {
 public:
  SyntheticCurves(SearchSpaceSpec space, CurveOptions options);

  // Metrics of `params` after `epoch` (>= 1) epochs.
  EpochMetrics At(const nlohmann::json& params, int epoch) const;

  // Trains epoch `epoch` from `state` and returns its metrics. Static
  // curves ignore the state (At()). Annealing curves: with u the position
  // of the parameter "lr" in its range (log scale; 0.5 without one), the
  // epoch adds (1 - skill) x g x exp(-((u - (0.85 - 0.7 skill)) / 0.18)^2)
  // to the skill, g from 0.12 to 0.3 by the quality of the other
  // parameters, and val_accuracy is chance + (0.85 - chance) x skill plus
  // noise. A high lr learns fast early and stalls; a low one learns slowly
  // early: the best schedule starts high and ends low, which no constant lr
  // matches. Epoch times and divergence are those of At().
  EpochMetrics Train(const nlohmann::json& params, int epoch,
                     CurveState& state) const;

  // The configuration's quality in [0, 1] (1: at every optimum), leaving out
  // the parameter `except` (if not empty).
  double Quality(const nlohmann::json& params,
                 const std::string& except = "") const;

 private:
  double Unit(const nlohmann::json& params, const char* what,
              uint64_t extra = 0) const;

  SearchSpaceSpec space_;
  CurveOptions options_;
};

// The options of the synthetic trainer that `spec.trainer` configures
// ({"model": "synthetic", "epoch_seconds": ..., "noise": ...,
// "time_spread": ..., "divergence_rate": ..., "classes": ...}; the study
// parser checks them). epoch_seconds 0 (the default) means epochs take no
// time at all.
CurveOptions SyntheticTrainerOptions(const StudySpec& spec);

}  // namespace hpo

#endif  // HPO_SEARCH_SYNTHETIC_CURVES_H_
