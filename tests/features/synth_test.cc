#include "features/synth.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "features/fma_metadata.h"
#include "tests/util/scratch_dir.h"

namespace hpo::features {
namespace {

namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;

// A mono file read back with libsndfile.
struct Audio {
  bool ok = false;
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;
};

Audio ReadAudio(const std::string& path) {
  Audio audio;
  SF_INFO info = {};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) return audio;
  audio.sample_rate = info.samplerate;
  audio.channels = info.channels;
  audio.samples.resize(static_cast<size_t>(info.frames) * info.channels);
  const sf_count_t read =
      sf_readf_float(file, audio.samples.data(), info.frames);
  sf_close(file);
  audio.ok = read == info.frames;
  return audio;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

SynthOptions SmallOptions(const std::string& out_dir) {
  SynthOptions options;
  options.out_dir = out_dir;
  options.classes = 3;
  options.tracks_per_class = 5;
  options.seconds = 2;
  options.seed = 11;
  return options;
}

std::string AudioPath(const std::string& out_dir, int64_t id,
                      const std::string& ext) {
  char name[32];
  std::snprintf(name, sizeof(name), "/audio/%03d/%06d.",
                static_cast<int>(id / 1000), static_cast<int>(id));
  return out_dir + name + ext;
}

// In-place radix-2 FFT of `re` + i `im`; the size must be a power of 2.
void Fft(std::vector<double>* re, std::vector<double>* im) {
  const size_t n = re->size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      std::swap((*re)[i], (*re)[j]);
      std::swap((*im)[i], (*im)[j]);
    }
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2 * kPi / len;
    std::vector<double> wr(len / 2), wi(len / 2);
    for (size_t k = 0; k < len / 2; ++k) {
      wr[k] = std::cos(angle * k);
      wi[k] = std::sin(angle * k);
    }
    for (size_t i = 0; i < n; i += len) {
      for (size_t k = 0; k < len / 2; ++k) {
        const size_t a = i + k, b = i + k + len / 2;
        const double xr = (*re)[b] * wr[k] - (*im)[b] * wi[k];
        const double xi = (*re)[b] * wi[k] + (*im)[b] * wr[k];
        (*re)[b] = (*re)[a] - xr;
        (*im)[b] = (*im)[a] - xi;
        (*re)[a] += xr;
        (*im)[a] += xi;
      }
    }
  }
}

// A coarse description of a track: the mean log power in 8 octave bands
// (from 31 Hz up) over 1024-sample frames, relative to the track's mean,
// and its standard deviation over the frames in each band.
std::vector<double> Describe(const std::vector<float>& x, int sample_rate) {
  constexpr size_t kFrame = 1024;
  constexpr int kBands = 8;
  std::vector<double> bands(kBands, 0);
  std::vector<double> squares(kBands, 0);
  int frames = 0;
  for (size_t start = 0; start + kFrame <= x.size(); start += kFrame) {
    std::vector<double> re(kFrame), im(kFrame, 0);
    for (size_t i = 0; i < kFrame; ++i) {
      re[i] = x[start + i] * (0.5 - 0.5 * std::cos(2 * kPi * i / kFrame));
    }
    Fft(&re, &im);
    for (int b = 0; b < kBands; ++b) {
      const double lo_hz = 31.25 * (1 << b);
      const size_t lo = static_cast<size_t>(lo_hz * kFrame / sample_rate);
      const size_t hi = std::min(kFrame / 2, 2 * lo + 1);
      double power = 1e-12;
      for (size_t k = std::max<size_t>(lo, 1); k < hi; ++k) {
        power += re[k] * re[k] + im[k] * im[k];
      }
      bands[b] += std::log(power);
      squares[b] += std::log(power) * std::log(power);
    }
    ++frames;
  }
  double mean = 0;
  std::vector<double> features;
  for (int b = 0; b < kBands; ++b) {
    bands[b] /= frames;
    mean += bands[b] / kBands;
    features.push_back(
        std::sqrt(std::max(0.0, squares[b] / frames - bands[b] * bands[b])));
  }
  for (double b : bands) features.push_back(b - mean);
  return features;
}

