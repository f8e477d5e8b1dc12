// augment_bench: the two Debian libraries that could render hpo-prep's
// training-clip augmentation (pitch shifts of +-1 semitone, tempo 0.93x and
// 1.07x, as seed 003 did), side by side in one run:
//   - SoX 14.4 (libsox): its "tempo -m" (music) effect, and for a pitch
//     shift that effect then libsoxr resampling, as SoX's pitch effect
//     does: what hpo-prep uses (features/augment.cc, RenderAugmentation);
//   - Rubber Band 3 (librubberband), offline, with its R3 ("finer") and R2
//     ("faster") engines.
//
// Quality: each library processes a synthetic piece whose ideal result can
// be rendered exactly: 12 s of harmonic notes (6 partials, 5 ms attack,
// exponential decay; 110-880 Hz), plus, for tempo, a noise-burst percussion
// track every 0.5 s. The ideal pitch shift is the same notes at 2^(s/12)
// times their frequency; the ideal tempo change the same notes and bursts
// at onset / tempo with decays / tempo and the attacks kept. The figure is
// the mean absolute difference, in dB, between the log-mel spectrogram
// (hpo-prep's own: 22050 Hz, n_fft 2048, hop 512, 128 mels, ref max, top_db
// 80) of a library's output and of the ideal: what the model would see
// differently. "unprocessed" is the original against the ideal, the scale
// of the change. Also: the pitch of a steady 440 Hz harmonic tone after
// each shift, in cents off the target (from a 0.1 Hz DFT peak search).
//
// Speed: milliseconds per 30 s clip (the real FMA clip under tests/data,
// decoded and resampled to 22050 Hz, one thread), median of --runs.
//
// Reproduce: build/bench/augment_bench [--runs 5]
#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/flags.h"
#include "features/audio.h"
#include "features/augment.h"
#include "features/mel.h"

namespace {

using namespace hpo::features;

constexpr char kUsage[] =
    "Usage: augment_bench [--runs N]\n"
    "  --runs N  timed runs per library and augmentation (default 5)\n";
constexpr int kRate = 22050;

// ---- Rubber Band, offline ---------------------------------------------------

// Rubber Band's offline stretcher (study pass, then process), on this
// thread, with the R3 ("finer") or R2 ("faster") engine.
std::vector<float> RenderWithRubberBand(const std::vector<float>& in, int rate,
                                        const Augmentation& a, bool r3) {
  using RubberBand::RubberBandStretcher;
  const bool pitch = a.kind == Augmentation::Kind::kPitchShift;
  const double time_ratio = pitch ? 1.0 : 1.0 / a.amount;
  RubberBandStretcher stretcher(
      static_cast<size_t>(rate), 1,
      RubberBandStretcher::OptionProcessOffline |
          RubberBandStretcher::OptionThreadingNever |
          (r3 ? RubberBandStretcher::OptionEngineFiner
              : RubberBandStretcher::OptionEngineFaster),
      time_ratio, pitch ? std::pow(2.0, a.amount / 12.0) : 1.0);
  constexpr size_t kBlock = 4096;
  const size_t n = in.size();
  stretcher.setExpectedInputDuration(n);
  stretcher.setMaxProcessSize(kBlock);
  for (size_t at = 0; at < n; at += kBlock) {
    const float* block = in.data() + at;
    stretcher.study(&block, std::min(kBlock, n - at), at + kBlock >= n);
  }
  std::vector<float> out, chunk(kBlock);
  auto drain = [&] {
    for (int k = stretcher.available(); k > 0; k = stretcher.available()) {
      float* dst = chunk.data();
      const size_t got =
          stretcher.retrieve(&dst, std::min<size_t>(k, chunk.size()));
      out.insert(out.end(), chunk.begin(), chunk.begin() + got);
    }
  };
  for (size_t at = 0; at < n; at += kBlock) {
    const float* block = in.data() + at;
    stretcher.process(&block, std::min(kBlock, n - at), at + kBlock >= n);
    drain();
  }
  drain();
  out.resize(static_cast<size_t>(std::llround(n * time_ratio)), 0.0f);
  return out;
}

// ---- Signals with an exact ideal -------------------------------------------

struct Note {
  double onset, duration, hz, decay;
};

std::vector<Note> Melody(uint64_t seed, double seconds) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> len(0.25, 0.6), semis(0, 36);
  std::vector<Note> notes;
  for (double t = 0.1; t < seconds - 1; t += len(rng)) {
    const double d = len(rng);
    notes.push_back({t, d, 110 * std::pow(2.0, std::floor(semis(rng)) / 12),
                     0.15 + 0.5 * d});
  }
  return notes;
}

