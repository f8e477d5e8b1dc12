// TPE's Parzen estimators, with Optuna 3.1's semantics (optuna/samplers/_tpe/
// parzen_estimator.py, read for the rules; this is hpo's own code).
//
// Each parameter lives in an internal coordinate: its value, the log of it
// for log parameters, the index of a choice. A numeric parameter's estimator
// is a mixture of truncated normals, one per observation plus a prior
// N((low + high) / 2, high - low), with bandwidths from the distances to the
// neighbouring observations (univariate) or Scott's rule (multivariate),
// clipped by the "magic clip". A stepped integer's density is the mass of
// its step around the value. A choice's estimator gives each observation's
// option weight 1 and every option prior_weight / (n + 1). As in Optuna 3.1, a
// continuous kernel's log density leaves out its -log(sigma) term.
#ifndef HPO_SEARCH_PARZEN_ESTIMATOR_H_
#define HPO_SEARCH_PARZEN_ESTIMATOR_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "common/random.h"
#include "common/study_spec.h"

namespace hpo {

// One parameter in its internal coordinate.
struct ParzenDim {
  explicit ParzenDim(const ParamSpec& param);

  double ToInternal(const nlohmann::json& value) const;
  nlohmann::json ToValue(double x) const;
  // Rounds an internal coordinate to the nearest value the parameter takes.
  double Snap(double x) const;

  const ParamSpec* param;
  bool categorical = false;
  int choices = 0;  // categorical: the number of options.
  double low = 0;   // Bounds of the internal coordinate (numeric).
  double high = 0;
  double step = 0;  // Stepped int: the step (0 otherwise).
};

struct ParzenOptions {
  double prior_weight = 1.0;
  bool magic_clip = true;
  bool endpoints = false;
  bool multivariate = false;
};

// Optuna's default_weights(n): 1 for the newest 25 observations, a ramp from
// 1/n up for the older ones.
std::vector<double> DefaultWeights(int n);

class ParzenEstimator {
 public:
  // observations[k][j]: observation k's internal coordinate in dims[j], in
  // trial-number order.
  ParzenEstimator(std::vector<ParzenDim> dims,
                  const std::vector<std::vector<double>>& observations,
                  const ParzenOptions& options);

  // `n` draws, snapped to values the parameters take.
  std::vector<std::vector<double>> Sample(Rng& rng, int n) const;
  double LogPdf(const std::vector<double>& x) const;

  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& mus(size_t dim) const { return mus_[dim]; }
  const std::vector<double>& sigmas(size_t dim) const { return sigmas_[dim]; }

 private:
  std::vector<ParzenDim> dims_;
  std::vector<double> weights_;  // Per kernel, normalised; the prior last.
  std::vector<double> log_weights_;
  std::vector<std::vector<double>> mus_;     // [dim][kernel]
  std::vector<std::vector<double>> sigmas_;  // [dim][kernel]
  // [dim][kernel][option]: categorical kernels' probabilities.
  std::vector<std::vector<std::vector<double>>> categorical_;
};

}  // namespace hpo

#endif  // HPO_SEARCH_PARZEN_ESTIMATOR_H_
