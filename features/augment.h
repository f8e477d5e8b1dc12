// Training-set audio augmentation for hpo-prep: pitch shifts (semitones) and
// tempo changes (speed factors) of a clip, rendered with libsox's tempo
// effect (WSOLA, tuned for music) and, for a pitch shift, libsoxr
// resampling, as SoX's own pitch effect does. bench/augment_bench compares
// it with Rubber Band; BENCHMARKS.md says why SoX was chosen.
#ifndef HPO_FEATURES_AUGMENT_H_
#define HPO_FEATURES_AUGMENT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hpo::features {

// One augmented copy of a clip: its pitch shifted by `amount` semitones
// (duration kept), or its tempo scaled by `amount` (1.07: 7% faster and
// shorter; pitch kept).
struct Augmentation {
  enum class Kind { kPitchShift, kTempo };
  Kind kind = Kind::kPitchShift;
  double amount = 0;
};

// "pitch_shift:+1", "pitch_shift:-1", "tempo:0.93": how index.csv and the
// manifest name a copy.
std::string AugmentationName(const Augmentation& a);

// The augmentations of comma-separated lists, e.g. "-1,1" for --pitch-shift
// and "0.93,1.07" for --tempo (either may be empty). Throws hpo::Error (bad
// input) naming the flag and the value: pitch shifts must be non-zero and
// within +-12 semitones, tempo factors positive, not 1, within 0.5..2.
std::vector<Augmentation> ParseAugmentations(const std::string& pitch_shifts,
                                             const std::string& tempos);

// The input samples a copy consumes to give `out_samples` output samples
// (more for a faster tempo, as many for a pitch shift).
int64_t InputSamplesFor(const Augmentation& a, int64_t out_samples);

// Renders one copy of mono `samples` at `sample_rate` Hz: the same length
// for a pitch shift, round(n / amount) samples for a tempo change. Thread
// safe (one effects chain per call). Throws hpo::Error (runtime) when libsox
// or libsoxr fails.
std::vector<float> RenderAugmentation(const std::vector<float>& samples,
                                      int sample_rate, const Augmentation& a);

}  // namespace hpo::features

#endif  // HPO_FEATURES_AUGMENT_H_
