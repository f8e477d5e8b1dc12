// Random numbers, the one place for them: the mixing function every seed goes
// through, and the generators built on it.
//
// std::uniform_real_distribution and friends differ between standard
// libraries, so a study's configurations (or a generated dataset, or a
// trial's shuffle) would depend on the compiler. These produce the same
// numbers everywhere. Their outputs are frozen: a recorded study replays its
// sampler, and `hpo-prep synth --seed S` must write the same dataset on
// every release.
#ifndef HPO_COMMON_RANDOM_H_
#define HPO_COMMON_RANDOM_H_

#include <cstdint>
#include <string>

namespace hpo {

// SplitMix64 finaliser: a strong 64-bit mix.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a over the bytes of `s` (also the study file's hash in the results
// database: HashText).
inline uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// FNV-1a over the bytes of `s`, then mixed.
inline uint64_t HashString(const std::string& s) { return Mix64(Fnv1a64(s)); }

// Combines several keys into one seed, order-sensitively.
inline uint64_t SeedOf(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return Mix64(Mix64(Mix64(Mix64(a) ^ b) ^ c) ^ d);
}

// Uniform in [0, 1) from the top 53 bits of `bits`.
inline double UnitInterval(uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// The SplitMix64 sequence: Mix64 of a counter stepped by the golden ratio.
// The dataset generator's stream (features/synth.cc).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    const uint64_t result = Mix64(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return result;
  }

 private:
  uint64_t state_;
};

// The sampler's generator: xoshiro256** seeded through SplitMix64. Not thread
// safe; cheap to create.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      word = Mix64(seed);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return UnitInterval(Next()); }

  // Uniform integer in [0, n), n > 0, without modulo bias worth noting
  // (Lemire's multiply-shift).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }

  // Standard normal (Box-Muller; one of the pair is discarded).
  double Normal();

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace hpo

#endif  // HPO_COMMON_RANDOM_H_
