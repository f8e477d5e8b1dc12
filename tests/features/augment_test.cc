// Rubber Band's pitch shifts and tempo changes as hpo-prep renders them:
// a tone's frequency moves by the semitones asked for (and not at all for a
// tempo change), lengths come out exact, bad lists are one-line errors.
#include "features/augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/error.h"

namespace hpo::features {
namespace {

constexpr int kRate = 16000;

std::vector<float> Tone(double hz, double seconds) {
  std::vector<float> y(static_cast<size_t>(seconds * kRate));
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * hz * i / kRate));
  }
  return y;
}

// The frequency (searched in 0.5 Hz steps over lo..hi) with the most energy
// in the middle second of `y`, by a direct DFT at each candidate.
double DominantHz(const std::vector<float>& y, double lo, double hi) {
  const size_t mid = y.size() / 2;
  const size_t from = mid - kRate / 2, to = mid + kRate / 2;
  double best_hz = 0, best = -1;
  for (double hz = lo; hz <= hi; hz += 0.5) {
    double re = 0, im = 0;
    for (size_t i = from; i < to; ++i) {
      re += y[i] * std::cos(2 * M_PI * hz * i / kRate);
      im += y[i] * std::sin(2 * M_PI * hz * i / kRate);
    }
    if (re * re + im * im > best) {
      best = re * re + im * im;
      best_hz = hz;
    }
  }
  return best_hz;
}

double Rms(const std::vector<float>& y, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += y[i] * y[i];
  return std::sqrt(s / (to - from));
}

TEST(AugmentTest, PitchShiftMovesATonePerSemitoneAndKeepsItsLength) {
  const std::vector<float> tone = Tone(440, 4);
  for (double semitones : {-1.0, 1.0}) {
    const Augmentation a{Augmentation::Kind::kPitchShift, semitones};
    const std::vector<float> out = RenderAugmentation(tone, kRate, a);
    ASSERT_EQ(out.size(), tone.size()) << AugmentationName(a);
    const double want = 440 * std::pow(2.0, semitones / 12);  // 415.3, 466.2
    EXPECT_NEAR(DominantHz(out, 380, 500), want, 1.0) << AugmentationName(a);
    // The level is kept (no silence, no blow-up) through the clip.
    EXPECT_NEAR(Rms(out, kRate, 3 * kRate), Rms(tone, kRate, 3 * kRate), 0.05);
  }
}

TEST(AugmentTest, TempoChangesTheLengthNotThePitch) {
  const std::vector<float> tone = Tone(440, 4);
  for (double tempo : {0.93, 1.07}) {
    const Augmentation a{Augmentation::Kind::kTempo, tempo};
    const std::vector<float> out = RenderAugmentation(tone, kRate, a);
    EXPECT_EQ(out.size(),
              static_cast<size_t>(std::llround(tone.size() / tempo)))
        << AugmentationName(a);
    EXPECT_NEAR(DominantHz(out, 380, 500), 440, 1.0) << AugmentationName(a);
    EXPECT_NEAR(Rms(out, kRate, 3 * kRate), Rms(tone, kRate, 3 * kRate), 0.05);
  }
  // What a copy reads to give n samples.
  EXPECT_EQ(InputSamplesFor({Augmentation::Kind::kTempo, 1.07}, 1000), 1070);
  EXPECT_EQ(InputSamplesFor({Augmentation::Kind::kTempo, 0.93}, 1000), 930);
  EXPECT_EQ(InputSamplesFor({Augmentation::Kind::kPitchShift, 1}, 1000), 1000);
}

TEST(AugmentTest, OnsetsMoveWithTheTempo) {
  // Clicks every 0.5 s; at 1.07x they come every 0.5 / 1.07 s.
  std::vector<float> clicks(4 * kRate, 0.0f);
  for (int k = 1; k < 8; ++k) {
    for (int i = 0; i < 80; ++i) {
      clicks[k * kRate / 2 + i] =
          0.8f * static_cast<float>(std::sin(2 * M_PI * 1000.0 * i / kRate));
    }
  }
  const double tempo = 1.07;
  const std::vector<float> out =
      RenderAugmentation(clicks, kRate, {Augmentation::Kind::kTempo, tempo});
  for (int k = 2; k < 7; ++k) {
    const double at = k * 0.5 / tempo * kRate;
    // The 20 ms around the moved onset hold far more energy than the 20 ms
    // halfway to the next one.
    const size_t on = static_cast<size_t>(at), off = on + kRate / 4;
    EXPECT_GT(Rms(out, on - 160, on + 160), 5 * Rms(out, off - 160, off + 160))
        << "click " << k;
  }
}

TEST(AugmentTest, ListsParseAndBadValuesAreNamed) {
  std::vector<Augmentation> a = ParseAugmentations("-1,1", "0.93,1.07");
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(AugmentationName(a[0]), "pitch_shift:-1");
  EXPECT_EQ(AugmentationName(a[1]), "pitch_shift:+1");
  EXPECT_EQ(AugmentationName(a[2]), "tempo:0.93");
  EXPECT_EQ(AugmentationName(a[3]), "tempo:1.07");
  EXPECT_TRUE(ParseAugmentations("", "").empty());
  auto error = [](const std::string& p, const std::string& t) {
    try {
      ParseAugmentations(p, t);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("-1,x", "").find("--pitch-shift -1,x: \"x\" is not a number"),
            std::string::npos);
  EXPECT_NE(error("0", "").find("non-zero"), std::string::npos);
  EXPECT_NE(error("13", "").find("-12..12"), std::string::npos);
  EXPECT_NE(error("", "1").find("--tempo 1:"), std::string::npos);
  EXPECT_NE(error("", "3").find("0.5..2"), std::string::npos);
  EXPECT_NE(error("1,1", "").find("listed twice"), std::string::npos);
  EXPECT_NE(error("1,", "").find("is not a number"), std::string::npos);
}

}  // namespace
}  // namespace hpo::features
