#include "features/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/error.h"

namespace hpo::features {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

SndfilePtr OpenAudio(const std::string& path, SF_INFO* info) {
  *info = SF_INFO{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, info);
  if (f == nullptr) {
    throw BadInput(path + ": cannot open audio: " + sf_strerror(nullptr) +
                   " (hpo reads MP3, WAV, FLAC and OGG)");
  }
  if (info->channels < 1 || info->samplerate < 1) {
    sf_close(f);
    throw BadInput(path + ": the audio header says " +
                   std::to_string(info->channels) + " channels at " +
                   std::to_string(info->samplerate) + " Hz");
  }
  return SndfilePtr(f);
}

// Reads up to `frames` frames (all when negative) of interleaved samples.
std::vector<float> ReadFrames(SNDFILE* f, const SF_INFO& info,
                              const std::string& path, int64_t frames) {
  const int channels = info.channels;
  int64_t want = frames >= 0 ? frames : info.frames;
  if (want < 0) want = 0;
  std::vector<float> out;
  // The header's length is a hint (a truncated MP3 holds fewer frames); read
  // in chunks until the decoder stops or `frames` are in.
  out.reserve(static_cast<size_t>(std::min<int64_t>(want, 1 << 26)) *
              static_cast<size_t>(channels));
  const sf_count_t chunk = 65536;
  int64_t have = 0;
  while (frames < 0 || have < frames) {
    sf_count_t ask = chunk;
    if (frames >= 0) ask = std::min<sf_count_t>(chunk, frames - have);
    const size_t at = out.size();
    out.resize(at + static_cast<size_t>(ask) * channels);
    sf_count_t got = sf_readf_float(f, out.data() + at, ask);
    if (got < 0) got = 0;
    out.resize(at + static_cast<size_t>(got) * channels);
    have += got;
    if (got < ask) break;
  }
  if (sf_error(f) != SF_ERR_NO_ERROR) {
    throw BadInput(path + ": cannot decode audio after " +
                   std::to_string(have) + " frames: " + sf_strerror(f));
  }
  return out;
}

}  // namespace

AudioInfo ReadAudioInfo(const std::string& path) {
  SF_INFO info;
  SndfilePtr f = OpenAudio(path, &info);
  return AudioInfo{info.samplerate, info.channels,
                   static_cast<int64_t>(info.frames)};
}

std::vector<float> DecodeInterleaved(const std::string& path,
                                     AudioInfo* info_out) {
  SF_INFO info;
  SndfilePtr f = OpenAudio(path, &info);
  std::vector<float> samples = ReadFrames(f.get(), info, path, -1);
  if (info_out != nullptr) {
    *info_out = AudioInfo{info.samplerate, info.channels,
                          static_cast<int64_t>(samples.size() / info.channels)};
  }
  return samples;
}

MonoAudio DecodeMono(const std::string& path, double max_seconds) {
  SF_INFO info;
  SndfilePtr f = OpenAudio(path, &info);
  const int64_t max_frames =
      max_seconds < 0 ? -1
                      : static_cast<int64_t>(
                            std::ceil(max_seconds * info.samplerate - 1e-6));
  std::vector<float> samples = ReadFrames(f.get(), info, path, max_frames);
  MonoAudio out;
  out.sample_rate = info.samplerate;
  out.channels = info.channels;
  out.file_frames = info.frames;
  const int c = info.channels;
  if (c == 1) {
    out.samples = std::move(samples);
  } else {
    const size_t n = samples.size() / c;
    out.samples.resize(n);
    const float scale = 1.0f / static_cast<float>(c);
    for (size_t i = 0; i < n; ++i) {
      float sum = 0;
      for (int k = 0; k < c; ++k) sum += samples[i * c + k];
      out.samples[i] = sum * scale;
    }
  }
  return out;
}

int64_t ResampledLength(int64_t n, int in_rate, int out_rate) {
  return (n * out_rate + in_rate - 1) / in_rate;
}

std::vector<float> Resample(const std::vector<float>& in, int in_rate,
                            int out_rate) {
  if (in_rate == out_rate) return in;
  const size_t out_len = static_cast<size_t>(
      ResampledLength(static_cast<int64_t>(in.size()), in_rate, out_rate));
  std::vector<float> out(out_len, 0.0f);
  if (in.empty()) return out;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done_in = 0, done_out = 0;
  soxr_error_t error =
      soxr_oneshot(in_rate, out_rate, 1, in.data(), in.size(), &done_in,
                   out.data(), out.size(), &done_out, &io, &quality, nullptr);
  if (error != nullptr) {
    throw RuntimeFailure(std::string("soxr cannot resample from ") +
                         std::to_string(in_rate) + " to " +
                         std::to_string(out_rate) + " Hz: " + error);
  }
  // Anything soxr did not produce stays zero (librosa's fix_length).
  return out;
}

}  // namespace hpo::features
