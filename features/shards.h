// Feature shards: a directory with manifest.json and .npy files that hold
// the samples of each split (features [N, 1, mels, frames], [N, 1, bins,
// frames], [N, 1, samples], [N, E] or [N, D]; labels int32 [N], track ids
// int64 [N]), so numpy.load(..., mmap_mode='r') reads them and workers map
// them without copying.
//
// manifest.json:
//   {"format": "hpo-shards", "version": 1,
//    "kind": "mel" | "stft" | "wave" | "stft+wave" | "vector",
//    "classes": [...], "sample_shape": [1, 128, 128], "dtype": "float16",
//    "preprocessing": {...}, "source": {...},
//    "normalization": {"mean": m, "std": s, "row_mean": [...],
//                      "row_std": [...]},     // training split only
//    // stft+wave only: each input's place in the flat [E] sample and its
//    // own training-split mean and std (row_mean / row_std above list the
//    // stft's bins, then the wave's one row).
//    "parts": [{"kind": "stft", "shape": [1, 1025, 128], "offset": 0,
//               "mean": m, "std": s},
//              {"kind": "wave", "shape": [1, 131072], "offset": 131200,
//               "mean": m, "std": s}],
//    "splits": {"training": {"tracks": T, "samples": N,
//                            "class_samples": [...],
//                            "shards": [{"features":
//                            "training-00000.features.npy",
//                                        "labels": "...", "tracks": "...",
//                                        "samples": n,
//                                        "crc32c": {"features": "89abcdef",
//                                                   "labels": ..., "tracks":
//                                                   ...}}]},
//               "validation": {...}, "test": {...}}}
// A "row" is a mel or STFT bin of a spectrogram shard, the one row of a
// waveform shard, or a feature of a vector shard.
#ifndef HPO_FEATURES_SHARDS_H_
#define HPO_FEATURES_SHARDS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "features/npy.h"

namespace hpo::features {

// The three splits, in this order.
const std::vector<std::string>& SplitNames();
bool IsSplitName(const std::string& name);

// The checksums are CRC-32C of whole files, as 8 hex digits.
struct ShardEntry {
  std::string features, labels, tracks;  // File names inside the directory.
  int64_t samples = 0;
  std::string crc_features, crc_labels, crc_tracks;
};

struct SplitEntry {
  int64_t tracks = 0;
  int64_t samples = 0;
  std::vector<int64_t> class_samples;  // One count per class.
  int64_t augmented_samples = 0;       // Of `samples`: augmented copies'.
  std::vector<ShardEntry> shards;
};

// Per-row and overall mean and standard deviation of the training split.
struct Normalization {
  double mean = 0, std = 1;
  std::vector<double> row_mean, row_std;
};

// One input of a multi-input sample (kind stft+wave).
struct ManifestPart {
  std::string kind;  // "stft" or "wave".
  std::vector<int64_t> shape;
  int64_t offset = 0;  // Index of its first value in the flat sample.
  double mean = 0, std = 1;
  int64_t elements() const;
};

// True for the kinds hpo-prep writes from audio.
bool IsAudioKind(const std::string& kind);

struct Manifest {
  std::string kind = "mel";  // mel, stft, wave, stft+wave or vector.
  std::vector<std::string> classes;
  std::vector<int64_t> sample_shape;  // [1, mels, frames] or [D].
  DType dtype = DType::kFloat16;
  nlohmann::json preprocessing = nlohmann::json::object();
  nlohmann::json source = nlohmann::json::object();
  Normalization normalization;
  std::map<std::string, SplitEntry> splits;  // Keyed by split name.
  std::vector<ManifestPart> parts;           // stft+wave only; empty otherwise.

