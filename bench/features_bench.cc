// features_bench: what each stage of hpo-prep's audio pipeline costs on one
// real FMA clip (30 s, 44.1 kHz stereo MP3).
//
// Each stage runs once to warm up (FFTW plans, page cache, allocator), then
// --runs times; the median is printed in milliseconds per 30 s track:
//   (a) decode:   DecodeMono(path), the whole file, channels averaged;
//   (b) resample: Resample(mono, 44100 -> 22050) with libsoxr HQ;
//   (c) mel:      MelSpectrogram::Compute + PowerToDb(ref = max, top_db 80)
//                 over the whole resampled clip (n_fft 2048, hop 512,
//                 128 mels: 1291 frames), the plan made beforehand;
//   (d) what hpo-prep does per track by default: ExtractClip with default
//       PrepOptions, which decodes only the first ~9.1 s (3 segments of 128
//       frames plus a margin), resamples and computes 384 frames; with its
//       stages timed alone too.
// With --out DIR it also writes, for bench/mel_numpy_baseline.py, the
// resampled signal (DIR/signal_22050.npy, float32 [n]) and the dB mel matrix
// of (c) (DIR/mel_db.npy, float32 [128, frames]).
//
// Reproduce: build/bench/features_bench [--audio FILE.mp3] [--runs 20]
//            [--out DIR]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "features/audio.h"
#include "features/mel.h"
#include "features/npy.h"
#include "features/prep.h"

