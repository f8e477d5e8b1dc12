// The mel pipeline against librosa 0.10.1's own outputs (tests/data/golden,
// computed for a fixed 3 s signal; README.json there gives each exact call).
#include "features/mel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "features/npy.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

std::string Golden(const std::string& name) {
  return testutil::SourcePath("tests/data/golden/" + name + ".npy");
}

std::vector<float> LoadFloats(const std::string& name,
                              std::vector<int64_t>* shape = nullptr) {
  NpyArray a = NpyArray::Open(Golden(name));
  EXPECT_EQ(a.dtype(), DType::kFloat32) << name;
  if (shape != nullptr) *shape = a.shape();
  return std::vector<float>(a.as<float>(), a.as<float>() + a.elements());
}

// Compares a power matrix with librosa's as the golden README asks: 1e-5
// relative on bins with energy (>= 1e-6 of the maximum), and elsewhere
// within 0.01 dB after the usual 80 dB top_db clipping.
void ExpectPowerMatches(const Matrix& m, const std::string& golden) {
  std::vector<int64_t> shape;
  std::vector<float> want = LoadFloats(golden, &shape);
  ASSERT_EQ(shape.size(), 2u);
  ASSERT_EQ(m.rows, shape[0]);
  ASSERT_EQ(m.cols, shape[1]);
  const double max_want = *std::max_element(want.begin(), want.end());
  int energetic = 0;
  double worst_rel = 0, worst_db = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = m.values[i];
    if (w >= 1e-6 * max_want) {
      ++energetic;
      worst_rel = std::max(worst_rel, std::abs(g - w) / w);
    } else {
      const double floor_db = 10 * std::log10(max_want) - 80;
      const double gd = std::max(10 * std::log10(std::max(1e-10, g)), floor_db);
      const double wd = std::max(10 * std::log10(std::max(1e-10, w)), floor_db);
      worst_db = std::max(worst_db, std::abs(gd - wd));
    }
  }
  EXPECT_GT(energetic, static_cast<int>(want.size() / 4)) << golden;
  EXPECT_LE(worst_rel, 1e-5) << golden;
  EXPECT_LE(worst_db, 0.01) << golden;
}

// Filter bank weights agree to 1e-5 of the largest weight.
void ExpectFilterBankMatches(const MelOptions& o, const std::string& golden) {
  Matrix fb = MelFilterBank(o);
  std::vector<int64_t> shape;
  std::vector<float> want = LoadFloats(golden, &shape);
  ASSERT_EQ(fb.rows, shape[0]);
  ASSERT_EQ(fb.cols, shape[1]);
  const float peak = *std::max_element(want.begin(), want.end());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(fb.values[i], want[i], 1e-5 * peak + 1e-6 * want[i])
        << golden << " weight " << i;
  }
}

TEST(MelTest, FilterBankSlaneyMatchesLibrosa) {
  MelOptions o;
  o.sample_rate = 44100;
  o.n_fft = 1024;
  o.n_mels = 128;
  ExpectFilterBankMatches(o, "melfb_44100_nfft1024_mels128");
}

TEST(MelTest, FilterBankHtkWithFminFmaxMatchesLibrosa) {
  MelOptions o;
  o.sample_rate = 16000;
  o.n_fft = 512;
  o.n_mels = 64;
  o.htk = true;
  o.fmin = 20;
  o.fmax = 8000;
  ExpectFilterBankMatches(o, "melfb_16000_nfft512_mels64_htk_fmin20");
}

TEST(MelTest, MelPowerMatchesLibrosa) {
  std::vector<float> y = LoadFloats("signal_22050");
  ASSERT_EQ(y.size(), 66150u);
  MelSpectrogram mel(MelOptions{});  // 22050 Hz, 2048, 512, 128 mels.
  ExpectPowerMatches(mel.Compute(y), "mel_power_22050_nfft2048_hop512_mels128");
}

// What `hpo-prep mel` does: an FFT that FFTW estimated instead of measured
// (CTest runs each test in a process of its own, so the size is planned
// here; the wisdom cache is pointed at an empty directory).
TEST(MelTest, MelPowerWithAnEstimatedFftPlanMatchesLibrosa) {
  testutil::ScratchDir dir("hpo_mel");
  ASSERT_FALSE(dir.path().empty());
  setenv("XDG_CACHE_HOME", dir.path().c_str(), 1);
  SetFftPlanning(FftPlanning::kEstimate);
  std::vector<float> y = LoadFloats("signal_22050");
  MelSpectrogram mel(MelOptions{});
  ExpectPowerMatches(mel.Compute(y), "mel_power_22050_nfft2048_hop512_mels128");
  SetFftPlanning(FftPlanning::kMeasure);
  unsetenv("XDG_CACHE_HOME");
}

TEST(MelTest, MelPowerHtkSmallFftMatchesLibrosa) {
  std::vector<float> y = LoadFloats("signal_22050");
  MelOptions o;
  o.n_fft = 1024;
  o.htk = true;
  MelSpectrogram mel(o);
  ExpectPowerMatches(mel.Compute(y),
                     "mel_power_22050_nfft1024_hop512_mels128_htk");
}

