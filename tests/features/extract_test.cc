// ExtractClip, the per-track work of hpo-prep, against the plain pipeline.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "features/audio.h"
#include "features/mel.h"
#include "features/prep.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

TEST(ExtractTest, SegmentGeometry) {
  SegmentOptions s;  // 3 x 128, no overlap.
  EXPECT_EQ(SegmentStep(s), 128);
  EXPECT_EQ(SegmentFramesNeeded(s), 384);
  s.overlap = 0.5;
  EXPECT_EQ(SegmentStep(s), 64);
  EXPECT_EQ(SegmentFramesNeeded(s), 256);
  PrepOptions o;
  // 384 frames of a centred STFT with hop 512: 383 hops.
  EXPECT_EQ(ClipSamplesNeeded(o), 383 * 512);
  EXPECT_EQ(StftFrames(ClipSamplesNeeded(o), 2048, 512), 384);
  o.mel.n_fft = 2047;  // Odd: one sample more.
  EXPECT_EQ(StftFrames(ClipSamplesNeeded(o), 2047, 512), 384);
  EXPECT_EQ(StftFrames(ClipSamplesNeeded(o) - 1, 2047, 512), 383);
}

TEST(ExtractTest, PartialDecodeMatchesTheWholeClipPipeline) {
  // hpo-prep decodes only the ~9 s the segments need. The result must be
  // what decoding, resampling and analysing the whole clip gives, cropped
  // (apart from the last frames, whose windows reach past the crop).
  PrepOptions o;
  MelSpectrogram mel(o.mel);
  ClipFeatures clip = ExtractClip(testutil::FmaClipPath(), o, mel);
  EXPECT_NEAR(clip.seconds, 1321967 / 44100.0, 1e-9);
  ASSERT_EQ(clip.values.size(), 3u * 128 * 128);

  MonoAudio whole = DecodeMono(testutil::FmaClipPath());
  std::vector<float> y = Resample(whole.samples, 44100, 22050);
  Matrix full = mel.Compute(y);
  // The reference is the maximum of the cropped part, as in ExtractClip.
  Matrix crop;
  crop.rows = 128;
  crop.cols = 384;
  for (int r = 0; r < 128; ++r) {
    for (int c = 0; c < 384; ++c) crop.values.push_back(full.at(r, c));
  }
  PowerToDb(&crop, true);
  double worst = 0;
  for (int seg = 0; seg < 3; ++seg) {
    for (int r = 0; r < 128; ++r) {
      for (int c = 0; c < 128; ++c) {
        const int frame = seg * 128 + c;
        if (frame >= 384 - 4) continue;
        const double got = clip.values[(seg * 128 + r) * 128 + c];
        worst = std::max(worst, std::abs(got - crop.at(r, frame)));
      }
    }
  }
  EXPECT_LT(worst, 0.01) << "dB";
}

TEST(ExtractTest, ShortClipsArePaddedOrRefused) {
  PrepOptions o;
  o.min_seconds = 40;  // The clip is 29.98 s.
  MelSpectrogram mel(o.mel);
  try {
    ExtractClip(testutil::FmaClipPath(), o, mel);
    FAIL() << "expected a short-clip error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("only 29.98 s"), std::string::npos)
        << e.what();
  }
  // Asking for more than the clip holds zero-pads the end: 100 segments of
  // 128 frames is about 5 minutes.
  o.min_seconds = 0;
  o.segments.segments = 100;
  ClipFeatures clip = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(clip.values.size(), 100u * 128 * 128);
  // The last segment is silence: the floor, 80 dB below the maximum.
  EXPECT_EQ(clip.values.back(), -80.0f);
  EXPECT_GT(clip.values[0], -80.0f);
}

// The resampled clip, as ExtractClip sees it.
std::vector<float> ResampledClip(int rate) {
  MonoAudio whole = DecodeMono(testutil::FmaClipPath());
  return Resample(whole.samples, whole.sample_rate, rate);
}