TEST(SynthTest, ClassNamesFollowFmaGenres) {
  EXPECT_EQ(SynthClassName(0, 8), "Electronic");
  EXPECT_EQ(SynthClassName(1, 8), "Experimental");
  EXPECT_EQ(SynthClassName(3, 8), "Hip-Hop");
  EXPECT_EQ(SynthClassName(7, 8), "Rock");
  EXPECT_EQ(SynthClassName(1, 2), "Experimental");
  EXPECT_EQ(SynthClassName(7, 10), "Rock");
  EXPECT_EQ(SynthClassName(8, 10), "class_08");
  EXPECT_EQ(SynthClassName(63, 64), "class_63");
  EXPECT_THROW(SynthClassName(8, 8), Error);
  EXPECT_THROW(SynthClassName(-1, 8), Error);
  EXPECT_THROW(SynthClassName(0, 65), Error);
}

TEST(SynthTest, SameArgumentsGiveSameSamples) {
  const std::vector<float> a = RenderSynthTrack(2, 8, 42, 3, 22050);
  const std::vector<float> b = RenderSynthTrack(2, 8, 42, 3, 22050);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, RenderSynthTrack(2, 8, 43, 3, 22050));
  EXPECT_NE(a, RenderSynthTrack(3, 8, 42, 3, 22050));
}

TEST(SynthTest, LengthRangeAndLoudness) {
  struct Case {
    double seconds;
    int sample_rate;
  };
  for (const Case& c : {Case{2, 22050}, Case{1.23456, 8000}, Case{0.5, 44100},
                        Case{0.75, 192000}}) {
    for (int cls = 0; cls < 4; ++cls) {
      SCOPED_TRACE(std::to_string(c.seconds) + " s at " +
                   std::to_string(c.sample_rate) + " Hz, class " +
                   std::to_string(cls));
      const std::vector<float> x =
          RenderSynthTrack(cls, 4, 100 + cls, c.seconds, c.sample_rate);
      ASSERT_EQ(static_cast<int64_t>(x.size()),
                std::llround(c.seconds * c.sample_rate));
      double energy = 0;
      float peak = 0;
      for (float v : x) {
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_LE(std::abs(v), 1.0f);
        energy += static_cast<double>(v) * v;
        peak = std::max(peak, std::abs(v));
      }
      EXPECT_GT(std::sqrt(energy / x.size()), 0.01);
      EXPECT_GT(peak, 0.25f);
    }
  }
}

TEST(SynthTest, RejectsOutOfRangeRenderArguments) {
  EXPECT_THROW(RenderSynthTrack(0, 1, 1, 1, 22050), Error);
  EXPECT_THROW(RenderSynthTrack(4, 4, 1, 1, 22050), Error);
  EXPECT_THROW(RenderSynthTrack(0, 4, 1, 0, 22050), Error);
  EXPECT_THROW(RenderSynthTrack(0, 4, 1, 601, 22050), Error);
  EXPECT_THROW(RenderSynthTrack(0, 4, 1, 1, 7999), Error);
}

// Classes differ in their spectral shape, but overlap: a nearest-class-mean
// classifier on octave-band levels, tested on held-out tracks, does much
// better than chance (1/8) but far from perfectly.
TEST(SynthTest, ClassesDifferMeasurablyButOverlap) {
  constexpr int kClasses = 8;
  constexpr int kTracks = 16;  // Half to fit the class means, half to test.
  constexpr int kRate = 16000;
  std::vector<std::vector<std::vector<double>>> stats(kClasses);
  for (int c = 0; c < kClasses; ++c) {
    for (int t = 0; t < kTracks; ++t) {
      stats[c].push_back(Describe(
          RenderSynthTrack(c, kClasses, 1000 + t * kClasses + c, 4, kRate),
          kRate));
    }
  }
  const size_t dims = stats[0][0].size();
  std::vector<std::vector<double>> means(kClasses,
                                         std::vector<double>(dims, 0));
  for (int c = 0; c < kClasses; ++c) {
    for (int t = 0; t < kTracks / 2; ++t) {
      for (size_t d = 0; d < dims; ++d) {
        means[c][d] += stats[c][t][d] / (kTracks / 2);
      }
    }
  }
  int correct = 0;
  for (int c = 0; c < kClasses; ++c) {
    for (int t = kTracks / 2; t < kTracks; ++t) {
      int best = 0;
      double best_distance = 1e300;
      for (int o = 0; o < kClasses; ++o) {
        double distance = 0;
        for (size_t d = 0; d < dims; ++d) {
          const double diff = stats[c][t][d] - means[o][d];
          distance += diff * diff;
        }
        if (distance < best_distance) {
          best_distance = distance;
          best = o;
        }
      }
      if (best == c) ++correct;
    }
  }
  const double accuracy = correct / (kClasses * kTracks / 2.0);
  // 44% when this was written.
  EXPECT_GT(accuracy, 0.3);
  EXPECT_LT(accuracy, 0.9);
}