namespace {

using namespace hpo::features;

constexpr char kUsage[] =
    "Usage: features_bench [--audio FILE] [--runs N] [--out DIR]\n"
    "  --audio FILE  clip to measure (default: the FMA clip under "
    "tests/data)\n"
    "  --runs N      timed runs per stage; medians are printed (default 20)\n"
    "  --out DIR     also write signal_22050.npy and mel_db.npy there, for\n"
    "                bench/mel_numpy_baseline.py\n";

// prep.cc decodes this much past what the segments need (its
// kDecodeMarginSeconds); used here only to time ExtractClip's decode alone.
constexpr double kDecodeMarginSeconds = 0.25;

struct Options {
  std::string audio =
      std::string(HPO_SOURCE_DIR) + "/tests/data/fma/000/000002.mp3";
  int runs = 20;
  std::string out;
};

[[noreturn]] void Usage(const std::string& why) {
  hpo::bench::UsageError("features_bench", kUsage, why);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  hpo::bench::ParseFlagPairs(argc, argv, "features_bench", kUsage,
                             [&](const std::string& flag, const char* value) {
                               if (flag == "--audio") {
                                 o.audio = value;
                               } else if (flag == "--runs") {
                                 o.runs = std::atoi(value);
                               } else if (flag == "--out") {
                                 o.out = value;
                               } else {
                                 return false;
                               }
                               return true;
                             });
  if (o.runs < 1 || o.runs > 100000) Usage("--runs must be 1..100000");
  return o;
}

// Milliseconds of one call to `fn`, per run: one warm-up call first, then
// `runs` timed ones.
std::vector<double> Time(int runs, const std::function<void()>& fn) {
  fn();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const auto end = std::chrono::steady_clock::now();
    ms.push_back(
        std::chrono::duration<double, std::milli>(end - start).count());
  }
  return ms;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Row {
  std::string stage;
  std::string what;
  std::vector<double> ms;
};

void PrintRow(const Row& r) {
  const auto [lo, hi] = std::minmax_element(r.ms.begin(), r.ms.end());
  std::printf("%-26s %10.2f %10.2f %10.2f   %s\n", r.stage.c_str(),
              Median(r.ms), *lo, *hi, r.what.c_str());
}

std::vector<float> ToFloat(const Matrix& m) {
  return std::vector<float>(m.values.begin(), m.values.end());
}

int Run(const Options& o, const char* argv0) {
  std::printf(
      "features_bench: ms per track on %s, median (min, max) of %d runs "
      "after one warm-up, one thread\n",
      o.audio.c_str(), o.runs);
  std::printf("reproduce: %s --audio %s --runs %d%s%s\n", argv0,
              o.audio.c_str(), o.runs, o.out.empty() ? "" : " --out ",
              o.out.c_str());

  PrepOptions prep;  // hpo-prep's defaults.
  const MelOptions& mel_options = prep.mel;
  const int sr = mel_options.sample_rate;

  // Inputs of each stage, computed once.
  MonoAudio audio = DecodeMono(o.audio);
  const std::vector<float> y = Resample(audio.samples, audio.sample_rate, sr);
  MelSpectrogram mel(mel_options);
  Matrix db = mel.Compute(y);
  PowerToDb(&db, /*ref_max=*/true);
  const double track_seconds =
      static_cast<double>(audio.samples.size()) / audio.sample_rate;
  std::printf(
      "clip: %.2f s, %d Hz, %d channels -> %zu samples at %d Hz, mel %d x %d "
      "(n_fft %d, hop %d)\n\n",
      track_seconds, audio.sample_rate, audio.channels, y.size(), sr, db.rows,
      db.cols, mel_options.n_fft, mel_options.hop);

  std::vector<Row> rows;
  volatile size_t sink = 0;  // Keeps results alive.
  rows.push_back(
      {"(a) decode", "DecodeMono, whole file, to mono", Time(o.runs, [&] {
         sink = sink + DecodeMono(o.audio).samples.size();
       })});
  rows.push_back(
      {"(b) resample", "Resample 44.1k -> 22.05k, soxr HQ", Time(o.runs, [&] {
         sink = sink + Resample(audio.samples, audio.sample_rate, sr).size();
       })});
  rows.push_back({"(c) mel",
                  "Compute + PowerToDb, " + std::to_string(db.cols) + " frames",
                  Time(o.runs, [&] {
                    Matrix m = mel.Compute(y);
                    PowerToDb(&m, true);
                    sink = sink + m.values.size();
                  })});
  std::vector<double> full(o.runs);
  for (int i = 0; i < o.runs; ++i) {
    full[i] = rows[0].ms[i] + rows[1].ms[i] + rows[2].ms[i];
  }
  rows.push_back({"(a+b+c) whole track", "sum of the above, run by run", full});

  // (d): hpo-prep's default per-track work, and its stages alone.
  const int64_t need = ClipSamplesNeeded(prep);
  const double decode_seconds =
      static_cast<double>(need) / sr + kDecodeMarginSeconds;
  MonoAudio part = DecodeMono(o.audio, decode_seconds);
  std::vector<float> clip_y = Resample(part.samples, part.sample_rate, sr);
  clip_y.resize(static_cast<size_t>(need), 0.0f);  // As ExtractClip does.
  char what[160];
  std::snprintf(what, sizeof what,
                "ExtractClip, defaults: %.2f s decoded, %lld frames kept",
                decode_seconds,
                static_cast<long long>(
                    StftFrames(need, mel_options.n_fft, mel_options.hop)));
  rows.push_back({"(d) hpo-prep per track", what, Time(o.runs, [&] {
                    sink = sink + ExtractClip(o.audio, prep, mel).values.size();
                  })});
  std::snprintf(what, sizeof what, "DecodeMono(path, %.2f)", decode_seconds);
  rows.push_back({"    decode", what, Time(o.runs, [&] {
                    sink = sink +
                           DecodeMono(o.audio, decode_seconds).samples.size();
                  })});
  rows.push_back(
      {"    resample", "Resample of those samples", Time(o.runs, [&] {
         sink = sink + Resample(part.samples, part.sample_rate, sr).size();
       })});
  rows.push_back({"    mel",
                  "Compute + PowerToDb, " +
                      std::to_string(StftFrames(need, mel_options.n_fft,
                                                mel_options.hop)) +
                      " frames",
                  Time(o.runs, [&] {
                    Matrix m = mel.Compute(clip_y);
                    PowerToDb(&m, true);
                    sink = sink + m.values.size();
                  })});

  std::printf("%-26s %10s %10s %10s   %s\n", "stage", "median ms", "min ms",
              "max ms", "what");
  for (const Row& r : rows) PrintRow(r);

  const double whole = Median(rows[3].ms);
  const double per_track = Median(rows[4].ms);
  std::printf(
      "\nwhole 30 s track: %.2f ms = %.0fx real time; hpo-prep default: "
      "%.2f ms per track = %.1f tracks/s per core\n",
      whole, track_seconds * 1000.0 / whole, per_track, 1000.0 / per_track);
  // For bench/features_bench.sh.
  std::printf("hpo_mel_ms %.3f\nhpo_track_ms %.3f\nhpo_prep_track_ms %.3f\n",
              Median(rows[2].ms), whole, per_track);

  if (!o.out.empty()) {
    std::filesystem::create_directories(o.out);
    const std::string signal = o.out + "/signal_22050.npy";
    const std::string mel_db = o.out + "/mel_db.npy";
    WriteNpy(signal, DType::kFloat32, {static_cast<int64_t>(y.size())},
             y.data());
    const std::vector<float> values = ToFloat(db);
    WriteNpy(mel_db, DType::kFloat32, {db.rows, db.cols}, values.data());
    std::printf("wrote %s (float32 [%zu]) and %s (float32 [%d, %d])\n",
                signal.c_str(), y.size(), mel_db.c_str(), db.rows, db.cols);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  try {
    return Run(o, argv[0]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "features_bench: %s\n", e.what());
    return 1;
  }
}