// Renders the notes (frequencies times `pitch`, times divided by `tempo`:
// onsets, durations and decays; the 5 ms attack kept) and, with
// `percussion`, a 30 ms noise burst every 0.5 s / tempo.
std::vector<float> Render(const std::vector<Note>& notes, double seconds,
                          double pitch, double tempo, bool percussion) {
  std::vector<float> y(static_cast<size_t>(seconds / tempo * kRate), 0.0f);
  for (const Note& n : notes) {
    const size_t from = static_cast<size_t>(n.onset / tempo * kRate);
    const size_t len = static_cast<size_t>((n.duration / tempo + 0.3) * kRate);
    const double hz = n.hz * pitch;
    for (size_t i = 0; i < len && from + i < y.size(); ++i) {
      const double t = static_cast<double>(i) / kRate;
      const double env =
          std::min(1.0, t / 0.005) * std::exp(-t / (n.decay / tempo));
      double v = 0;
      for (int k = 1; k <= 6 && hz * k < kRate / 2.0; ++k) {
        v += std::sin(2 * M_PI * hz * k * t) / k;
      }
      y[from + i] += static_cast<float>(0.15 * env * v);
    }
  }
  if (percussion) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0, 0.2);
    std::vector<double> burst(static_cast<size_t>(0.03 * kRate));
    for (size_t i = 0; i < burst.size(); ++i) {
      burst[i] =
          noise(rng) * std::exp(-static_cast<double>(i) / (0.008 * kRate));
    }
    for (double t = 0.25; t < seconds - 0.5; t += 0.5) {
      const size_t from = static_cast<size_t>(t / tempo * kRate);
      for (size_t i = 0; i < burst.size() && from + i < y.size(); ++i) {
        y[from + i] += static_cast<float>(burst[i]);
      }
    }
  }
  return y;
}

Matrix LogMel(MelSpectrogram& mel, const std::vector<float>& y) {
  Matrix m = mel.Compute(y);
  PowerToDb(&m, /*ref_max=*/true);
  return m;
}

// Mean |a - b| in dB over the frames both have, the first and last 10 left
// out (edge effects of the STFT, not of the library).
double MelDistance(MelSpectrogram& mel, const std::vector<float>& a,
                   const std::vector<float>& b) {
  const Matrix x = LogMel(mel, a), y = LogMel(mel, b);
  const int cols = std::min(x.cols, y.cols);
  double sum = 0;
  int64_t n = 0;
  for (int r = 0; r < x.rows; ++r) {
    for (int c = 10; c < cols - 10; ++c) {
      sum += std::fabs(x.at(r, c) - y.at(r, c));
      ++n;
    }
  }
  return sum / static_cast<double>(n);
}