TEST(ExtractTest, StftSegmentsAreTheClipsMagnitudesInDbOrLinear) {
  PrepOptions o;
  o.features = FeatureKind::kStft;
  o.mel.n_fft = 1024;
  o.mel.hop = 512;
  o.segments.segments = 2;
  o.segments.overlap = 0.5;  // Frames 0..127 and 64..191.
  const SampleLayout layout = LayoutFor(o);
  ASSERT_EQ(layout.sample_shape, (std::vector<int64_t>{1, 513, 128}));
  MelSpectrogram mel(o.mel);
  ClipFeatures db = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(db.values.size(), 2u * 513 * 128);
  o.stft_db = false;
  ClipFeatures linear = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(linear.values.size(), db.values.size());

  // The same frames of the whole clip's STFT (up to the crop's last frames,
  // whose windows reach past it).
  const std::vector<float> y = ResampledClip(22050);
  Matrix power = mel.StftPower(y);
  double peak = 0;
  for (int k = 0; k < 513; ++k) {
    for (int t = 0; t < 192; ++t) peak = std::max(peak, power.at(k, t));
  }
  double worst_rel = 0, worst_db = 0;
  for (int seg = 0; seg < 2; ++seg) {
    for (int k = 0; k < 513; ++k) {
      for (int c = 0; c < 124; ++c) {
        const double p = power.at(k, seg * 64 + c);
        const size_t i = (static_cast<size_t>(seg) * 513 + k) * 128 + c;
        const double magnitude = std::sqrt(p);
        if (magnitude > 1e-3 * std::sqrt(peak)) {
          worst_rel = std::max(
              worst_rel, std::abs(linear.values[i] - magnitude) / magnitude);
        }
        const double want = std::max(
            10 * std::log10(std::max(p, 1e-10)) - 10 * std::log10(peak), -80.0);
        worst_db = std::max(worst_db, std::abs(db.values[i] - want));
      }
    }
  }
  EXPECT_LT(worst_rel, 1e-4);
  EXPECT_LT(worst_db, 0.01);
}

TEST(ExtractTest, WaveSegmentsAreTheResampledSamplesAndStftWaveHoldsBoth) {
  PrepOptions o;
  o.features = FeatureKind::kWave;
  o.segments.frames = 16;
  o.segments.segments = 3;
  o.segments.overlap = 0.25;  // Steps of 12 frames: 6144 samples.
  SampleLayout layout = LayoutFor(o);
  ASSERT_EQ(layout.sample_shape, (std::vector<int64_t>{1, 16 * 512}));
  EXPECT_EQ(ClipSamplesNeeded(o), (2 * 12 + 16) * 512);
  MelSpectrogram mel(o.mel);
  ClipFeatures wave = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(wave.values.size(), 3u * 16 * 512);
  // Decoding only what the segments need changes the resampler's output
  // near the cut; well inside it, the samples are the whole clip's.
  const std::vector<float> y = ResampledClip(22050);
  double worst = 0;
  for (int seg = 0; seg < 3; ++seg) {
    for (int i = 0; i < 16 * 512 - 256; ++i) {
      worst = std::max(
          worst, static_cast<double>(std::abs(wave.values[seg * 16 * 512 + i] -
                                              y[seg * 12 * 512 + i])));
    }
  }
  EXPECT_LT(worst, 1e-4);

  o.features = FeatureKind::kStftWave;
  layout = LayoutFor(o);
  ASSERT_EQ(layout.parts.size(), 2u);
  EXPECT_EQ(layout.parts[0].kind, "stft");
  EXPECT_EQ(layout.parts[0].shape, (std::vector<int64_t>{1, 1025, 16}));
  EXPECT_EQ(layout.parts[1].offset, 1025 * 16);
  EXPECT_EQ(layout.sample_shape, (std::vector<int64_t>{1025 * 16 + 16 * 512}));
  ClipFeatures both = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(both.values.size(), 3u * (1025 * 16 + 16 * 512));
  o.features = FeatureKind::kStft;
  ClipFeatures stft = ExtractClip(testutil::FmaClipPath(), o, mel);
  // The spectrogram part is --features stft's (the crop differs by the
  // wave's last hop, so the frames whose windows reach it differ).
  double worst_db = 0;
  for (int seg = 0; seg < 3; ++seg) {
    const float* sample = both.values.data() + seg * (1025 * 16 + 16 * 512);
    for (int k = 0; k < 1025; ++k) {
      for (int c = 0; c < 16; ++c) {
        if (seg * 12 + c >= 40 - 4) continue;
        worst_db = std::max(
            worst_db,
            static_cast<double>(std::abs(
                sample[k * 16 + c] - stft.values[(seg * 1025 + k) * 16 + c])));
      }
    }
    EXPECT_TRUE(std::equal(sample + 1025 * 16, sample + 1025 * 16 + 16 * 512,
                           wave.values.data() + seg * 16 * 512))
        << "segment " << seg;
  }
  EXPECT_LT(worst_db, 0.01);
}

