#include "features/augment.h"

#include <sox.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "common/error.h"

namespace hpo::features {
namespace {

std::vector<double> ParseList(const std::string& flag, const std::string& text,
                              const std::string& example) {
  std::vector<double> values;
  if (text.empty()) return values;
  const std::string hint =
      " (give a comma-separated list, e.g. " + flag + " " + example + ")";
  if (text.back() == ',') {
    throw BadInput(flag + " " + text + ": \"\" is not a number" + hint);
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v)) {
      throw BadInput(flag + " " + text + ": \"" + item + "\" is not a number" +
                     hint);
    }
    if (std::find(values.begin(), values.end(), v) != values.end()) {
      throw BadInput(flag + " " + text + ": " + item +
                     " is listed twice (each value renders one copy)");
    }
    values.push_back(v);
  }
  return values;
}

// libsox's effects chain reads from and writes to these buffers through the
// two handlers below (SoX's samples are 32-bit integers).
struct SoxBuffers {
  const std::vector<float>* in = nullptr;
  size_t at = 0;
  double gain = 1;  // Applied on the way in, undone on the way out.
  std::vector<float>* out = nullptr;
};

SoxBuffers* BuffersOf(sox_effect_t* effp) {
  return *static_cast<SoxBuffers**>(effp->priv);
}

int SoxInputDrain(sox_effect_t* effp, sox_sample_t* obuf, size_t* osamp) {
  SoxBuffers* b = BuffersOf(effp);
  const size_t n = std::min(*osamp, b->in->size() - b->at);
  for (size_t i = 0; i < n; ++i) {
    const double v = std::clamp((*b->in)[b->at + i] * b->gain, -1.0, 1.0);
    obuf[i] = static_cast<sox_sample_t>(
        std::clamp(v * 2147483648.0, -2147483648.0, 2147483647.0));
  }
  b->at += n;
  *osamp = n;
  return n > 0 ? SOX_SUCCESS : SOX_EOF;
}

int SoxOutputFlow(sox_effect_t* effp, const sox_sample_t* ibuf,
                  sox_sample_t* /*obuf*/, size_t* isamp, size_t* osamp) {
  SoxBuffers* b = BuffersOf(effp);
  for (size_t i = 0; i < *isamp; ++i) {
    b->out->push_back(static_cast<float>(ibuf[i] / 2147483648.0 / b->gain));
  }
  *osamp = 0;
  return SOX_SUCCESS;
}

const sox_effect_handler_t* SoxHandler(bool input) {
  static const sox_effect_handler_t in = {
      "hpo_input", nullptr,       SOX_EFF_MCHAN, nullptr, nullptr,
      nullptr,     SoxInputDrain, nullptr,       nullptr, sizeof(SoxBuffers*)};
  static const sox_effect_handler_t out = {
      "hpo_output",  nullptr, SOX_EFF_MCHAN, nullptr, nullptr,
      SoxOutputFlow, nullptr, nullptr,       nullptr, sizeof(SoxBuffers*)};
  return input ? &in : &out;
}

void AddEffect(sox_effects_chain_t* chain, sox_effect_t* e,
               std::vector<std::string> args, sox_signalinfo_t* signal,
               const sox_signalinfo_t* out) {
  if (e == nullptr) throw RuntimeFailure("libsox: cannot create an effect");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  const bool ok = sox_effect_options(e, static_cast<int>(argv.size()),
                                     argv.data()) == SOX_SUCCESS &&
                  sox_add_effect(chain, e, signal, out) == SOX_SUCCESS;
  const std::string name = e->handler.name;
  std::free(e);
  if (!ok) throw RuntimeFailure("libsox: the " + name + " effect failed");
}