// The STFT power before the filter bank (hpo-prep --features stft) against
// numpy's FFT of the same centred, zero-padded, periodic-Hann frames, as
// librosa.stft(y, n_fft, hop_length, center=True, pad_mode='constant')
// defines them; and the librosa mel power is the filter bank times it.
TEST(MelTest, StftPowerMatchesNumpyAndUnderliesTheMelPower) {
  testutil::ScratchDir dir("hpo_stft");
  ASSERT_FALSE(dir.path().empty());
  const std::string out = dir.path() + "/stft.npy";
  const std::string script = dir.path() + "/stft.py";
  std::ofstream(script)
      << "import sys, numpy as np\n"
         "y = np.load(sys.argv[1]).astype(np.float64)\n"
         "n_fft, hop = 2048, 512\n"
         "w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)\n"
         "p = np.pad(y, n_fft // 2)\n"
         "t = 1 + (len(p) - n_fft) // hop\n"
         "f = np.stack([p[i * hop:i * hop + n_fft] * w for i in range(t)])\n"
         "np.save(sys.argv[2], np.ascontiguousarray((np.abs(np.fft.rfft(f, "
         "axis=1)) ** 2).T"
         ".astype(np.float32)))\n";
  const std::string command =
      "/usr/bin/python3 " + script + " " + Golden("signal_22050") + " " + out;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  NpyArray want = NpyArray::Open(out);
  ASSERT_EQ(want.shape(), (std::vector<int64_t>{1025, 130}));
  std::vector<float> y = LoadFloats("signal_22050");
  MelSpectrogram mel(MelOptions{});
  Matrix power = mel.StftPower(y);
  ASSERT_EQ(power.rows, 1025);
  ASSERT_EQ(power.cols, 130);
  const float* w = want.as<float>();
  const double peak = *std::max_element(w, w + want.elements());
  double worst = 0;
  for (int64_t i = 0; i < want.elements(); ++i) {
    if (w[i] >= 1e-6 * peak) {
      worst = std::max(worst, std::abs(power.values[i] - w[i]) / w[i]);
    } else {
      EXPECT_LE(power.values[i], 2e-6 * peak) << i;
    }
  }
  EXPECT_LE(worst, 1e-6);  // float32 rounding of the reference.

  // The mel power librosa computed is the filter bank applied to it.
  Matrix fb = MelFilterBank(MelOptions{});
  Matrix m;
  m.rows = fb.rows;
  m.cols = power.cols;
  for (int i = 0; i < fb.rows; ++i) {
    for (int t = 0; t < power.cols; ++t) {
      double sum = 0;
      for (int k = 0; k < fb.cols; ++k) sum += fb.at(i, k) * power.at(k, t);
      m.values.push_back(sum);
    }
  }
  ExpectPowerMatches(m, "mel_power_22050_nfft2048_hop512_mels128");
}

TEST(MelTest, PowerToDbWithRefMaxMatchesLibrosa) {
  std::vector<float> y = LoadFloats("signal_22050");
  MelSpectrogram mel(MelOptions{});
  Matrix m = mel.Compute(y);
  PowerToDb(&m, /*ref_max=*/true);
  std::vector<float> want =
      LoadFloats("mel_db_refmax_22050_nfft2048_hop512_mels128");
  ASSERT_EQ(m.values.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(m.values[i] - want[i]));
  }
  EXPECT_LE(worst, 0.01);
  EXPECT_DOUBLE_EQ(*std::max_element(m.values.begin(), m.values.end()), 0.0);
  EXPECT_DOUBLE_EQ(*std::min_element(m.values.begin(), m.values.end()), -80.0);
}

TEST(MelTest, PowerToDbWithUnitRefAndNoTopDb) {
  Matrix m;
  m.rows = 1;
  m.cols = 3;
  m.values = {1.0, 1e-3, 0.0};
  PowerToDb(&m, /*ref_max=*/false, 1e-10, /*top_db=*/0);
  EXPECT_DOUBLE_EQ(m.values[0], 0.0);
  EXPECT_NEAR(m.values[1], -30.0, 1e-12);
  EXPECT_NEAR(m.values[2], -100.0, 1e-12);  // amin = 1e-10.
}

TEST(MelTest, FrameCountsFollowCentredStft) {
  EXPECT_EQ(StftFrames(66150, 2048, 512), 130);
  EXPECT_EQ(StftFrames(0, 2048, 512), 1);
  EXPECT_EQ(StftFrames(65024, 2048, 512), 128);  // 127 hops: 128 frames.
  EXPECT_EQ(StftFrames(10, 9, 4), 3);            // Odd n_fft: 1 + 9 / 4.
}

TEST(MelTest, ScalesRoundTrip) {
  for (bool htk : {false, true}) {
    for (double hz : {0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0}) {
      EXPECT_NEAR(MelToHz(HzToMel(hz, htk), htk), hz, 1e-9 * (1 + hz));
    }
  }
  EXPECT_NEAR(HzToMel(1000, false), 15.0, 1e-12);
  EXPECT_NEAR(HzToMel(1000, true), 999.9855, 1e-3);
}

TEST(MelTest, BadOptionsNameTheFlag) {
  MelOptions o;
  o.hop = 0;
  try {
    ValidateMelOptions(o);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--hop 0"), std::string::npos);
  }
  o = MelOptions{};
  o.fmax = 20000;  // Above 11025 Hz.
  EXPECT_THROW(ValidateMelOptions(o), std::exception);
  o = MelOptions{};
  o.fmin = 12000;
  EXPECT_THROW(ValidateMelOptions(o), std::exception);
}

}  // namespace
}  // namespace hpo::features
