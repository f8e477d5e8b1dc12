// Exact integer arithmetic for the resource schedules of Hyperband and
// successive halving. Floating-point logarithms get these wrong:
// log(243) / log(3) = 4.999..., and floor() of that is 4, not 5.
#ifndef HPO_COMMON_INT_MATH_H_
#define HPO_COMMON_INT_MATH_H_

#include <cstdint>

namespace hpo {

// base^exp for small non-negative exponents; saturates at INT64_MAX.
inline int64_t IntPow(int64_t base, int exp) {
  int64_t result = 1;
  for (int i = 0; i < exp; ++i) {
    if (result > INT64_MAX / base) return INT64_MAX;
    result *= base;
  }
  return result;
}

// The largest s with low * eta^s <= high, i.e. floor(log_eta(high / low)),
// computed without floating point. Requires low >= 1, eta >= 2.
inline int FloorLogRatio(int64_t low, int64_t high, int64_t eta) {
  int s = 0;
  int64_t resource = low;
  while (resource <= high / eta) {
    resource *= eta;
    ++s;
  }
  return s;
}

// ceil(a / b) for a >= 0, b > 0.
inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace hpo

#endif  // HPO_COMMON_INT_MATH_H_
