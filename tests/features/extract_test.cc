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

}  // namespace
}  // namespace hpo::features
