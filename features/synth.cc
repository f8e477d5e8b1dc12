#include "features/synth.h"

#include <sndfile.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "common/error.h"
#include "common/random.h"
#include "features/fma_metadata.h"

namespace hpo::features {
namespace {

constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------
// Random numbers: common/random.h's SplitMix64 stream, with the dataset's own
// distributions. Both are frozen: a change here changes every dataset that
// `hpo-prep synth --seed S` writes.

// A well-mixed seed from two values (for example a dataset seed and an id).
uint64_t MixSeed(uint64_t a, uint64_t b) {
  return Mix64(Mix64(a) ^ (b * 0xD1B54A32D192ED03ull));
}

// Not thread safe; one per track.
class Rng {
 public:
  explicit Rng(uint64_t seed) : bits_(seed) {}

  uint64_t Next() { return bits_.Next(); }
  // Uniform in [0, 1).
  double Uniform() { return UnitInterval(Next()); }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n); n > 0.
  int Below(int n) { return static_cast<int>((Next() >> 33) % n); }
  bool Chance(double p) { return Uniform() < p; }
  // Standard normal (Box-Muller, one value per call).
  double Normal() {
    double u = 1.0 - Uniform();  // (0, 1]
    double v = Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * v);
  }

 private:
  SplitMix64 bits_;
};

// White noise for audio: a 32-bit linear congruential generator, much
// cheaper per sample than Rng and good enough for noise bursts.
class NoiseSource {
 public:
  explicit NoiseSource(Rng* rng) : state_(static_cast<uint32_t>(rng->Next())) {}

  // Uniform in [-1, 1).
  float Next() {
    state_ = state_ * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<int32_t>(state_)) *
           (1.0f / 2147483648.0f);
  }

 private:
  uint32_t state_;
};

// ---------------------------------------------------------------------------
// Wavetable oscillators: one cycle in kTableSize samples plus a guard sample,
// read with a 32-bit phase accumulator and linear interpolation.

constexpr int kTableBits = 11;
constexpr int kTableSize = 1 << kTableBits;
constexpr int kFracBits = 32 - kTableBits;
constexpr float kFracScale = 1.0f / static_cast<float>(1u << kFracBits);
using Table = std::array<float, kTableSize + 1>;

const Table& SineTable() {
  static const Table table = [] {
    Table t;
    for (int i = 0; i <= kTableSize; ++i) {
      t[i] = static_cast<float>(std::sin(2.0 * kPi * i / kTableSize));
    }
    return t;
  }();
  return table;
}

inline float Lookup(const Table& t, uint32_t phase) {
  uint32_t i = phase >> kFracBits;
  float frac = static_cast<float>(phase & ((1u << kFracBits) - 1)) * kFracScale;
  return t[i] + frac * (t[i + 1] - t[i]);
}

// Phase increment per sample for `hz`.
inline uint32_t PhaseIncrement(double hz, int sample_rate) {
  double inc = hz / sample_rate * 4294967296.0;
  return static_cast<uint32_t>(std::clamp(inc, 0.0, 2147483647.0));
}

// A harmonic timbre: amplitude h^-rolloff for harmonic h (even harmonics
// times even_gain), at most `harmonics` of them and none at or above 0.45 of
// the sample rate for a fundamental of `max_hz`. Normalised to peak 1.
Table MakeTable(int harmonics, double rolloff, double even_gain, double max_hz,
                int sample_rate) {
  int limit = static_cast<int>(0.45 * sample_rate / max_hz);
  harmonics = std::max(1, std::min(harmonics, limit));
  const Table& sine = SineTable();
  std::array<double, kTableSize> sum{};
  for (int h = 1; h <= harmonics; ++h) {
    double amp = std::pow(h, -rolloff) * (h % 2 == 0 ? even_gain : 1.0);
    for (int i = 0; i < kTableSize; ++i) {
      sum[i] += amp * sine[(static_cast<int64_t>(i) * h) & (kTableSize - 1)];
    }
  }
  double peak = 1e-9;
  for (double v : sum) peak = std::max(peak, std::abs(v));
  Table t;
  for (int i = 0; i < kTableSize; ++i) t[i] = static_cast<float>(sum[i] / peak);
  t[kTableSize] = t[0];
  return t;
}

// Rounds to the nearest integer, halves away from zero.
int64_t RoundToInt64(double x) { return static_cast<int64_t>(std::llround(x)); }

// `x` as printf's %g writes it (2.5 rather than std::to_string's 2.500000).
std::string FormatNumber(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", x);
  return text;
}

double MidiToHz(double note) { return 440.0 * std::pow(2.0, (note - 69) / 12); }

// ---------------------------------------------------------------------------
// Class profiles. Every class has a value in [0, 1] for each trait; for each
// trait the classes are spread evenly over [0, 1] in a fixed pseudo-random
// order, so classes differ in many traits but no single trait separates
// them. A track jitters every trait around its class value (and sometimes
// borrows another class's value), so neighbouring classes overlap.

