// The preprocessing pipeline behind hpo-prep: audio clips to log-mel
// segments in shards, in parallel and restartable; vector tables to shards.
#ifndef HPO_FEATURES_PREP_H_
#define HPO_FEATURES_PREP_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "features/augment.h"
#include "features/features_csv.h"
#include "features/mel.h"
#include "features/npy.h"

namespace hpo::features {

// How a clip is cut into fixed-size samples: `segments` segments of
// `frames` STFT frames each, consecutive from the start of the clip,
// overlapping by `overlap` (a fraction of `frames`). Segment k starts at
// frame k x SegmentStep(); as a waveform it spans samples [start x hop,
// (start + frames) x hop). kAllSegments: as many segments as lie within the
// whole clip (at least one, zero-padded, for a clip shorter than one).
// `spread`: segment k of N starts at k / N of the clip instead (frame
// k x whole frames / N, whole frames = samples / hop), so N segments sample
// the whole clip; no overlap.
constexpr int kAllSegments = 0;
struct SegmentOptions {
  int frames = 128;
  int segments = 3;  // Or kAllSegments.
  double overlap = 0.0;
  bool spread = false;
};

// What a sample holds (hpo-prep --features):
//   mel        log-mel spectrogram, [1, n_mels, frames] (dB, ref = max)
//   stft       STFT magnitude spectrogram, [1, n_fft / 2 + 1, frames]
//              (dB, ref = max, as librosa.amplitude_to_db; or linear)
//   wave       the waveform itself, [1, frames x hop] samples
//   stft+wave  both, flattened one after the other into [F x frames +
//              frames x hop] (the manifest's "parts" give each one's shape,
//              offset and normalisation)
enum class FeatureKind { kMel, kStft, kWave, kStftWave };
const char* FeatureKindName(FeatureKind kind);
// Throws hpo::Error (bad input) naming --features for an unknown name.
FeatureKind ParseFeatureKind(const std::string& name);

// One input of a sample: where it lies in the flat sample and its shape.
struct SampleLayoutPart {
  std::string kind;  // mel, stft or wave.
  std::vector<int64_t> shape;
  int64_t offset = 0;  // First value's index in the sample.
  int64_t rows = 0;    // Statistics rows: bins (1 for a waveform).
  int64_t cols = 0;    // Values per row.
  int64_t elements() const { return rows * cols; }
};

// The parts of one sample and the shape a shard stores it with.
struct SampleLayout {
  std::vector<SampleLayoutPart> parts;
  std::vector<int64_t> sample_shape;
  int64_t elements() const;
};

struct PrepOptions {
  MelOptions mel;
  FeatureKind features = FeatureKind::kMel;
  bool stft_db = true;  // stft magnitudes in dB (else linear).
  SegmentOptions segments;
  DType dtype = DType::kFloat16;  // Of the features; float16 or float32.
  int jobs = 1;                   // Threads.
  int tracks_per_shard = 500;
  // Clips shorter than this many seconds are skipped and reported; longer
  // ones shorter than the segments need are zero-padded.
  double min_seconds = 0;
  // Extra copies of every training clip (pitch shifts, tempo changes), each
  // giving as many segments as the clip; validation and test never get any.
  std::vector<Augmentation> augment;
};

// Throws hpo::Error (bad input) naming the flag of a bad option.
void ValidatePrepOptions(const PrepOptions& options);

// Frames between the starts of consecutive segments (at least 1).
int64_t SegmentStep(const SegmentOptions& s);
// Frames the segments cover: (segments - 1) * step + frames (a fixed
// number of segments).
int64_t SegmentFramesNeeded(const SegmentOptions& s);
// Samples (at the target rate) that hold every segment: those whose centred
// STFT has exactly SegmentFramesNeeded() frames, and for waveform features
// the last segment's end. Clips are cropped or zero-padded to this length.
// With kAllSegments or spread, 0 (the whole clip is used).
int64_t ClipSamplesNeeded(const PrepOptions& options);
// With kAllSegments: how many segments lie within a clip of `samples`
// samples (at least 1).
int64_t SegmentsInClip(const PrepOptions& options, int64_t samples);
// The parts and stored shape of one sample.
SampleLayout LayoutFor(const PrepOptions& options);

// The preprocessing parameters as stored in a manifest.
nlohmann::json PreprocessingJson(const PrepOptions& options);

// One clip to prepare.
struct ClipJob {
  int64_t track_id = 0;
  std::string path;
  int32_t label = 0;
  std::string split;  // training, validation or test.
};

// A clip that was left out, and why.
struct SkippedClip {
  int64_t track_id = 0;
  std::string path;
  std::string reason;
};

// A clip's samples, LayoutFor(options).elements() values each (for mel and
// stft in dB, ref = the clip's maximum, top_db 80), then those of each
// augmented copy in options.augment's order when asked for, and how long the
// decoded audio was.
struct ClipFeatures {
  std::vector<float> values;
  int64_t augmented_samples = 0;  // Of the samples in values.
  double seconds = 0;
};

// Decodes, mixes to mono, resamples, crops or pads and computes the
// segments of one file, decoding only as much audio as the segments need
// (all of it with kAllSegments);
// with `augment`, also those of each of options.augment's copies, rendered
// from the resampled audio (a faster tempo reads further into the clip).
// `mel` must have been made with options.mel. Throws hpo::Error (bad input)
// naming the file when it cannot be decoded or is shorter than
// options.min_seconds.
ClipFeatures ExtractClip(const std::string& path, const PrepOptions& options,
                         MelSpectrogram& mel, bool augment = false);

// What a run did.
struct PrepResult {
  int64_t tracks = 0;  // Clips in shards now.
  int64_t samples = 0;
  int64_t shards_written = 0;
  int64_t shards_reused = 0;  // Finished by an earlier run, kept.
  std::vector<SkippedClip> skipped;
};

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// Prepares `clips` into shards in `out_dir` (created if needed): clips are
// grouped by split, in the given order, tracks_per_shard per shard; `jobs`
// threads extract them; each finished shard is written with a marker file
// (STEM.done.json) so that a rerun with the same clips and options skips it.
// Bad clips are listed in the result and in out_dir/report.csv and never stop
// the run. Training clips get options.augment's copies as extra samples
// after their own. Writes out_dir/manifest.json last, with normalisation
// statistics of the training split (augmented samples included) and each
// split's augmented_samples, and out_dir/index.csv (track_id, split, label,
// class, path, augmentation: one row per track and copy, "" for the clip
// itself). `source` is stored in the manifest. `progress` is called from
// worker threads with (clips done, clips) and `log` (may be empty) with a
// line per skipped clip.
PrepResult BuildAudioShards(const std::vector<ClipJob>& clips,
                            const std::vector<std::string>& classes,
                            const PrepOptions& options,
                            const std::string& out_dir,
                            const nlohmann::json& source,
                            const ProgressFn& progress,
                            const std::function<void(const std::string&)>& log);

// A seeded stratified split: within each label, a shuffled 80% / 10% / 10%
// into training / validation / test (at least one validation and one test
// track for labels with 3 or more tracks). The same labels and seed give the
// same split on every platform.
std::vector<std::string> StratifiedSplit(const std::vector<int32_t>& labels,
                                         uint64_t seed);

// Writes vector shards (float32 [N, D]) from rows of `table`: `rows[i]` is
// the table row of clip i, whose label and split come from `clips[i]`.
PrepResult BuildVectorShards(const FeatureTable& table,
                             const std::vector<int64_t>& rows,
                             const std::vector<ClipJob>& clips,
                             const std::vector<std::string>& classes,
                             int tracks_per_shard, const std::string& out_dir,
                             const nlohmann::json& source);

}  // namespace hpo::features

#endif  // HPO_FEATURES_PREP_H_