TEST(SynthTest, WritesDatasetInFmaLayout) {
  testutil::ScratchDir dir("synth");
  ASSERT_FALSE(dir.path().empty());
  const SynthOptions options = SmallOptions(dir.path() + "/out");
  std::vector<std::pair<int64_t, int64_t>> calls;
  WriteSynthDataset(options, [&](int64_t done, int64_t total) {
    calls.emplace_back(done, total);
  });

  ASSERT_EQ(calls.size(), 15u);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].first, static_cast<int64_t>(i + 1));
    EXPECT_EQ(calls[i].second, 15);
  }
  for (int64_t id = 1; id <= 15; ++id) {
    const std::string path = AudioPath(options.out_dir, id, "wav");
    SCOPED_TRACE(path);
    const Audio audio = ReadAudio(path);
    ASSERT_TRUE(audio.ok);
    EXPECT_EQ(audio.channels, 1);
    EXPECT_EQ(audio.sample_rate, 22050);
    EXPECT_EQ(audio.samples.size(), 44100u);
    EXPECT_FALSE(fs::exists(path + ".part"));
  }
  EXPECT_TRUE(fs::exists(options.out_dir + "/audio/000/000002.wav"));
  EXPECT_FALSE(fs::exists(options.out_dir + "/audio/000/000016.wav"));
  EXPECT_FALSE(fs::exists(options.out_dir + "/tracks.csv.part"));

  FmaReadStats stats;
  const std::vector<FmaTrack> tracks =
      ReadFmaTracks(options.out_dir + "/tracks.csv", "small", &stats);
  EXPECT_EQ(stats.rows, 15);
  ASSERT_EQ(tracks.size(), 15u);
  std::map<std::string, std::map<std::string, int>> splits;  // genre, split
  for (size_t i = 0; i < tracks.size(); ++i) {
    const FmaTrack& t = tracks[i];
    EXPECT_EQ(t.id, static_cast<int64_t>(i + 1));
    EXPECT_EQ(t.subset, "small");
    EXPECT_EQ(t.genre_top, SynthClassName(static_cast<int>(i % 3), 3));
    EXPECT_NEAR(t.duration, 2.0, 1e-6);
    EXPECT_FALSE(t.title.empty());
    EXPECT_FALSE(t.artist.empty());
    EXPECT_EQ(FmaAudioPath(options.out_dir + "/audio", t.id),
              AudioPath(options.out_dir, t.id, "wav"));
    ++splits[t.genre_top][t.split];
  }
  ASSERT_EQ(splits.size(), 3u);
  for (const auto& [genre, counts] : splits) {
    SCOPED_TRACE(genre);
    EXPECT_EQ(counts.at("training"), 3);
    EXPECT_EQ(counts.at("validation"), 1);
    EXPECT_EQ(counts.at("test"), 1);
  }
}

TEST(SynthTest, SplitsEachClassEightyTenTen) {
  struct Case {
    int tracks_per_class, training, validation, test;
  };
  for (const Case& c :
       {Case{1, 1, 0, 0}, Case{2, 1, 1, 0}, Case{3, 1, 1, 1}, Case{10, 8, 1, 1},
        Case{20, 16, 2, 2}, Case{25, 19, 3, 3}}) {
    SCOPED_TRACE(std::to_string(c.tracks_per_class) + " tracks per class");
    testutil::ScratchDir dir("synth");
    SynthOptions options = SmallOptions(dir.path() + "/out");
    options.classes = 2;
    options.tracks_per_class = c.tracks_per_class;
    options.seconds = 0.05;
    options.sample_rate = 8000;
    WriteSynthDataset(options, nullptr);
    const std::vector<FmaTrack> tracks =
        ReadFmaTracks(options.out_dir + "/tracks.csv", "small", nullptr);
    ASSERT_EQ(static_cast<int>(tracks.size()), 2 * c.tracks_per_class);
    std::map<std::string, std::map<std::string, int>> splits;
    for (const FmaTrack& t : tracks) ++splits[t.genre_top][t.split];
    for (const auto& [genre, counts] : splits) {
      SCOPED_TRACE(genre);
      auto count = [&counts](const std::string& split) {
        auto it = counts.find(split);
        return it == counts.end() ? 0 : it->second;
      };
      EXPECT_EQ(count("training"), c.training);
      EXPECT_EQ(count("validation"), c.validation);
      EXPECT_EQ(count("test"), c.test);
    }
  }
}