// The strongest frequency near `hz` (+-5%) over the middle second.
double PeakHz(const std::vector<float>& y, double hz) {
  const size_t from = y.size() / 2 - kRate / 2;
  double best_hz = 0, best = -1;
  for (double f = hz * 0.95; f <= hz * 1.05; f += 0.1) {
    double re = 0, im = 0;
    for (size_t i = from; i < from + kRate; ++i) {
      re += y[i] * std::cos(2 * M_PI * f * i / kRate);
      im += y[i] * std::sin(2 * M_PI * f * i / kRate);
    }
    if (re * re + im * im > best) {
      best = re * re + im * im;
      best_hz = f;
    }
  }
  return best_hz;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

using Renderer = std::function<std::vector<float>(const std::vector<float>&,
                                                  int, const Augmentation&)>;

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  hpo::bench::ParseFlagPairs(argc, argv, "augment_bench", kUsage,
                             [&](const std::string& flag, const char* value) {
                               if (flag != "--runs") return false;
                               runs = std::atoi(value);
                               return true;
                             });
  if (runs < 1 || runs > 1000) {
    hpo::bench::UsageError("augment_bench", kUsage, "--runs must be 1..1000");
  }
  try {
    const std::vector<std::pair<std::string, Renderer>> libraries = {
        {"sox (hpo-prep)", RenderAugmentation},
        {"rubberband-r3",
         [](const std::vector<float>& in, int rate, const Augmentation& a) {
           return RenderWithRubberBand(in, rate, a, true);
         }},
        {"rubberband-r2",
         [](const std::vector<float>& in, int rate, const Augmentation& a) {
           return RenderWithRubberBand(in, rate, a, false);
         }}};
    const std::vector<Augmentation> augmentations =
        ParseAugmentations("-1,1", "0.93,1.07");
    MelOptions mo;
    mo.sample_rate = kRate;
    MelSpectrogram mel(mo);

    const double seconds = 12;
    const std::vector<Note> notes = Melody(3, seconds);
    std::printf(
        "Quality: mean |log-mel difference| (dB) from the ideal rendering of "
        "a %.0f s synthetic piece (%zu notes; percussion for tempo), lower "
        "is better\n",
        seconds, notes.size());
    std::printf("%-16s %14s", "augmentation", "unprocessed");
    for (const auto& [name, render] : libraries) {
      std::printf(" %14s", name.c_str());
    }
    std::printf("\n");
    for (const Augmentation& a : augmentations) {
      const bool pitch = a.kind == Augmentation::Kind::kPitchShift;
      const double p = pitch ? std::pow(2.0, a.amount / 12) : 1;
      const double t = pitch ? 1 : a.amount;
      const std::vector<float> original = Render(notes, seconds, 1, 1, !pitch);
      const std::vector<float> ideal = Render(notes, seconds, p, t, !pitch);
      std::printf("%-16s %14.2f", AugmentationName(a).c_str(),
                  MelDistance(mel, original, ideal));
      for (const auto& [name, render] : libraries) {
        std::printf(" %14.2f",
                    MelDistance(mel, render(original, kRate, a), ideal));
      }
      std::printf("\n");
    }

    std::printf(
        "\nPitch of a steady 440 Hz harmonic tone after the shift, cents off "
        "the target\n");
    std::printf("%-16s %14s", "augmentation", "target Hz");
    for (const auto& [name, render] : libraries) {
      std::printf(" %14s", name.c_str());
    }
    std::printf("\n");
    const std::vector<Note> tone = {{0.0, 4.0, 440, 1e9}};
    const std::vector<float> steady = Render(tone, 4.0, 1, 1, false);
    for (const Augmentation& a : augmentations) {
      if (a.kind != Augmentation::Kind::kPitchShift) continue;
      const double target = 440 * std::pow(2.0, a.amount / 12);
      std::printf("%-16s %14.2f", AugmentationName(a).c_str(), target);
      for (const auto& [name, render] : libraries) {
        const double hz = PeakHz(render(steady, kRate, a), target);
        std::printf(" %+14.2f", 1200 * std::log2(hz / target));
      }
      std::printf("\n");
    }

    const std::string path =
        std::string(HPO_SOURCE_DIR) + "/tests/data/fma/000/000002.mp3";
    MonoAudio audio = DecodeMono(path);
    std::vector<float> clip = Resample(audio.samples, audio.sample_rate, kRate);
    clip.resize(30 * kRate, 0.0f);
    std::printf(
        "\nRound trip on real music (tests/data/fma/000/000002.mp3, 30 s): "
        "mean |log-mel difference| (dB) between the clip and the clip\n"
        "changed then changed back (+s then -s semitones; tempo t then 1/t), "
        "lower is better\n");
    std::printf("%-16s", "augmentation");
    for (const auto& [name, render] : libraries) {
      std::printf(" %14s", name.c_str());
    }
    std::printf("\n");
    for (const Augmentation& a : augmentations) {
      Augmentation back = a;
      back.amount =
          a.kind == Augmentation::Kind::kPitchShift ? -a.amount : 1 / a.amount;
      std::printf("%-16s", AugmentationName(a).c_str());
      for (const auto& [name, render] : libraries) {
        std::vector<float> there_and_back =
            render(render(clip, kRate, a), kRate, back);
        there_and_back.resize(clip.size(), 0.0f);
        std::printf(" %14.2f", MelDistance(mel, clip, there_and_back));
      }
      std::printf("\n");
    }

    std::printf(
        "\nSpeed: ms per 30 s clip at %d Hz (tests/data/fma/000/000002.mp3), "
        "one thread, median of %d runs\n",
        kRate, runs);
    std::printf("%-16s", "augmentation");
    for (const auto& [name, render] : libraries) {
      std::printf(" %14s", name.c_str());
    }
    std::printf("\n");
    std::vector<double> totals(libraries.size(), 0);
    for (const Augmentation& a : augmentations) {
      std::printf("%-16s", AugmentationName(a).c_str());
      for (size_t l = 0; l < libraries.size(); ++l) {
        libraries[l].second(clip, kRate, a);  // Warm-up.
        std::vector<double> ms;
        for (int r = 0; r < runs; ++r) {
          const auto start = std::chrono::steady_clock::now();
          const std::vector<float> out = libraries[l].second(clip, kRate, a);
          ms.push_back(std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - start)
                           .count());
          if (out.empty()) return 1;
        }
        totals[l] += Median(ms);
        std::printf(" %14.0f", Median(ms));
      }
      std::printf("\n");
    }
    std::printf("%-16s", "all 4 copies");
    for (double t : totals) std::printf(" %14.0f", t);
    std::printf("\n\nReproduce: build/bench/augment_bench --runs %d\n", runs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "augment_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