enum Trait {
  kTempo,           // Beats per minute.
  kMelodyRegister,  // Pitch range of the melody.
  kBassRegister,    // Pitch range of the bass.
  kBrightness,      // Number of harmonics and their roll-off.
  kOddness,         // Weak even harmonics (hollow, clarinet-like).
  kEnvelope,        // Plucked (fast attack, short decay) to pad-like.
  kDensity,         // Melody note lengths.
  kNoiseColour,     // Low-pass cut-off of the background noise.
  kNoiseLevel,      // Background noise level relative to the music.
  kDrumStyle,       // Drum pattern family and kick character.
  kScale,           // Musical scale (mode).
  kPad,             // Level of sustained chords.
  kVibrato,         // Vibrato depth.
  kTraitCount
};

using Traits = std::array<double, kTraitCount>;

// How far a track's trait strays from its class (standard deviation on the
// [0, 1] trait scale) and how often a trait is taken from another class.
constexpr double kTraitJitter = 0.12;
constexpr double kBorrowChance = 0.25;

Traits ClassTraits(int class_index, int classes) {
  Traits traits;
  std::vector<int> order(classes);
  for (int t = 0; t < kTraitCount; ++t) {
    for (int c = 0; c < classes; ++c) order[c] = c;
    Rng rng(MixSeed(0x5EED5EED0000ull + t, classes));
    for (int i = classes - 1; i > 0; --i)
      std::swap(order[i], order[rng.Below(i + 1)]);
    traits[t] = (order[class_index] + 0.5) / classes;
  }
  return traits;
}

// Folds x back into [0, 1] at both ends.
double Reflect(double x) {
  x = std::fmod(std::abs(x), 2.0);
  return x > 1.0 ? 2.0 - x : x;
}

Traits TrackTraits(int class_index, int classes, Rng* rng) {
  Traits own = ClassTraits(class_index, classes);
  Traits traits;
  for (int t = 0; t < kTraitCount; ++t) {
    double centre = own[t];
    if (rng->Chance(kBorrowChance)) {
      int other = rng->Below(classes - 1);
      if (other >= class_index) ++other;
      centre = ClassTraits(other, classes)[t];
    }
    traits[t] = Reflect(centre + kTraitJitter * rng->Normal());
  }
  return traits;
}

// Scales as semitone offsets from the tonic.
const std::vector<std::vector<int>>& Scales() {
  static const std::vector<std::vector<int>> scales = {
      {0, 2, 4, 5, 7, 9, 11},  // Major.
      {0, 2, 4, 7, 9},         // Major pentatonic.
      {0, 2, 3, 5, 7, 9, 10},  // Dorian.
      {0, 2, 3, 5, 7, 8, 10},  // Natural minor.
      {0, 3, 5, 7, 10},        // Minor pentatonic.
      {0, 3, 5, 6, 7, 10},     // Blues.
      {0, 2, 3, 5, 7, 8, 11},  // Harmonic minor.
      {0, 2, 4, 6, 8, 10},     // Whole tone.
  };
  return scales;
}

// The MIDI note of scale degree `degree` (any integer) above `tonic`.
int DegreeToNote(const std::vector<int>& scale, int tonic, int degree) {
  int size = static_cast<int>(scale.size());
  int octave = degree >= 0 ? degree / size : -((-degree + size - 1) / size);
  return tonic + 12 * octave + scale[degree - octave * size];
}

struct Envelope {
  double attack_s;
  double decay_s;
  double sustain;  // Level after the decay, relative to the peak.
  double release_s;
};

// One pitched instrument: a bright and a dark table that it fades between
// after each onset, an envelope and vibrato.
struct Instrument {
  Table bright;
  Table dark;
  double bright_decay_s;
  Envelope envelope;
  double vibrato_depth;  // Relative frequency deviation.
  double vibrato_hz;
};

// The envelope of a note held `gate` samples: a linear attack, an
// exponential decay to the sustain level, an exponential release after the
// gate, and a 3 ms fade to silence at `stop` (when the next note of a
// monophonic instrument cuts it off). Times in samples.
class EnvelopeCurve {
 public:
  EnvelopeCurve(const Envelope& e, int64_t gate, int64_t stop, int sample_rate)
      : attack_(std::max(1.0, e.attack_s * sample_rate)),
        decay_(e.decay_s * sample_rate),
        release_(e.release_s * sample_rate),
        sustain_(e.sustain),
        gate_(gate),
        stop_(stop),
        fade_(std::max(1.0, 0.003 * sample_rate)),
        at_gate_(Held(static_cast<double>(gate))) {}

  // The level `t` samples after the onset.
  double At(int64_t t) const {
    double level = t < gate_ ? Held(static_cast<double>(t))
                             : at_gate_ * std::exp(-(t - gate_) / release_);
    return level * std::clamp((stop_ - t) / fade_, 0.0, 1.0);
  }
  // Samples from the onset until the release has fallen by 35 dB or the
  // note is stopped.
  int64_t Length() const {
    return std::min(stop_, gate_ + RoundToInt64(4.0 * release_));
  }

 private:
  double Held(double t) const {
    if (t < attack_) return t / attack_;
    return sustain_ + (1 - sustain_) * std::exp(-(t - attack_) / decay_);
  }

  double attack_, decay_, release_, sustain_;
  int64_t gate_;
  int64_t stop_;
  double fade_;
  double at_gate_;
};

// A stop time for notes that are never cut off.
constexpr int64_t kNever = INT64_MAX / 4;

