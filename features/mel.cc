#include "features/mel.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "common/error.h"
#include "features/fft_plan.h"

namespace hpo::features {
namespace {

// Slaney's scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
constexpr double kMinLogHz = 1000.0;
constexpr double kLinearStep = 200.0 / 3.0;
constexpr double kMinLogMel = kMinLogHz / kLinearStep;  // 15
const double kLogStep = std::log(6.4) / 27.0;

}  // namespace

void ValidateMelOptions(const MelOptions& o) {
  auto bad = [](const std::string& what) { throw BadInput(what); };
  if (o.sample_rate < 1000 || o.sample_rate > 384000) {
    bad("--sample-rate " + std::to_string(o.sample_rate) +
        ": expected 1000..384000 Hz, e.g. 22050");
  }
  if (o.n_fft < 16 || o.n_fft > (1 << 16)) {
    bad("--n-fft " + std::to_string(o.n_fft) +
        ": expected 16..65536 samples, e.g. 2048");
  }
  if (o.hop < 1 || o.hop > o.n_fft * 4) {
    bad("--hop " + std::to_string(o.hop) + ": expected 1.." +
        std::to_string(o.n_fft * 4) + " samples, e.g. " +
        std::to_string(o.n_fft / 4));
  }
  if (o.n_mels < 1 || o.n_mels > 1024) {
    bad("--n-mels " + std::to_string(o.n_mels) +
        ": expected 1..1024 mel bands, e.g. 128");
  }
  const double nyquist = o.sample_rate / 2.0;
  const double fmax = o.fmax > 0 ? o.fmax : nyquist;
  if (o.fmin < 0 || o.fmin >= fmax) {
    bad("--fmin " + std::to_string(o.fmin) + ": expected 0 <= fmin < fmax (" +
        std::to_string(fmax) + " Hz)");
  }
  if (fmax > nyquist) {
    bad("--fmax " + std::to_string(o.fmax) +
        ": above the Nyquist frequency of --sample-rate " +
        std::to_string(o.sample_rate) + " (" + std::to_string(nyquist) +
        " Hz)");
  }
}

double HzToMel(double hz, bool htk) {
  if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / kLogStep;
  return hz / kLinearStep;
}

double MelToHz(double mel, bool htk) {
  if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= kMinLogMel)
    return kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel));
  return mel * kLinearStep;
}

Matrix MelFilterBank(const MelOptions& o) {
  const int bins = o.n_fft / 2 + 1;
  const double fmax = o.fmax > 0 ? o.fmax : o.sample_rate / 2.0;
  // n_mels + 2 band edges equally spaced on the mel scale.
  const int edges = o.n_mels + 2;
  const double lo = HzToMel(o.fmin, o.htk), hi = HzToMel(fmax, o.htk);
  std::vector<double> mel_f(edges);
  for (int i = 0; i < edges; ++i) {
    // np.linspace: lo + i * step, the last point exactly hi.
    double m = i == edges - 1 ? hi : lo + (hi - lo) * i / (edges - 1);
    mel_f[i] = MelToHz(m, o.htk);
  }
  std::vector<double> fft_freqs(bins);
  for (int k = 0; k < bins; ++k) {
    fft_freqs[k] = static_cast<double>(k) * o.sample_rate / o.n_fft;
  }
  Matrix w;
  w.rows = o.n_mels;
  w.cols = bins;
  w.values.assign(static_cast<size_t>(w.rows) * bins, 0.0);
  for (int i = 0; i < o.n_mels; ++i) {
    const double left = mel_f[i], centre = mel_f[i + 1], right = mel_f[i + 2];
    const double enorm = 2.0 / (right - left);  // Slaney area normalisation.
    for (int k = 0; k < bins; ++k) {
      const double lower = (fft_freqs[k] - left) / (centre - left);
      const double upper = (right - fft_freqs[k]) / (right - centre);
      const double v = std::max(0.0, std::min(lower, upper));
      w.values[static_cast<size_t>(i) * bins + k] = v * enorm;
    }
  }
  return w;
}

int64_t StftFrames(int64_t samples, int n_fft, int hop) {
  const int64_t padded = samples + 2 * (n_fft / 2);
  if (padded < n_fft) return 0;
  return 1 + (padded - n_fft) / hop;
}

struct MelSpectrogram::Impl {
  fftw_plan plan = nullptr;
  double* in = nullptr;
  fftw_complex* out = nullptr;
  std::vector<double> window;
  std::vector<double> power;
  // The filter bank, sparse: band i has weights[i] over bins [first[i], ...).
  std::vector<int> first;
  std::vector<std::vector<double>> weights;

  ~Impl() {
    fftw_free(in);
    fftw_free(out);
  }
};

