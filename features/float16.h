// IEEE 754 half precision (binary16), the compact dtype of feature shards.
#ifndef HPO_FEATURES_FLOAT16_H_
#define HPO_FEATURES_FLOAT16_H_

#include <cstddef>
#include <cstdint>

namespace hpo::features {

// Rounds to the nearest half (ties to even); overflow gives +-infinity, NaN
// stays NaN, values below the smallest subnormal round to zero.
uint16_t FloatToHalf(float value);

// Exact: every half is a float.
float HalfToFloat(uint16_t half);

// Converts arrays of `n` values (uses the CPU's F16C instructions when it has
// them, which give the same results).
void FloatsToHalves(const float* in, uint16_t* out, size_t n);
void HalvesToFloats(const uint16_t* in, float* out, size_t n);

}  // namespace hpo::features

#endif  // HPO_FEATURES_FLOAT16_H_
