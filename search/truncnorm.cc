#include "search/truncnorm.h"

#include <cmath>
#include <limits>

namespace hpo {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kLogSqrt2Pi = 0.91893853320467274;  // log(sqrt(2 pi))
constexpr double kInf = std::numeric_limits<double>::infinity();

// Acklam's rational approximation of Phi^-1(p) (relative error 1.2e-9),
// refined by one Halley step to full double precision.
double Ndtri(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  if (p <= 0) return -kInf;
  if (p >= 1) return kInf;
  double x;
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    double q = p - 0.5;
    double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) *
        q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // Halley: e = Phi(x) - p, computed on the side where it is precise.
  double e = x < 0 ? 0.5 * std::erfc(-x / kSqrt2) - p
                   : (1 - p) - 0.5 * std::erfc(x / kSqrt2);
  double u = e * std::exp(0.5 * x * x + kLogSqrt2Pi);
  return x - u / (1 + x * u / 2);
}

}  // namespace

double LogNdtr(double x) {
  if (x > 6) return std::log1p(-0.5 * std::erfc(x / kSqrt2));
  if (x > -20) return std::log(0.5 * std::erfc(-x / kSqrt2));
  // Asymptotic series: Phi(x) = phi(x) / -x * (1 - 1/x^2 + 3/x^4 - ...).
  const double r = 1 / (x * x);
  const double series =
      1 - r * (1 - 3 * r * (1 - 5 * r * (1 - 7 * r * (1 - 9 * r))));
  return -0.5 * x * x - kLogSqrt2Pi - std::log(-x) + std::log(series);
}

double NdtriExp(double log_p) {
  if (log_p >= 0) return kInf;
  if (log_p > -700) return Ndtri(std::exp(log_p));
  // Far in the lower tail: Newton on log Phi, from the leading asymptote.
  double x = -std::sqrt(-2 * log_p);
  for (int i = 0; i < 50; ++i) {
    const double f = LogNdtr(x) - log_p;
    // d/dx log Phi(x) = phi(x) / Phi(x).
    const double slope = std::exp(-0.5 * x * x - kLogSqrt2Pi - LogNdtr(x));
    const double step = f / slope;
    x -= step;
    if (std::fabs(step) < 1e-12 * std::fabs(x)) break;
  }
  return x;
}

double LogGaussMass(double a, double b) {
  if (a >= b) return -kInf;
  if (b <= 0) {
    const double lb = LogNdtr(b);
    return lb + std::log1p(-std::exp(LogNdtr(a) - lb));
  }
  if (a >= 0) return LogGaussMass(-b, -a);
  // Both tails outside: 1 - Phi(a) - Phi(-b).
  return std::log1p(-0.5 * std::erfc(-a / kSqrt2) -
                    0.5 * std::erfc(b / kSqrt2));
}

double SampleTruncatedNormal(Rng& rng, double a, double b) {
  if (a >= 0) return -SampleTruncatedNormal(rng, -b, -a);
  // Inverse CDF in log space: log Phi(x) = log(Phi(a) + u (Phi(b) - Phi(a))).
  const double u = (static_cast<double>(rng.Next() >> 11) + 0.5) * 0x1.0p-53;
  const double la = LogNdtr(a);
  const double lb = LogNdtr(b);
  const double log_p = lb + std::log(u + (1 - u) * std::exp(la - lb));
  const double x = NdtriExp(log_p);
  return std::fmin(std::fmax(x, a), b);
}

double TruncatedNormalLogPdf(double x, double low, double high, double loc,
                             double scale) {
  if (x < low || x > high) return -kInf;
  const double z = (x - loc) / scale;
  return -0.5 * z * z - kLogSqrt2Pi - std::log(scale) -
         LogGaussMass((low - loc) / scale, (high - loc) / scale);
}

}  // namespace hpo