TEST(SynthTest, SplitDependsOnSeed) {
  auto splits = [](uint64_t seed) {
    testutil::ScratchDir dir("synth");
    SynthOptions options = SmallOptions(dir.path() + "/out");
    options.tracks_per_class = 20;
    options.seconds = 0.05;
    options.sample_rate = 8000;
    options.seed = seed;
    WriteSynthDataset(options, nullptr);
    std::vector<std::string> result;
    for (const FmaTrack& t :
         ReadFmaTracks(options.out_dir + "/tracks.csv", "small", nullptr)) {
      result.push_back(t.split);
    }
    return result;
  };
  EXPECT_EQ(splits(5), splits(5));
  EXPECT_NE(splits(5), splits(6));
}

TEST(SynthTest, ThreadsDoNotChangeTheFiles) {
  testutil::ScratchDir dir("synth");
  SynthOptions one = SmallOptions(dir.path() + "/one");
  SynthOptions many = SmallOptions(dir.path() + "/many");
  many.jobs = 4;
  WriteSynthDataset(one, nullptr);
  WriteSynthDataset(many, nullptr);
  for (int64_t id = 1; id <= 15; ++id) {
    const std::string a = ReadBytes(AudioPath(one.out_dir, id, "wav"));
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, ReadBytes(AudioPath(many.out_dir, id, "wav"))) << id;
  }
  EXPECT_EQ(ReadBytes(one.out_dir + "/tracks.csv"),
            ReadBytes(many.out_dir + "/tracks.csv"));

  // A different seed gives different audio.
  SynthOptions other = SmallOptions(dir.path() + "/other");
  other.seed = one.seed + 1;
  WriteSynthDataset(other, nullptr);
  EXPECT_NE(ReadBytes(AudioPath(one.out_dir, 1, "wav")),
            ReadBytes(AudioPath(other.out_dir, 1, "wav")));
}