MelSpectrogram::MelSpectrogram(const MelOptions& options)
    : options_(options), impl_(std::make_unique<Impl>()) {
  ValidateMelOptions(options);
  const int n = options.n_fft;
  const int bins = n / 2 + 1;
  impl_->plan = RealFftPlan(n);
  impl_->in = fftw_alloc_real(n);
  impl_->out = fftw_alloc_complex(bins);
  impl_->window.resize(n);
  // Periodic Hann (scipy.signal.get_window('hann', n, fftbins=True)).
  for (int k = 0; k < n; ++k) {
    impl_->window[k] = 0.5 - 0.5 * std::cos(2.0 * M_PI * k / n);
  }
  impl_->power.resize(bins);
  Matrix fb = MelFilterBank(options);
  impl_->first.resize(fb.rows);
  impl_->weights.resize(fb.rows);
  for (int i = 0; i < fb.rows; ++i) {
    int a = 0, b = bins;
    while (a < bins && fb.at(i, a) == 0.0) ++a;
    while (b > a && fb.at(i, b - 1) == 0.0) --b;
    impl_->first[i] = a;
    impl_->weights[i].assign(
        fb.values.begin() + static_cast<size_t>(i) * bins + a,
        fb.values.begin() + static_cast<size_t>(i) * bins + b);
  }
}

MelSpectrogram::~MelSpectrogram() = default;

namespace {

// The centred STFT of y (n_fft / 2 zeros on each side): for each frame t,
// calls frame(t, power) with the n_fft / 2 + 1 bins' |X|^2.
void ForEachFrame(const MelOptions& o, fftw_plan plan, double* in,
                  fftw_complex* out, const std::vector<double>& window,
                  double* power, const float* y, int64_t n,
                  const std::function<void(int64_t, const double*)>& frame) {
  const int n_fft = o.n_fft;
  const int bins = n_fft / 2 + 1;
  const int64_t frames = StftFrames(n, n_fft, o.hop);
  for (int64_t t = 0; t < frames; ++t) {
    // Frame t covers samples [t * hop - n_fft / 2, ... + n_fft) of y, with
    // zeros outside it (center=True, pad_mode='constant').
    const int64_t start = t * o.hop - n_fft / 2;
    const int64_t a = std::max<int64_t>(0, -start);
    const int64_t b = std::min<int64_t>(n_fft, n - start);
    for (int64_t k = 0; k < a; ++k) in[k] = 0.0;
    for (int64_t k = a; k < b; ++k) in[k] = window[k] * y[start + k];
    for (int64_t k = std::max(a, b); k < n_fft; ++k) in[k] = 0.0;
    fftw_execute_dft_r2c(plan, in, out);
    for (int k = 0; k < bins; ++k) {
      power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
    }
    frame(t, power);
  }
}

}  // namespace

Matrix MelSpectrogram::Compute(const float* y, int64_t n) {
  Matrix m;
  m.rows = options_.n_mels;
  m.cols = static_cast<int>(StftFrames(n, options_.n_fft, options_.hop));
  m.values.assign(static_cast<size_t>(m.rows) * m.cols, 0.0);
  ForEachFrame(options_, impl_->plan, impl_->in, impl_->out, impl_->window,
               impl_->power.data(), y, n, [&](int64_t t, const double* power) {
                 for (int i = 0; i < m.rows; ++i) {
                   const std::vector<double>& w = impl_->weights[i];
                   const double* p = power + impl_->first[i];
                   double sum = 0.0;
                   for (size_t k = 0; k < w.size(); ++k) sum += w[k] * p[k];
                   m.values[static_cast<size_t>(i) * m.cols + t] = sum;
                 }
               });
  return m;
}

Matrix MelSpectrogram::StftPower(const float* y, int64_t n) {
  Matrix m;
  m.rows = options_.n_fft / 2 + 1;
  m.cols = static_cast<int>(StftFrames(n, options_.n_fft, options_.hop));
  m.values.assign(static_cast<size_t>(m.rows) * m.cols, 0.0);
  ForEachFrame(options_, impl_->plan, impl_->in, impl_->out, impl_->window,
               impl_->power.data(), y, n, [&](int64_t t, const double* power) {
                 for (int k = 0; k < m.rows; ++k) {
                   m.values[static_cast<size_t>(k) * m.cols + t] = power[k];
                 }
               });
  return m;
}

void PowerToDb(Matrix* m, bool ref_max, double amin, double top_db) {
  if (m->values.empty()) return;
  double ref = 1.0;
  if (ref_max) ref = *std::max_element(m->values.begin(), m->values.end());
  const double offset = 10.0 * std::log10(std::max(amin, ref));
  double top = -std::numeric_limits<double>::infinity();
  for (double& v : m->values) {
    v = 10.0 * std::log10(std::max(amin, v)) - offset;
    top = std::max(top, v);
  }
  if (top_db > 0) {
    const double floor = top - top_db;
    for (double& v : m->values) v = std::max(v, floor);
  }
}

}  // namespace hpo::features