// Adds one note to `out`: onset at sample `start` (may be negative), held
// for `gate` samples, then released, and silent from `stop` samples after
// the onset (kNever: when the release has died away). Envelope, brightness and
// vibrato are computed every kBlock samples and interpolated in between, so the
// inner loop is two table reads and a few multiplies.
void AddNote(const Instrument& ins, double hz, int64_t start, int64_t gate,
             int64_t stop, float amp, int sample_rate,
             std::vector<float>* out) {
  constexpr int64_t kBlock = 32;
  const int64_t n = static_cast<int64_t>(out->size());
  const EnvelopeCurve envelope(ins.envelope, gate, stop, sample_rate);
  const int64_t end = std::min(envelope.Length(), n - start);
  const double bright_decay = ins.bright_decay_s * sample_rate;
  const uint32_t base_inc = PhaseIncrement(hz, sample_rate);
  const uint32_t lfo_inc = PhaseIncrement(ins.vibrato_hz, sample_rate);
  const Table& sine = SineTable();

  int64_t t = std::max<int64_t>(0, -start);  // Samples since the onset.
  uint32_t phase = static_cast<uint32_t>(base_inc * static_cast<uint64_t>(t));
  double env0 = envelope.At(t);
  double bright0 = std::exp(-t / bright_decay);
  while (t < end) {
    const int64_t count = std::min(kBlock, end - t);
    const double env1 = envelope.At(t + count);
    const double bright1 = std::exp(-(t + count) / bright_decay);
    const uint32_t lfo_phase =
        static_cast<uint32_t>(lfo_inc * static_cast<uint64_t>(t));
    const uint32_t inc = static_cast<uint32_t>(
        base_inc * (1.0 + ins.vibrato_depth * Lookup(sine, lfo_phase)));
    float env = static_cast<float>(env0) * amp;
    const float env_step = static_cast<float>((env1 - env0) / count) * amp;
    float bright = static_cast<float>(bright0);
    const float bright_step = static_cast<float>((bright1 - bright0) / count);
    float* o = out->data() + start + t;
    if (bright0 < 1e-3) {  // The bright table no longer matters.
      for (int64_t k = 0; k < count; ++k) {
        o[k] += env * Lookup(ins.dark, phase);
        env += env_step;
        phase += inc;
      }
    } else {
      for (int64_t k = 0; k < count; ++k) {
        const float dark = Lookup(ins.dark, phase);
        o[k] += env * (dark + bright * (Lookup(ins.bright, phase) - dark));
        env += env_step;
        bright += bright_step;
        phase += inc;
      }
    }
    t += count;
    env0 = env1;
    bright0 = bright1;
  }
}

// A kick drum: a sine sweeping down from start_hz to end_hz, decaying.
void AddKick(int64_t start, float amp, double start_hz, double end_hz,
             double decay_s, int sample_rate, std::vector<float>* out) {
  const int64_t n = static_cast<int64_t>(out->size());
  const double sr = sample_rate;
  const int64_t end = std::min(n, start + RoundToInt64(decay_s * sr * 4));
  const double scale = 4294967296.0 / sr;
  const double sweep_coef = std::exp(-1.0 / (0.035 * sr));
  const float amp_coef = static_cast<float>(std::exp(-1.0 / (decay_s * sr)));
  const Table& sine = SineTable();
  double sweep = start_hz - end_hz;
  uint32_t phase = 0;
  float* o = out->data();
  for (int64_t i = start; i < end; ++i) {
    o[i] += amp * Lookup(sine, phase);
    phase += static_cast<uint32_t>((end_hz + sweep) * scale);
    sweep *= sweep_coef;
    amp *= amp_coef;
  }
}

// Coefficient of a one-pole low-pass with cut-off `hz`.
float OnePole(double hz, int sample_rate) {
  return static_cast<float>(1.0 - std::exp(-2.0 * kPi * hz / sample_rate));
}

// A noise burst band-limited to [low_hz, high_hz] (one-pole filters), with a
// short tone for the body of a snare (tone_amp may be 0).
void AddNoiseHit(int64_t start, float amp, double decay_s, double low_hz,
                 double high_hz, float tone_amp, double tone_hz,
                 int sample_rate, Rng* rng, std::vector<float>* out) {
  const int64_t n = static_cast<int64_t>(out->size());
  const int64_t end =
      std::min(n, start + RoundToInt64(decay_s * sample_rate * 4));
  const float hp = OnePole(low_hz, sample_rate);
  const float lp = OnePole(std::min(high_hz, 0.45 * sample_rate), sample_rate);
  const float amp_coef =
      static_cast<float>(std::exp(-1.0 / (decay_s * sample_rate)));
  const float tone_coef =
      static_cast<float>(std::exp(-1.0 / (0.04 * sample_rate)));
  const uint32_t tone_inc = PhaseIncrement(tone_hz, sample_rate);
  const Table& sine = SineTable();
  NoiseSource noise(rng);
  float low1 = 0, low2 = 0, band = 0;
  uint32_t phase = 0;
  float* o = out->data();
  for (int64_t i = start; i < end; ++i) {
    const float x = noise.Next();
    low1 += hp * (x - low1);
    low2 += hp * (x - low1 - low2);
    const float high = x - low1 - low2;  // Two-pole-ish high-pass.
    band += lp * (high - band);
    o[i] += amp * band + tone_amp * Lookup(sine, phase);
    phase += tone_inc;
    amp *= amp_coef;
    tone_amp *= tone_coef;
  }
}