TEST(ExtractTest, AllSegmentsSpanTheWholeClip) {
  PrepOptions o;
  o.segments.segments = kAllSegments;
  o.segments.overlap = 0.5;
  EXPECT_EQ(ClipSamplesNeeded(o), 0);
  // 660,984 samples at 22050 Hz: 1290 whole hops; segments of 128 frames
  // every 64: 1 + (1290 - 128) / 64 = 19.
  EXPECT_EQ(SegmentsInClip(o, 660984), 19);
  EXPECT_EQ(SegmentsInClip(o, 128 * 512), 1);
  EXPECT_EQ(SegmentsInClip(o, 100), 1);  // Zero-padded to one.
  MelSpectrogram mel(o.mel);
  ClipFeatures clip = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(clip.values.size(), 19u * 128 * 128);
  // The last segment ends within the clip: not the padding's -80 dB floor.
  double loud = -80;
  for (size_t i = clip.values.size() - 128 * 128; i < clip.values.size(); ++i) {
    loud = std::max(loud, static_cast<double>(clip.values[i]));
  }
  EXPECT_GT(loud, -40.0);

  // Copies: a faster tempo makes a shorter clip and so fewer segments.
  o.augment = ParseAugmentations("", "0.8,1.25");
  ClipFeatures augmented = ExtractClip(testutil::FmaClipPath(), o, mel, true);
  // 0.8x: 826,230 samples, 1613 hops, 24 segments; 1.25x: 528,787
  // samples, 1032 hops, 15 segments.
  EXPECT_EQ(augmented.augmented_samples, 24 + 15);
  EXPECT_EQ(augmented.values.size(), (19u + 24 + 15) * 128 * 128);
}

TEST(ExtractTest, SpreadSegmentsStartAtEachNthOfTheClip) {
  PrepOptions o;
  o.segments.spread = true;  // 3 segments of 128 frames.
  EXPECT_EQ(ClipSamplesNeeded(o), 0);
  MelSpectrogram mel(o.mel);
  ClipFeatures clip = ExtractClip(testutil::FmaClipPath(), o, mel);
  ASSERT_EQ(clip.values.size(), 3u * 128 * 128);
  // 660,984 samples: 1290 whole hops, so the segments start at frames 0,
  // 430 and 860 (0, 10 and 20 s) of the clip's mel spectrogram, in dB
  // relative to the maximum of the frames up to the last one's end.
  std::vector<float> y = ResampledClip(22050);
  y.resize((860 + 128 - 1) * 512);
  Matrix m = mel.Compute(y);
  PowerToDb(&m, true);
  double worst = 0;
  for (int seg = 0; seg < 3; ++seg) {
    for (int r = 0; r < 128; ++r) {
      for (int c = 0; c < 128; ++c) {
        worst =
            std::max(worst, std::abs(clip.values[(seg * 128 + r) * 128 + c] -
                                     m.at(r, seg * 430 + c)));
      }
    }
  }
  EXPECT_LT(worst, 1e-4) << "dB";
}

}  // namespace
}  // namespace hpo::features
