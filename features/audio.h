// Audio files to mono samples at the rate features want: decoding with
// libsndfile (MP3, WAV, FLAC, OGG and more), channel mixing and resampling
// with libsoxr, as librosa.load(path, sr=SR, mono=True) does.
#ifndef HPO_FEATURES_AUDIO_H_
#define HPO_FEATURES_AUDIO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hpo::features {

// What a file's header says.
struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;  // As the decoder reports it before decoding.
};

// Decoded samples, channels averaged into one.
struct MonoAudio {
  int sample_rate = 0;
  int channels = 0;         // Of the file.
  int64_t file_frames = 0;  // The file's length as its header reports it.
  std::vector<float> samples;
};

// Reads the header of an audio file. Throws hpo::Error (bad input) naming
// the file and libsndfile's reason when it cannot be opened.
AudioInfo ReadAudioInfo(const std::string& path);

// Decodes an audio file into interleaved float samples (frames x channels),
// not clipped: MP3 peaks can exceed 1.0. Throws hpo::Error (bad input) naming
// the file when it cannot be opened or decoded.
std::vector<float> DecodeInterleaved(const std::string& path, AudioInfo* info);

// Decodes the first `max_seconds` seconds (all of the file when negative)
// and averages the channels (librosa.to_mono). Fewer samples come back when
// the file is shorter. Throws like DecodeInterleaved.
MonoAudio DecodeMono(const std::string& path, double max_seconds = -1);

// The output length librosa.resample gives: ceil(n * out_rate / in_rate).
int64_t ResampledLength(int64_t n, int in_rate, int out_rate);

// Resamples mono samples with libsoxr at high quality (librosa's default
// res_type "soxr_hq") to exactly ResampledLength() samples, zero-padding or
// cutting soxr's output as librosa.util.fix_length does. Returns the input
// unchanged when the rates are equal. Throws hpo::Error (runtime) when soxr
// fails. Thread safe.
std::vector<float> Resample(const std::vector<float>& in, int in_rate,
                            int out_rate);

}  // namespace hpo::features

#endif  // HPO_FEATURES_AUDIO_H_
