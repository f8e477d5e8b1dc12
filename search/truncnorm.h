// The standard normal distribution in log space and truncated to an
// interval: what TPE's Parzen estimators and BOHB's proposals sample from.
// Stable far in the tails (a kernel can sit 100 bandwidths from a bound).
#ifndef HPO_SEARCH_TRUNCNORM_H_
#define HPO_SEARCH_TRUNCNORM_H_

#include "common/random.h"

namespace hpo {

// log Phi(x), the log of the standard normal CDF.
double LogNdtr(double x);

// Phi^-1(exp(log_p)): the x with log Phi(x) = log_p (log_p <= 0).
double NdtriExp(double log_p);

// log(Phi(b) - Phi(a)) for a <= b: the log of the mass in [a, b].
double LogGaussMass(double a, double b);

// A draw from the standard normal truncated to [a, b], a < b.
double SampleTruncatedNormal(Rng& rng, double a, double b);

// The log density at x of N(loc, scale^2) truncated to [low, high].
double TruncatedNormalLogPdf(double x, double low, double high, double loc,
                             double scale);

}  // namespace hpo

#endif  // HPO_SEARCH_TRUNCNORM_H_