TEST(SynthTest, RerunKeepsCompleteFilesAndRedoesBrokenOnes) {
  testutil::ScratchDir dir("synth");
  SynthOptions options = SmallOptions(dir.path() + "/out");
  WriteSynthDataset(options, nullptr);

  const std::string kept = AudioPath(options.out_dir, 1, "wav");
  const std::string missing = AudioPath(options.out_dir, 2, "wav");
  const std::string truncated = AudioPath(options.out_dir, 3, "wav");
  const std::string original_missing = ReadBytes(missing);
  const std::string original_truncated = ReadBytes(truncated);
  // An old modification time that a rewrite would replace.
  const fs::file_time_type old_time =
      fs::last_write_time(kept) - std::chrono::hours(24 * 365);
  for (int64_t id = 1; id <= 15; ++id) {
    fs::last_write_time(AudioPath(options.out_dir, id, "wav"), old_time);
  }
  fs::remove(missing);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  // A leftover temporary file of an interrupted run.
  { std::ofstream(missing + ".part") << "partial"; }

  options.jobs = 2;
  int64_t calls = 0;
  WriteSynthDataset(options, [&calls](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 15);
  for (int64_t id = 1; id <= 15; ++id) {
    if (id == 2 || id == 3) continue;
    EXPECT_EQ(fs::last_write_time(AudioPath(options.out_dir, id, "wav")),
              old_time)
        << id;
  }
  EXPECT_EQ(ReadBytes(missing), original_missing);
  EXPECT_EQ(ReadBytes(truncated), original_truncated);
  EXPECT_NE(fs::last_write_time(truncated), old_time);
  EXPECT_FALSE(fs::exists(missing + ".part"));
}

// Expects `options` to be rejected as bad input with a message that names
// `option`.
void ExpectBadOption(const SynthOptions& options, const std::string& option) {
  SCOPED_TRACE(option);
  try {
    WriteSynthDataset(options, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(SynthTest, RejectsBadOptions) {
  testutil::ScratchDir dir("synth");
  const SynthOptions good = SmallOptions(dir.path() + "/out");
  SynthOptions o = good;
  o.out_dir = "";
  ExpectBadOption(o, "--out");
  for (int classes : {1, 65, 0, -3}) {
    o = good;
    o.classes = classes;
    ExpectBadOption(o, "--classes " + std::to_string(classes));
  }
  o = good;
  o.tracks_per_class = 0;
  ExpectBadOption(o, "--tracks-per-class 0");
  o = good;
  o.classes = 64;
  o.tracks_per_class = 20000;  // More than 999999 six-digit ids.
  ExpectBadOption(o, "--tracks-per-class 20000");
  for (double seconds : {0.0, -1.0, 600.5, std::nan("")}) {
    o = good;
    o.seconds = seconds;
    ExpectBadOption(o, "--seconds");
  }
  for (int rate : {7999, 192001}) {
    o = good;
    o.sample_rate = rate;
    ExpectBadOption(o, "--sample-rate " + std::to_string(rate));
  }
  for (const char* format : {"mp4", "WAV", ""}) {
    o = good;
    o.format = format;
    ExpectBadOption(o, "--format");
  }
  o = good;
  o.format = "mp3";
  o.sample_rate = 96000;  // Not an MPEG audio sample rate.
  ExpectBadOption(o, "--sample-rate 96000");
  o = good;
  o.jobs = 0;
  ExpectBadOption(o, "--jobs 0");
  // Nothing was written for any of them.
  EXPECT_FALSE(fs::exists(good.out_dir));
}

TEST(SynthTest, WriteFailuresAreRuntimeErrorsNamingTheFile) {
  testutil::ScratchDir dir("synth");
  SynthOptions options = SmallOptions(dir.path() + "/out");
  // A directory where the temporary file of track 4 would go.
  const std::string blocked = AudioPath(options.out_dir, 4, "wav") + ".part";
  fs::create_directories(blocked);
  try {
    WriteSynthDataset(options, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find(blocked), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(options.out_dir + "/tracks.csv"));

  // An output directory below a regular file cannot be created.
  { std::ofstream(dir.path() + "/file") << "x"; }
  options.out_dir = dir.path() + "/file/out";
  try {
    WriteSynthDataset(options, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find(options.out_dir), std::string::npos)
        << e.what();
  }
}

class SynthFormatTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthFormatTest, WritesFilesLibsndfileReadsBack) {
  testutil::ScratchDir dir("synth");
  SynthOptions options = SmallOptions(dir.path() + "/out");
  options.classes = 2;
  options.tracks_per_class = 1;
  options.seconds = 1.5;
  options.format = GetParam();
  WriteSynthDataset(options, nullptr);
  const std::string path = AudioPath(options.out_dir, 2, GetParam());
  const Audio audio = ReadAudio(path);
  ASSERT_TRUE(audio.ok) << path;
  EXPECT_EQ(audio.channels, 1);
  EXPECT_EQ(audio.sample_rate, 22050);
  // Lossy codecs may pad or trim a little; MP3 works in frames of 1152.
  EXPECT_NEAR(static_cast<double>(audio.samples.size()), 33075.0, 2304.0);
  float peak = 0;
  for (float v : audio.samples) peak = std::max(peak, std::abs(v));
  EXPECT_GT(peak, 0.1f);
  EXPECT_LE(peak, 1.0f);
  EXPECT_EQ(FmaAudioPath(options.out_dir + "/audio", 2), path);

  // A rerun keeps the files.
  const fs::file_time_type old_time =
      fs::last_write_time(path) - std::chrono::hours(1);
  fs::last_write_time(path, old_time);
  WriteSynthDataset(options, nullptr);
  EXPECT_EQ(fs::last_write_time(path), old_time);
}

INSTANTIATE_TEST_SUITE_P(Formats, SynthFormatTest,
                         ::testing::Values("wav", "flac", "ogg", "mp3"));

}  // namespace
}  // namespace hpo::features