// Drum patterns on 16 sixteenth-note steps: kick, snare and hi-hat
// probabilities per step.
struct DrumPattern {
  std::array<float, 16> kick;
  std::array<float, 16> snare;
  std::array<float, 16> hat;
};

const std::vector<DrumPattern>& DrumPatterns() {
  static const std::vector<DrumPattern> patterns = {
      // Four on the floor, off-beat hats.
      {{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, .2f},
       {0, 0, 0, 0, .8f, 0, 0, 0, 0, 0, 0, 0, .8f, 0, 0, 0},
       {0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, .3f}},
      // Rock backbeat, eighth-note hats.
      {{1, 0, 0, 0, 0, 0, 0, .3f, 1, 0, .6f, 0, 0, 0, 0, 0},
       {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, .2f},
       {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}},
      // Breakbeat, sixteenth hats.
      {{1, 0, .3f, 0, 0, 0, 0, 0, 0, 0, 1, .4f, 0, 0, 0, 0},
       {0, 0, 0, 0, 1, 0, 0, .3f, 0, .3f, 0, 0, 1, 0, 0, .3f},
       {1, .5f, 1, .5f, 1, .5f, 1, .5f, 1, .5f, 1, .5f, 1, .5f, 1, .5f}},
      // Half time.
      {{1, 0, 0, 0, 0, 0, .5f, 0, 0, 0, 0, 0, 0, 0, .3f, 0},
       {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
       {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}},
      // Sparse: kick on one, quarter-note hats, rim on three.
      {{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       {0, 0, 0, 0, 0, 0, 0, 0, .5f, 0, 0, 0, 0, 0, 0, 0},
       {.8f, 0, 0, 0, .8f, 0, 0, 0, .8f, 0, 0, 0, .8f, 0, 0, 0}},
  };
  return patterns;
}

// Everything about one track that is not the notes themselves.
struct TrackPlan {
  double bpm;
  double swing;  // Delay of odd sixteenths, fraction of a sixteenth.
  const std::vector<int>* scale;
  int melody_tonic;  // MIDI note.
  int bass_tonic;
  Instrument melody;
  Instrument bass;
  Instrument pad;
  double note_beats;  // Typical melody note length.
  double noise_cutoff_hz;
  double noise_db;  // Relative to the music's RMS.
  const DrumPattern* drums;
  double kick_start_hz, kick_end_hz, kick_decay_s;
  double snare_decay_s, snare_low_hz, hat_decay_s, hat_low_hz;
  float melody_level, bass_level, pad_level, drum_level;
  float peak;  // Final peak amplitude.
};

TrackPlan PlanTrack(const Traits& q, int sample_rate, Rng* rng) {
  TrackPlan p;
  p.bpm = 70.0 * std::pow(2.0, 1.25 * q[kTempo]);
  p.swing = rng->Chance(0.3) ? rng->Uniform(0.1, 0.4) : 0.0;
  const auto& scales = Scales();
  p.scale =
      &scales[std::min<int>(scales.size() - 1, q[kScale] * scales.size())];

  // Registers: a tonic near the class register in a random key.
  const int key = rng->Below(12);
  auto tonic_near = [key](double centre) {
    int note = static_cast<int>(std::lround(centre));
    int offset = ((key - note) % 12 + 12) % 12;
    return note + (offset > 6 ? offset - 12 : offset);
  };
  p.melody_tonic = tonic_near(52 + 28 * q[kMelodyRegister]);
  p.bass_tonic = tonic_near(29 + 14 * q[kBassRegister]);

  // Timbre.
  const int harmonics = 2 + static_cast<int>(std::lround(14 * q[kBrightness]));
  const double rolloff = 2.0 - 1.3 * q[kBrightness];
  const double even_gain = 1.0 - 0.95 * q[kOddness];
  const double e = q[kEnvelope];
  const Envelope envelope{0.004 * std::pow(2.0, 5 * e),
                          0.06 * std::pow(2.0, 4 * e), 0.1 + 0.7 * e,
                          0.04 + 0.4 * e};
  const double vibrato =
      (std::pow(2.0, 40 * q[kVibrato] * q[kVibrato] / 1200) - 1);
  const double melody_max_hz = MidiToHz(p.melody_tonic + 26);
  p.melody = {
      MakeTable(harmonics, rolloff, even_gain, melody_max_hz, sample_rate),
      MakeTable(std::max(1, harmonics / 3), rolloff + 1.0, even_gain,
                melody_max_hz, sample_rate),
      0.03 * std::pow(2.0, 4 * e),
      envelope,
      vibrato,
      rng->Uniform(4.5, 6.5)};
  const double bass_max_hz = MidiToHz(p.bass_tonic + 14);
  p.bass = {
      MakeTable(harmonics + 2, rolloff + 0.3, 1.0, bass_max_hz, sample_rate),
      MakeTable(2, 3.0, 1.0, bass_max_hz, sample_rate),
      0.05,
      {0.005, 0.15 + 0.3 * e, 0.5, 0.06},
      0,
      5};
  const double pad_max_hz = MidiToHz(p.melody_tonic + 14);
  p.pad = {MakeTable(std::max(2, harmonics / 2), rolloff + 0.5, even_gain,
                     pad_max_hz, sample_rate),
           MakeTable(2, 2.5, 1.0, pad_max_hz, sample_rate),
           0.5,
           {0.3, 1.0, 0.7, 0.25},
           vibrato * 0.5,
           rng->Uniform(4.0, 6.0)};

  p.note_beats = std::pow(2.0, 1.0 - 3.0 * q[kDensity]);
  p.noise_cutoff_hz = std::min(300.0 * std::pow(2.0, 5.5 * q[kNoiseColour]),
                               0.45 * sample_rate);
  p.noise_db = -38.0 + 28.0 * q[kNoiseLevel];

  const auto& patterns = DrumPatterns();
  p.drums = &patterns[std::min<int>(patterns.size() - 1,
                                    q[kDrumStyle] * patterns.size())];
  p.kick_start_hz = 90 + 120 * q[kDrumStyle] + rng->Uniform(-15, 15);
  p.kick_end_hz = 40 + 25 * q[kDrumStyle] + rng->Uniform(-5, 5);
  p.kick_decay_s = 0.04 + 0.1 * (1 - q[kDrumStyle]) + rng->Uniform(0, 0.03);
  p.snare_decay_s = rng->Uniform(0.05, 0.14);
  p.snare_low_hz = rng->Uniform(700, 1800);
  p.hat_decay_s = rng->Uniform(0.012, 0.05);
  p.hat_low_hz = std::min(rng->Uniform(3500, 7000), 0.3 * sample_rate);

  // Instrument mix: every track has a melody; the rest may be missing.
  p.melody_level = static_cast<float>(rng->Uniform(0.5, 1.0));
  p.bass_level =
      rng->Chance(0.9) ? static_cast<float>(rng->Uniform(0.4, 0.9)) : 0.0f;
  p.pad_level =
      rng->Chance(q[kPad]) ? static_cast<float>(rng->Uniform(0.2, 0.6)) : 0.0f;
  p.drum_level =
      rng->Chance(0.88) ? static_cast<float>(rng->Uniform(0.4, 1.0)) : 0.0f;
  p.peak = static_cast<float>(rng->Uniform(0.3, 0.97));
  return p;
}

// Renders the scheduled notes and hits of `plan` into `out`.
void RenderMusic(const TrackPlan& plan, int sample_rate, Rng* rng,
                 std::vector<float>* out) {
  const double sr = sample_rate;
  const int64_t n = static_cast<int64_t>(out->size());
  const double beat_s = 60.0 / plan.bpm;
  const double step_s = beat_s / 4;
  const double bar_s = beat_s * 4;
  const double offset_s = -rng->Uniform(0, bar_s);  // Where bar 0 starts.
  const int bars = static_cast<int>(std::ceil((n / sr - offset_s) / bar_s));
  const std::vector<int>& scale = *plan.scale;
  const int scale_size = static_cast<int>(scale.size());
  auto to_sample = [&](double s) { return RoundToInt64(s * sr); };

  // A four-bar chord progression as scale degrees of chord roots.
  static const std::array<std::array<int, 4>, 6> kProgressions = {{
      {0, 3, 4, 0},
      {0, 5, 3, 4},
      {0, 4, 5, 3},
      {5, 3, 0, 4},
      {0, 0, 3, 4},
      {0, 6, 5, 4},
  }};
  const auto& progression = kProgressions[rng->Below(6)];

  int melody_degree = rng->Below(scale_size);
  struct {
    double hz;
    int64_t start;
    int64_t gate;  // 0 before the first note.
    float amp;
  } melody = {0, 0, 0, 0};
  double melody_next_s = offset_s;
  for (int bar = 0; bar < bars; ++bar) {
    const double bar_start = offset_s + bar * bar_s;
    const int root = progression[bar % 4] % scale_size;
    // Breakdowns: some bars drop the drums or the melody.
    const bool drums_on = plan.drum_level > 0 && !rng->Chance(0.08);
    const bool melody_on = !rng->Chance(0.1);

    if (drums_on) {
      for (int s = 0; s < 16; ++s) {
        double t = bar_start + s * step_s + rng->Uniform(-0.004, 0.004);
        if (s % 2 == 1) t += plan.swing * step_s;
        const int64_t at = to_sample(t);
        if (at < 0 || at >= n) continue;
        const float level = plan.drum_level;
        if (rng->Chance(plan.drums->kick[s])) {
          AddKick(at, level * static_cast<float>(rng->Uniform(0.8, 1.0)),
                  plan.kick_start_hz, plan.kick_end_hz, plan.kick_decay_s,
                  sample_rate, out);
        }
        if (rng->Chance(plan.drums->snare[s])) {
          AddNoiseHit(at, level * static_cast<float>(rng->Uniform(0.4, 0.6)),
                      plan.snare_decay_s, plan.snare_low_hz, 8000, level * 0.3f,
                      185, sample_rate, rng, out);
        }
        if (rng->Chance(plan.drums->hat[s])) {
          const bool open = rng->Chance(0.05);
          AddNoiseHit(at, level * static_cast<float>(rng->Uniform(0.3, 0.5)),
                      open ? 0.15 : plan.hat_decay_s, plan.hat_low_hz, 16000, 0,
                      0, sample_rate, rng, out);
        }
      }
    }

    // Bass: the chord root on beats (sometimes eighths), octave jumps.
    if (plan.bass_level > 0) {
      const int per_beat = rng->Chance(0.3) ? 2 : 1;
      for (int k = 0; k < 4 * per_beat; ++k) {
        if (k > 0 && rng->Chance(0.15)) continue;
        const double t = bar_start + k * beat_s / per_beat;
        const int note = DegreeToNote(scale, plan.bass_tonic, root) +
                         (rng->Chance(0.2) ? 12 : 0);
        AddNote(plan.bass, MidiToHz(note), to_sample(t),
                to_sample(0.8 * beat_s / per_beat), kNever,
                plan.bass_level * static_cast<float>(rng->Uniform(0.8, 1.0)),
                sample_rate, out);
      }
    }

    // Pad: a triad on the chord root held for the bar, fading into the
    // next one.
    if (plan.pad_level > 0) {
      for (int v = 0; v < 3; ++v) {
        const int note =
            DegreeToNote(scale, plan.melody_tonic - 12, root + 2 * v);
        AddNote(plan.pad, MidiToHz(note), to_sample(bar_start),
                to_sample(bar_s * 0.95), to_sample(bar_s + 0.1),
                plan.pad_level / 3, sample_rate, out);
      }
    }

    // Melody: a random walk on the scale, note lengths around note_beats.
    while (melody_next_s < bar_start + bar_s) {
      static const double kLengthFactor[] = {0.5, 1, 1, 1, 2};
      const double beats = plan.note_beats * kLengthFactor[rng->Below(5)];
      const double length_s = std::max(beats, 0.25) * beat_s;
      const double t = melody_next_s;
      melody_next_s += length_s;
      if (!melody_on || rng->Chance(0.12)) continue;  // A rest.
      int step = rng->Below(5) - 2;
      if (rng->Chance(0.1)) step *= 3;
      // Stay within about an octave and a half, bouncing off the ends.
      const int lowest = -scale_size / 2;
      const int highest = scale_size * 3 / 2;
      melody_degree += step;
      if (melody_degree < lowest) melody_degree = 2 * lowest - melody_degree;
      if (melody_degree > highest) melody_degree = 2 * highest - melody_degree;
      melody_degree = std::clamp(melody_degree, lowest, highest);
      const int note = DegreeToNote(scale, plan.melody_tonic, melody_degree);
      // The melody is monophonic: a note rings until the next one starts.
      const int64_t start = to_sample(t);
      if (melody.gate > 0) {
        AddNote(plan.melody, melody.hz, melody.start, melody.gate,
                start - melody.start, melody.amp, sample_rate, out);
      }
      melody = {MidiToHz(note), start,
                to_sample(length_s * rng->Uniform(0.6, 0.95)),
                plan.melody_level * static_cast<float>(rng->Uniform(0.7, 1.0))};
    }
  }
  if (melody.gate > 0) {
    AddNote(plan.melody, melody.hz, melody.start, melody.gate, kNever,
            melody.amp, sample_rate, out);
  }
}

// Adds low-passed white noise at `db` relative to the RMS of `out`.
void AddBackgroundNoise(double cutoff_hz, double db, Rng* rng, int sample_rate,
                        std::vector<float>* out) {
  double energy = 0;
  for (float v : *out) energy += static_cast<double>(v) * v;
  const double rms = std::sqrt(energy / std::max<size_t>(1, out->size()));
  const float a = OnePole(cutoff_hz, sample_rate);
  // A one-pole low-pass of uniform noise (variance 1/3) has variance
  // a / (2 - a) / 3; scale it to unit RMS.
  const float gain =
      static_cast<float>(std::max(rms, 1e-3) * std::pow(10.0, db / 20) *
                         std::sqrt(3.0 * (2.0 - a) / a));
  NoiseSource noise(rng);
  float low = 0;
  for (float& v : *out) {
    low += a * (noise.Next() - low);
    v += gain * low;
  }
}

// ---------------------------------------------------------------------------
// Writing the dataset.

struct AudioFormat {
  const char* name;  // As given to --format; also the file extension.
  int sf_format;
};

constexpr AudioFormat kAudioFormats[] = {
    {"wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
    {"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
    {"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
    {"mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
};

// Sample rates an MPEG-1/2/2.5 layer III stream can have.
bool IsMp3SampleRate(int rate) {
  static const int kRates[] = {8000,  11025, 12000, 16000, 22050,
                               24000, 32000, 44100, 48000};
  return std::find(std::begin(kRates), std::end(kRates), rate) !=
         std::end(kRates);
}

// The highest track id: ids are written with 6 digits.
constexpr int64_t kMaxTracks = 999999;

const AudioFormat& ValidateOptions(const SynthOptions& o) {
  if (o.out_dir.empty()) {
    throw BadInput("--out: expected an output directory, got an empty path");
  }
  if (o.classes < 2 || o.classes > 64) {
    throw BadInput("--classes " + std::to_string(o.classes) +
                   ": expected 2..64 classes");
  }
  if (o.tracks_per_class < 1) {
    throw BadInput("--tracks-per-class " + std::to_string(o.tracks_per_class) +
                   ": expected at least 1 track per class");
  }
  if (static_cast<int64_t>(o.classes) * o.tracks_per_class > kMaxTracks) {
    throw BadInput("--tracks-per-class " + std::to_string(o.tracks_per_class) +
                   ": at most " + std::to_string(kMaxTracks) +
                   " tracks in all (6-digit track ids), got " +
                   std::to_string(o.classes) + " classes x " +
                   std::to_string(o.tracks_per_class));
  }
  if (!(o.seconds > 0 && o.seconds <= 600)) {
    throw BadInput("--seconds " + FormatNumber(o.seconds) +
                   ": expected a track length in (0, 600] seconds");
  }
  if (o.sample_rate < 8000 || o.sample_rate > 192000) {
    throw BadInput("--sample-rate " + std::to_string(o.sample_rate) +
                   ": expected 8000..192000 Hz");
  }
  if (o.jobs < 1) {
    throw BadInput("--jobs " + std::to_string(o.jobs) +
                   ": expected at least 1 thread");
  }
  const AudioFormat* format = nullptr;
  for (const AudioFormat& f : kAudioFormats) {
    if (o.format == f.name) format = &f;
  }
  if (format == nullptr) {
    throw BadInput("--format " + o.format + ": expected wav, flac, ogg or mp3");
  }
  if (o.format == "mp3" && !IsMp3SampleRate(o.sample_rate)) {
    throw BadInput("--sample-rate " + std::to_string(o.sample_rate) +
                   ": mp3 supports only 8000, 11025, 12000, 16000, 22050, "
                   "24000, 32000, 44100 and 48000 Hz");
  }
  SF_INFO info = {};
  info.samplerate = o.sample_rate;
  info.channels = 1;
  info.format = format->sf_format;
  if (!sf_format_check(&info)) {
    throw BadInput("--format " + o.format + ": this libsndfile (" +
                   sf_version_string() + ") cannot write it at " +
                   std::to_string(o.sample_rate) + " Hz");
  }
  return *format;
}

// AUDIO_DIR/ddd/dddddd.EXT for a track id, as in FMA.
std::string TrackPath(const std::string& audio_dir, int64_t id,
                      const char* ext) {
  char name[32];
  std::snprintf(name, sizeof(name), "%03d/%06d.%s", static_cast<int>(id / 1000),
                static_cast<int>(id), ext);
  return audio_dir + "/" + name;
}

// True when `path` is a complete file from an earlier run: libsndfile opens
// it, and it is mono at `sample_rate` with `frames` frames (MP3 decoders may
// pad or trim up to a few frames of 1152 samples, so MP3 allows 4 frames
// of slack either way).
bool IsComplete(const std::string& path, const AudioFormat& format,
                int sample_rate, int64_t frames) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  SF_INFO info = {};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) return false;
  sf_close(file);
  const bool mp3 = (format.sf_format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
  const int64_t slack = mp3 ? 4 * 1152 : 0;
  return (info.format & SF_FORMAT_TYPEMASK) ==
             (format.sf_format & SF_FORMAT_TYPEMASK) &&
         info.channels == 1 && info.samplerate == sample_rate &&
         std::abs(static_cast<int64_t>(info.frames) - frames) <= slack;
}

// Writes mono `samples` to `path` through a temporary file in the same
// directory (PATH.part), renamed when complete.
void WriteAudio(const std::string& path, const AudioFormat& format,
                int sample_rate, const std::vector<float>& samples) {
  const std::string part = path + ".part";
  SF_INFO info = {};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = format.sf_format;
  SNDFILE* file = sf_open(part.c_str(), SFM_WRITE, &info);
  if (file == nullptr) {
    throw RuntimeFailure("cannot write " + part + ": " + sf_strerror(nullptr));
  }
  sf_command(file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t frames = static_cast<sf_count_t>(samples.size());
  const sf_count_t written = sf_writef_float(file, samples.data(), frames);
  std::string error = written == frames ? "" : sf_strerror(file);
  if (sf_close(file) != 0 && error.empty()) error = "closing failed";
  if (!error.empty()) {
    std::error_code ignored;
    std::filesystem::remove(part, ignored);
    throw RuntimeFailure("cannot write " + part + ": " + error);
  }
  std::error_code ec;
  std::filesystem::rename(part, path, ec);
  if (ec) {
    throw RuntimeFailure("cannot rename " + part + " to " + path + ": " +
                         ec.message());
  }
}

// The seed of track `id` of a dataset with seed `seed`.
uint64_t TrackSeed(uint64_t seed, int64_t id) {
  return MixSeed(seed, static_cast<uint64_t>(id));
}

// Splits the ids of one class: a seeded shuffle, then 10% validation and 10%
// test (at least one each from 3 tracks up), the rest training. One track
// goes to training; two to training and validation.
void SplitClass(std::vector<int64_t> ids, uint64_t seed,
                std::vector<FmaTrack>* tracks) {
  Rng rng(seed);
  for (size_t i = ids.size(); i > 1; --i) {
    std::swap(ids[i - 1], ids[rng.Below(static_cast<int>(i))]);
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  int64_t validation = 0;
  int64_t test = 0;
  if (n == 2) {
    validation = 1;
  } else if (n >= 3) {
    validation = test = std::max<int64_t>(1, RoundToInt64(0.1 * n));
  }
  for (int64_t i = 0; i < n; ++i) {
    FmaTrack& track = (*tracks)[ids[i] - 1];
    track.split = i < validation          ? "validation"
                  : i < validation + test ? "test"
                                          : "training";
  }
}

}  // namespace

std::string SynthClassName(int index, int classes) {
  if (classes < 2 || classes > 64 || index < 0 || index >= classes) {
    throw BadInput("synth class " + std::to_string(index) + " of " +
                   std::to_string(classes) +
                   ": expected 2..64 classes and 0 <= class < classes");
  }
  static const char* const kGenres[] = {
      "Electronic",   "Experimental",  "Folk", "Hip-Hop",
      "Instrumental", "International", "Pop",  "Rock"};
  if (index < 8) return kGenres[index];
  char name[24];
  std::snprintf(name, sizeof(name), "class_%02d", index);
  return name;
}

std::vector<float> RenderSynthTrack(int class_index, int classes,
                                    uint64_t track_seed, double seconds,
                                    int sample_rate) {
  if (classes < 2 || classes > 64 || class_index < 0 ||
      class_index >= classes) {
    throw BadInput("synth class " + std::to_string(class_index) + " of " +
                   std::to_string(classes) +
                   ": expected 2..64 classes and 0 <= class < classes");
  }
  if (!(seconds > 0 && seconds <= 600)) {
    throw BadInput("synth track of " + FormatNumber(seconds) +
                   " s: expected a length in (0, 600] seconds");
  }
  if (sample_rate < 8000 || sample_rate > 192000) {
    throw BadInput("synth sample rate " + std::to_string(sample_rate) +
                   ": expected 8000..192000 Hz");
  }
  Rng rng(track_seed);
  const Traits traits = TrackTraits(class_index, classes, &rng);
  const TrackPlan plan = PlanTrack(traits, sample_rate, &rng);
  std::vector<float> out(
      static_cast<size_t>(RoundToInt64(seconds * sample_rate)), 0.0f);
  RenderMusic(plan, sample_rate, &rng, &out);
  AddBackgroundNoise(plan.noise_cutoff_hz, plan.noise_db, &rng, sample_rate,
                     &out);
  float peak = 0;
  for (float v : out) peak = std::max(peak, std::abs(v));
  if (peak > 0) {
    const float gain = plan.peak / peak;
    for (float& v : out) v = std::clamp(v * gain, -1.0f, 1.0f);
  }
  return out;
}

void WriteSynthDataset(const SynthOptions& options,
                       const std::function<void(int64_t, int64_t)>& progress) {
  const AudioFormat& format = ValidateOptions(options);
  const int classes = options.classes;
  const int64_t total =
      static_cast<int64_t>(classes) * options.tracks_per_class;
  const int64_t frames = RoundToInt64(options.seconds * options.sample_rate);

  // Track id i (1-based) has class (i - 1) % classes, so any prefix of the
  // ids is balanced.
  std::vector<FmaTrack> tracks(total);
  std::vector<std::vector<int64_t>> ids_of_class(classes);
  for (int64_t id = 1; id <= total; ++id) {
    const int c = static_cast<int>((id - 1) % classes);
    FmaTrack& track = tracks[id - 1];
    track.id = id;
    track.subset = "small";
    track.genre_top = SynthClassName(c, classes);
    track.title = "Synthetic " + track.genre_top + " " +
                  std::to_string(ids_of_class[c].size() + 1);
    track.artist = "hpo-prep synth";
    track.duration = static_cast<double>(frames) / options.sample_rate;
    ids_of_class[c].push_back(id);
  }
  for (int c = 0; c < classes; ++c) {
    SplitClass(ids_of_class[c], MixSeed(options.seed ^ 0x53504C4954ull, c),
               &tracks);
  }

  const std::string audio_dir = options.out_dir + "/audio";
  std::set<std::string> dirs;
  for (int64_t id = 1; id <= total; ++id) {
    const std::string path = TrackPath(audio_dir, id, format.name);
    dirs.insert(path.substr(0, path.rfind('/')));
  }
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      throw RuntimeFailure("cannot create directory " + dir + ": " +
                           ec.message());
    }
  }

  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // Guards done, error and calls of progress.
  int64_t done = 0;
  std::exception_ptr error;
  auto work = [&] {
    while (!failed.load()) {
      const int64_t index = next.fetch_add(1);
      if (index >= total) return;
      try {
        const int64_t id = index + 1;
        const std::string path = TrackPath(audio_dir, id, format.name);
        if (!IsComplete(path, format, options.sample_rate, frames)) {
          const int c = static_cast<int>(index % classes);
          WriteAudio(path, format, options.sample_rate,
                     RenderSynthTrack(c, classes, TrackSeed(options.seed, id),
                                      options.seconds, options.sample_rate));
        }
        std::lock_guard<std::mutex> lock(mutex);
        ++done;
        if (progress) progress(done, total);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  const int threads = static_cast<int>(std::min<int64_t>(options.jobs, total));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  // tracks.csv last, also through a temporary name, so that its presence
  // means the audio is complete.
  const std::string csv = options.out_dir + "/tracks.csv";
  WriteFmaTracks(csv + ".part", tracks);
  std::error_code ec;
  std::filesystem::rename(csv + ".part", csv, ec);
  if (ec) {
    throw RuntimeFailure("cannot rename " + csv + ".part to " + csv + ": " +
                         ec.message());
  }
}

}  // namespace hpo::features