// SoX's `tempo -m FACTOR` (WSOLA tuned for music): `in` played FACTOR times
// as fast at the same pitch, about n / FACTOR samples.
std::vector<float> SoxTempo(const std::vector<float>& in, int sample_rate,
                            double factor) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(in.size() / factor) + 4096);
  SoxBuffers buffers{&in, 0, 1, &out};
  float peak = 0;
  for (float v : in) peak = std::max(peak, std::fabs(v));
  // Headroom for the overlap-add, and MP3 peaks above 1.0 kept.
  if (peak > 0) buffers.gain = 0.5 / peak;
  sox_signalinfo_t signal = {static_cast<sox_rate_t>(sample_rate), 1, 32,
                             in.size(), nullptr};
  sox_encodinginfo_t encoding;
  std::memset(&encoding, 0, sizeof encoding);
  encoding.encoding = SOX_ENCODING_SIGN2;
  encoding.bits_per_sample = 32;
  sox_effects_chain_t* chain = sox_create_effects_chain(&encoding, &encoding);
  if (chain == nullptr) throw RuntimeFailure("libsox: cannot make a chain");
  try {
    sox_signalinfo_t at = signal;
    sox_effect_t* e = sox_create_effect(SoxHandler(true));
    if (e != nullptr) *static_cast<SoxBuffers**>(e->priv) = &buffers;
    AddEffect(chain, e, {}, &at, &signal);
    char amount[32];
    std::snprintf(amount, sizeof amount, "%.10g", factor);
    AddEffect(chain, sox_create_effect(sox_find_effect("tempo")),
              {"-m", amount}, &at, &signal);
    e = sox_create_effect(SoxHandler(false));
    if (e != nullptr) *static_cast<SoxBuffers**>(e->priv) = &buffers;
    AddEffect(chain, e, {}, &at, &signal);
    if (sox_flow_effects(chain, nullptr, nullptr) != SOX_SUCCESS) {
      throw RuntimeFailure("libsox: the tempo effect failed");
    }
  } catch (...) {
    sox_delete_effects_chain(chain);
    throw;
  }
  sox_delete_effects_chain(chain);
  return out;
}

// Resamples `in` from `in_rate` to `out_rate` (any ratio) with libsoxr at
// very high quality, to `length` samples.
std::vector<float> ResampleTo(const std::vector<float>& in, double in_rate,
                              double out_rate, size_t length) {
  std::vector<float> out(length + 64);
  size_t done = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_VHQ, 0);
  soxr_error_t error =
      soxr_oneshot(in_rate, out_rate, 1, in.data(), in.size(), nullptr,
                   out.data(), out.size(), &done, &io, &quality, nullptr);
  if (error) throw RuntimeFailure(std::string("libsoxr: ") + error);
  out.resize(length, 0.0f);
  return out;
}

}  // namespace

std::string AugmentationName(const Augmentation& a) {
  char buf[64];
  if (a.kind == Augmentation::Kind::kPitchShift) {
    std::snprintf(buf, sizeof buf, "pitch_shift:%+g", a.amount);
  } else {
    std::snprintf(buf, sizeof buf, "tempo:%g", a.amount);
  }
  return buf;
}

std::vector<Augmentation> ParseAugmentations(const std::string& pitch_shifts,
                                             const std::string& tempos) {
  std::vector<Augmentation> out;
  for (double s : ParseList("--pitch-shift", pitch_shifts, "-1,1")) {
    if (s == 0 || std::fabs(s) > 12) {
      throw BadInput("--pitch-shift " + pitch_shifts + ": " +
                     std::to_string(s) +
                     " semitones: expected a non-zero shift within -12..12, "
                     "e.g. --pitch-shift -1,1");
    }
    out.push_back({Augmentation::Kind::kPitchShift, s});
  }
  for (double t : ParseList("--tempo", tempos, "0.93,1.07")) {
    if (!(t >= 0.5 && t <= 2) || t == 1) {
      throw BadInput("--tempo " + tempos + ": " + std::to_string(t) +
                     ": expected a speed factor other than 1 within 0.5..2, "
                     "e.g. --tempo 0.93,1.07");
    }
    out.push_back({Augmentation::Kind::kTempo, t});
  }
  return out;
}

int64_t InputSamplesFor(const Augmentation& a, int64_t out_samples) {
  if (a.kind == Augmentation::Kind::kPitchShift) return out_samples;
  return static_cast<int64_t>(std::ceil(out_samples * a.amount));
}

std::vector<float> RenderAugmentation(const std::vector<float>& samples,
                                      int sample_rate, const Augmentation& a) {
  if (a.kind == Augmentation::Kind::kTempo) {
    std::vector<float> out = SoxTempo(samples, sample_rate, a.amount);
    out.resize(static_cast<size_t>(std::llround(samples.size() / a.amount)),
               0.0f);
    return out;
  }
  // As SoX's pitch effect does: slow down by the pitch ratio, then play the
  // longer signal back faster by the same ratio (resampling it), so the
  // length is kept and every frequency scaled.
  const double ratio = std::pow(2.0, a.amount / 12.0);
  const std::vector<float> slow = SoxTempo(samples, sample_rate, 1 / ratio);
  return ResampleTo(slow, sample_rate * ratio, sample_rate, samples.size());
}

}  // namespace hpo::features