  // Rows and columns of one single-input sample: (bins, frames), (1,
  // samples) or (D, 1).
  int64_t rows() const;
  int64_t cols() const;
};

nlohmann::json ManifestToJson(const Manifest& manifest);

// Parses and checks a manifest. Throws hpo::Error (bad input) naming
// `source` and the offending key when something is missing or inconsistent.
Manifest ManifestFromJson(const nlohmann::json& json,
                          const std::string& source);

// DIR/manifest.json. Throws hpo::Error (bad input) naming the file when it
// is missing (with the hpo-prep command that makes one) or invalid.
Manifest ReadManifest(const std::string& dir);

// Writes DIR/manifest.json through a temporary file and a rename. Throws
// hpo::Error (runtime) when it cannot.
void WriteManifest(const std::string& dir, const Manifest& manifest);

// Sums of values and squares per row, for Normalization. Adding samples in
// a different order gives the same result up to rounding.
class RowStats {
 public:
  RowStats() = default;
  RowStats(int64_t rows, int64_t cols);

  // Adds one sample of rows x cols values.
  void Add(const float* sample);
  void Merge(const RowStats& other);
  Normalization Finish() const;

  nlohmann::json ToJson() const;
  static RowStats FromJson(const nlohmann::json& json);

 private:
  int64_t rows_ = 0, cols_ = 0, samples_ = 0;
  std::vector<double> sum_, sum_sq_;
};

// Writes one shard's three files, DIR/STEM.features.npy, .labels.npy and
// .tracks.npy (each through a temporary file and a rename), converting the
// features to `dtype`. `features` holds labels.size() samples of
// ShapeElements(sample_shape) values. Returns the entry with checksums.
ShardEntry WriteShard(const std::string& dir, const std::string& stem,
                      DType dtype, const std::vector<int64_t>& sample_shape,
                      const std::vector<float>& features,
                      const std::vector<int32_t>& labels,
                      const std::vector<int64_t>& track_ids);

// One split of a shard directory, mapped. Thread safe to read.
class ShardSplit {
 public:
  int64_t size() const { return size_; }
  int32_t label(int64_t i) const;
  int64_t track_id(int64_t i) const;
  // Copies sample i as float32 (converting float16) into out[0, elements).
  void CopyFeatures(int64_t i, float* out) const;
  int64_t elements() const { return elements_; }
  DType dtype() const { return dtype_; }

  // The mapped shards, in order: shard k holds samples [begin, begin + n) of
  // the split; its features are n x elements() values of dtype().
  size_t shard_count() const { return shards_.size(); }
  const void* shard_features(size_t k, int64_t* begin, int64_t* n) const;

 private:
  friend class ShardSet;
  struct Shard {
    NpyArray features, labels, tracks;
    int64_t begin = 0;  // Index of its first sample in the split.
  };
  const Shard& Find(int64_t i, int64_t* local) const;

  std::vector<Shard> shards_;
  int64_t size_ = 0;
  int64_t elements_ = 0;
  DType dtype_ = DType::kFloat32;
};

// A shard directory opened for training.
class ShardSet {
 public:
  // Reads the manifest and maps every shard. Checks each file's header and
  // size against the manifest (a truncated or swapped file is found here)
  // and, with `verify_checksums`, reads every byte and compares CRC-32C.
  // Throws hpo::Error (bad input) naming the file and what is wrong.
  static std::unique_ptr<ShardSet> Open(const std::string& dir,
                                        bool verify_checksums);

  const Manifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  // Throws hpo::Error (bad input) for a split the manifest does not have.
  const ShardSplit& split(const std::string& name) const;

 private:
  std::string dir_;
  Manifest manifest_;
  std::map<std::string, ShardSplit> splits_;
};

// Checks a shard directory completely: the manifest, every file's presence,
// header, size and CRC-32C, labels within the classes, track ids and counts
// that agree with the manifest. Returns one line per problem, naming the
// file; empty when everything is right. `progress` (may be empty) is called
// with (files checked, files) after each file.
std::vector<std::string> VerifyShards(
    const std::string& dir,
    const std::function<void(int64_t, int64_t)>& progress);

}  // namespace hpo::features

#endif  // HPO_FEATURES_SHARDS_H_
