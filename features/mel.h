// Mel spectrograms as librosa 0.10 computes them: STFT with FFTW3 (periodic
// Hann window, centred frames with zero padding, power 2), a mel filter bank
// (Slaney scale and area normalisation, or HTK) and power_to_db. Computed in
// double precision.
#ifndef HPO_FEATURES_MEL_H_
#define HPO_FEATURES_MEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hpo::features {

struct MelOptions {
  int sample_rate = 22050;
  int n_fft = 2048;
  int hop = 512;
  int n_mels = 128;
  bool htk = false;  // HTK mel scale instead of Slaney.
  double fmin = 0;
  double fmax = 0;  // 0 means sample_rate / 2.
};

// How the FFT of a size not yet in FFTW's wisdom cache is planned: measured
// (the default: some 0.1 s once per size and machine, then cached, for runs
// over many clips) or estimated (no time, a slightly slower plan: for a
// process that computes one clip, such as `hpo-prep mel`). Sizes in the cache
// are planned from it either way. Applies to MelSpectrograms constructed
// after the call, process-wide; thread safe.
enum class FftPlanning { kEstimate, kMeasure };
void SetFftPlanning(FftPlanning planning);

// Checks the options, throwing hpo::Error (bad input) that names the
// offending option as a command-line flag (e.g. "--hop 0: ...").
void ValidateMelOptions(const MelOptions& options);

// A row-major matrix.
struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<double> values;
  double at(int r, int c) const {
    return values[static_cast<size_t>(r) * cols + c];
  }
};

// librosa.hz_to_mel / mel_to_hz (Slaney by default, HTK with `htk`).
double HzToMel(double hz, bool htk);
double MelToHz(double mel, bool htk);

// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm='slaney'):
// n_mels x (n_fft / 2 + 1) weights. Slaney area normalisation applies with
// both scales, as in librosa (norm and htk are independent).
Matrix MelFilterBank(const MelOptions& options);

// The number of frames of a centred STFT of n samples (n_fft / 2 zeros on
// each side): 1 + (n + 2 (n_fft / 2) - n_fft) / hop, i.e. 1 + n / hop for an
// even n_fft.
int64_t StftFrames(int64_t samples, int n_fft, int hop);

// Computes mel power spectrograms for one set of options. Construction plans
// the FFT (once per size in the process, under a lock, from FFTW's wisdom
// cache where it can: features/fft_plan.h); Compute() is then thread safe
// across objects, so each thread
// should own one MelSpectrogram. Not thread safe on a single object.
class MelSpectrogram {
 public:
  explicit MelSpectrogram(const MelOptions& options);
  ~MelSpectrogram();
  MelSpectrogram(const MelSpectrogram&) = delete;
  MelSpectrogram& operator=(const MelSpectrogram&) = delete;

  const MelOptions& options() const { return options_; }

  // librosa.feature.melspectrogram(y, sr, n_fft, hop_length, n_mels, ...)
  // with center=True, pad_mode='constant', power=2: n_mels x StftFrames().
  Matrix Compute(const float* samples, int64_t n);
  Matrix Compute(const std::vector<float>& samples) {
    return Compute(samples.data(), static_cast<int64_t>(samples.size()));
  }

  // The STFT's power before the filter bank, np.abs(librosa.stft(y, n_fft,
  // hop_length, center=True, pad_mode='constant')) ** 2: (n_fft / 2 + 1)
  // bins x StftFrames(). Its square root is the magnitude spectrogram.
  Matrix StftPower(const float* samples, int64_t n);
  Matrix StftPower(const std::vector<float>& samples) {
    return StftPower(samples.data(), static_cast<int64_t>(samples.size()));
  }

 private:
  struct Impl;
  MelOptions options_;
  std::unique_ptr<Impl> impl_;
};

// librosa.power_to_db(S, ref, amin=1e-10, top_db): 10 log10(max(amin, S)) -
// 10 log10(max(amin, ref)), then clipped below at (max - top_db) over the
// whole matrix when top_db > 0. `ref_max` uses the matrix maximum as ref
// (ref=np.max), else ref = 1.0. In place.
void PowerToDb(Matrix* m, bool ref_max, double amin = 1e-10,
               double top_db = 80.0);

}  // namespace hpo::features

#endif  // HPO_FEATURES_MEL_H_
