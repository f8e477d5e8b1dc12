// Decoding and resampling on the real FMA clip (tests/data/fma) and on files
// written here with libsndfile.
#include "features/audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

void WriteWav(const std::string& path, const std::vector<float>& interleaved,
              int channels, int rate) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, interleaved.data(), interleaved.size() / channels);
  sf_close(f);
}

TEST(AudioTest, DecodesTheFmaMp3ToItsExactLength) {
  AudioInfo info;
  std::vector<float> samples =
      DecodeInterleaved(testutil::FmaClipPath(), &info);
  EXPECT_EQ(info.sample_rate, 44100);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.frames, 1321967);
  EXPECT_EQ(samples.size(), 2u * 1321967);
  // Not clipped: the clip's peak is slightly above 1.0.
  float peak = 0;
  for (float s : samples) peak = std::max(peak, std::abs(s));
  EXPECT_GT(peak, 1.0f);
  EXPECT_LT(peak, 1.5f);
  // The header agrees before decoding, so partial decodes know the length.
  EXPECT_EQ(ReadAudioInfo(testutil::FmaClipPath()).frames, 1321967);
}

TEST(AudioTest, MonoIsTheMeanOfChannelsAndCanStopEarly) {
  AudioInfo info;
  std::vector<float> stereo = DecodeInterleaved(testutil::FmaClipPath(), &info);
  MonoAudio mono = DecodeMono(testutil::FmaClipPath(), 100000.0 / 44100);
  EXPECT_EQ(mono.sample_rate, 44100);
  EXPECT_EQ(mono.channels, 2);
  EXPECT_EQ(mono.file_frames, 1321967);
  ASSERT_EQ(mono.samples.size(), 100000u);
  for (size_t i = 0; i < mono.samples.size(); i += 997) {
    EXPECT_FLOAT_EQ(mono.samples[i], (stereo[2 * i] + stereo[2 * i + 1]) / 2);
  }
  // Asking for more than the file holds returns what there is.
  EXPECT_EQ(DecodeMono(testutil::FmaClipPath(), 60.0).samples.size(), 1321967u);
}

TEST(AudioTest, ResampleGivesLibrosasLengthAndKeepsATone) {
  const int in_rate = 44100, out_rate = 22050;
  std::vector<float> tone(44101);
  for (size_t i = 0; i < tone.size(); ++i) {
    tone[i] = 0.5f * std::sin(2 * M_PI * 440.0 * i / in_rate);
  }
  EXPECT_EQ(ResampledLength(44101, in_rate, out_rate), 22051);  // ceil.
  std::vector<float> out = Resample(tone, in_rate, out_rate);
  ASSERT_EQ(out.size(), 22051u);
  // Away from the edges the tone is the same tone at the new rate.
  double worst = 0;
  for (size_t i = 1000; i < 21000; ++i) {
    double want = 0.5 * std::sin(2 * M_PI * 440.0 * i / out_rate);
    worst = std::max(worst, std::abs(out[i] - want));
  }
  EXPECT_LT(worst, 1e-3);
  EXPECT_EQ(ResampledLength(1000, 16000, 22050), 1379);  // 1378.125 -> 1379
  EXPECT_EQ(Resample(tone, 22050, 22050), tone);
  EXPECT_TRUE(Resample({}, 44100, 22050).empty());
}

TEST(AudioTest, ReadsWavOfAnyChannelCount) {
  testutil::ScratchDir dir("audio");
  const std::string path = dir.path() + "/three.wav";
  std::vector<float> data;
  for (int i = 0; i < 100; ++i) {
    data.insert(data.end(), {0.3f, -0.3f, 0.6f});
  }
  WriteWav(path, data, 3, 8000);
  MonoAudio mono = DecodeMono(path);
  EXPECT_EQ(mono.sample_rate, 8000);
  EXPECT_EQ(mono.channels, 3);
  ASSERT_EQ(mono.samples.size(), 100u);
  EXPECT_NEAR(mono.samples[50], 0.2f, 1e-6);
}

TEST(AudioTest, UnreadableFilesAreBadInputNamingTheFile) {
  testutil::ScratchDir dir("audio");
  const std::string path = dir.path() + "/not_audio.mp3";
  std::ofstream(path) << "this is not an mp3 file at all, just text";
  try {
    DecodeMono(path);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(ReadAudioInfo(dir.path() + "/missing.wav"), std::exception);
}

}  // namespace
}  // namespace hpo::features
