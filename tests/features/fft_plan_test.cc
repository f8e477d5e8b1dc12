// FFTW plans and their wisdom cache (features/fft_plan.h). Plans are kept
// per size for the whole process, so each test uses FFT sizes of its own.
#include "features/fft_plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "features/mel.h"
#include "tests/util/scratch_dir.h"

namespace hpo::features {
namespace {

namespace fs = std::filesystem;

// Sets XDG_CACHE_HOME for the life of the object.
class CacheHome {
 public:
  explicit CacheHome(const std::string& dir) {
    const char* old = getenv("XDG_CACHE_HOME");
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~CacheHome() {
    if (had_) {
      setenv("XDG_CACHE_HOME", old_.c_str(), 1);
    } else {
      unsetenv("XDG_CACHE_HOME");
    }
    SetFftPlanning(FftPlanning::kMeasure);
  }

 private:
  bool had_ = false;
  std::string old_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A mel power matrix of a fixed chirp with FFT size n.
Matrix Chirp(int n) {
  MelOptions o;
  o.n_fft = n;
  o.hop = n / 4;
  o.n_mels = 32;
  std::vector<float> y(22050);
  for (size_t i = 0; i < y.size(); ++i) {
    const double t = static_cast<double>(i) / 22050;
    y[i] = static_cast<float>(std::sin(2 * M_PI * (200 + 2000 * t) * t));
  }
  MelSpectrogram mel(o);
  return mel.Compute(y);
}

TEST(FftPlanTest, WisdomPathFollowsXdgCacheHomeThenHome) {
  CacheHome cache("/some/cache");
  EXPECT_EQ(FftWisdomPath(), "/some/cache/hpo/fftw-wisdom");
  unsetenv("XDG_CACHE_HOME");
  const char* home = getenv("HOME");
  if (home != nullptr && *home != '\0') {
    EXPECT_EQ(FftWisdomPath(), std::string(home) + "/.cache/hpo/fftw-wisdom");
  }
}

TEST(FftPlanTest, AMeasuredSizeIsCachedAndAnEstimatedOneIsNot) {
  testutil::ScratchDir dir("hpo_fft");
  ASSERT_FALSE(dir.path().empty());
  CacheHome cache(dir.path());
  const std::string wisdom = dir.path() + "/hpo/fftw-wisdom";

  SetFftPlanning(FftPlanning::kEstimate);
  const Matrix estimated = Chirp(1000);
  EXPECT_FALSE(fs::exists(wisdom)) << "estimating must not write the cache";

  SetFftPlanning(FftPlanning::kMeasure);
  const Matrix measured = Chirp(1004);
  ASSERT_TRUE(fs::exists(wisdom));
  const std::string text = ReadFile(wisdom);
  EXPECT_NE(text.find("fftw_wisdom"), std::string::npos) << text;
  // The cache is written whole through a rename: no temporary file is left.
  for (const auto& entry : fs::directory_iterator(dir.path() + "/hpo")) {
    EXPECT_EQ(entry.path().filename(), "fftw-wisdom") << entry.path();
  }
  // A plan that FFTW estimated computes what a measured one does.
  SetFftPlanning(FftPlanning::kEstimate);
  const Matrix again = Chirp(1004);  // The process keeps the measured plan.
  EXPECT_EQ(estimated.rows, 32);
  ASSERT_EQ(measured.values.size(), again.values.size());
  for (size_t i = 0; i < measured.values.size(); ++i) {
    ASSERT_EQ(measured.values[i], again.values[i]) << i;
  }
}

TEST(FftPlanTest, AnUnwritableCacheIsNoError) {
  CacheHome cache("/proc/no-such-dir");
  SetFftPlanning(FftPlanning::kMeasure);
  const Matrix m = Chirp(1008);
  EXPECT_EQ(m.rows, 32);
  EXPECT_FALSE(fs::exists("/proc/no-such-dir/hpo/fftw-wisdom"));
}

}  // namespace
}  // namespace hpo::features
