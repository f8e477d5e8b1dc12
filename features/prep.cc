#include "features/prep.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/json_util.h"
#include "features/audio.h"
#include "features/crc32c.h"
#include "features/csv.h"
#include "features/float16.h"
#include "features/shards.h"

namespace hpo::features {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Extra audio decoded past what the segments need, so the resampler's edge
// effects fall outside the kept samples.
constexpr double kDecodeMarginSeconds = 0.25;

bool HasWave(FeatureKind k) {
  return k == FeatureKind::kWave || k == FeatureKind::kStftWave;
}

bool HasSpectrogram(FeatureKind k) { return k != FeatureKind::kWave; }

std::string Join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

void WriteText(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      throw RuntimeFailure("cannot write " + tmp +
                           " (check that the directory is writable and the "
                           "disk has space)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw RuntimeFailure("cannot rename " + tmp + ": " + ec.message());
}

// Rounds values to what the shard will hold, so statistics describe the
// stored data exactly.
void RoundTo(DType dtype, std::vector<float>* values) {
  if (dtype != DType::kFloat16) return;
  for (float& v : *values) v = HalfToFloat(FloatToHalf(v));
}

// One shard of work: its clips, then (once extracted) their features.
struct ShardWork {
  std::string split;
  std::string stem;
  std::vector<const ClipJob*> clips;
  std::string fingerprint;
  json marker;  // Set when finished (now or by an earlier run).
  // Filled by the extracting threads, one slot per clip.
  std::vector<std::vector<float>> values;
  std::vector<int64_t> augmented;  // Samples of values[i] from copies.
  std::vector<std::string> errors;
  std::atomic<int64_t> remaining{0};
};

json SkippedJson(const SkippedClip& s) {
  return {{"track_id", s.track_id}, {"path", s.path}, {"reason", s.reason}};
}

// True when an earlier run finished this shard with the same inputs and its
// files are still there with the shapes the marker records.
bool LoadMarker(const std::string& dir, ShardWork* w) {
  const std::string path = Join(dir, w->stem + ".done.json");
  if (!fs::exists(path)) return false;
  try {
    json m = json::parse(ReadTextFile(path));
    if (m.at("fingerprint").get<std::string>() != w->fingerprint) return false;
    const json& e = m.at("entry");
    for (const char* key : {"features", "labels", "tracks"}) {
      NpyArray a = NpyArray::Open(Join(dir, e.at(key).get<std::string>()));
      if (a.shape().empty() || a.shape()[0] != e.at("samples").get<int64_t>()) {
        return false;
      }
      // A shard damaged since it was written is written again.
      if (Crc32cHex(Crc32c(a.file().data(), a.file().size())) !=
          e.at(std::string("crc_") + key).get<std::string>()) {
        return false;
      }
    }
    w->marker = std::move(m);
    return true;
  } catch (const std::exception&) {
    return false;  // Damaged or from another version: redo the shard.
  }
}

ShardEntry EntryFromJson(const json& e) {
  ShardEntry s;
  s.features = e.at("features");
  s.labels = e.at("labels");
  s.tracks = e.at("tracks");
  s.samples = e.at("samples");
  s.crc_features = e.at("crc_features");
  s.crc_labels = e.at("crc_labels");
  s.crc_tracks = e.at("crc_tracks");
  return s;
}

json EntryToJson(const ShardEntry& s) {
  return {{"features", s.features},
          {"labels", s.labels},
          {"tracks", s.tracks},
          {"samples", s.samples},
          {"crc_features", s.crc_features},
          {"crc_labels", s.crc_labels},
          {"crc_tracks", s.crc_tracks}};
}

// Groups clips by split (training, validation, test), keeping their order,
// and cuts each split into shards.
std::vector<std::unique_ptr<ShardWork>> PlanShards(
    const std::vector<ClipJob>& clips, int tracks_per_shard,
    const std::string& fingerprint_base) {
  std::vector<std::unique_ptr<ShardWork>> shards;
  for (const std::string& split : SplitNames()) {
    std::vector<const ClipJob*> in_split;
    for (const ClipJob& c : clips) {
      if (c.split == split) in_split.push_back(&c);
    }
    for (size_t at = 0, index = 0; at < in_split.size();
         at += tracks_per_shard, ++index) {
      auto w = std::make_unique<ShardWork>();
      w->split = split;
      char stem[64];
      std::snprintf(stem, sizeof stem, "%s-%05zu", split.c_str(), index);
      w->stem = stem;
      const size_t end =
          std::min(in_split.size(), at + static_cast<size_t>(tracks_per_shard));
      w->clips.assign(in_split.begin() + at, in_split.begin() + end);
      json ids = json::array();
      for (const ClipJob* c : w->clips) {
        ids.push_back({c->track_id, c->label, c->path});
      }
      const std::string text = fingerprint_base + ids.dump();
      w->fingerprint = Crc32cHex(Crc32c(text.data(), text.size())) + "-" +
                       std::to_string(text.size());
      shards.push_back(std::move(w));
    }
  }
  return shards;
}

// Writes a shard's files and marker from its extracted clips: each part's
// row statistics under "stats" (one part) or "part_stats" (several).
void FinishShard(const std::string& dir, const SampleLayout& layout,
                 DType dtype, size_t classes, ShardWork* w) {
  const int64_t per_clip = layout.elements();
  std::vector<float> features;
  std::vector<int32_t> labels;
  std::vector<int64_t> tracks;
  json skipped = json::array();
  std::vector<int64_t> class_samples(classes, 0);
  int64_t kept_tracks = 0;
  int64_t augmented = 0;
  for (size_t i = 0; i < w->clips.size(); ++i) {
    const ClipJob& c = *w->clips[i];
    if (!w->errors[i].empty()) {
      skipped.push_back(SkippedJson({c.track_id, c.path, w->errors[i]}));
      continue;
    }
    ++kept_tracks;
    if (!w->augmented.empty()) augmented += w->augmented[i];
    std::vector<float>& v = w->values[i];
    const int64_t segments = static_cast<int64_t>(v.size()) / per_clip;
    features.insert(features.end(), v.begin(), v.end());
    for (int64_t s = 0; s < segments; ++s) {
      labels.push_back(c.label);
      tracks.push_back(c.track_id);
      ++class_samples[c.label];
    }
    std::vector<float>().swap(v);
  }
  RoundTo(dtype, &features);
  json part_stats = json::array();
  for (const SampleLayoutPart& p : layout.parts) {
    RowStats stats(p.rows, p.cols);
    for (size_t s = 0; s < labels.size(); ++s) {
      stats.Add(features.data() + s * per_clip + p.offset);
    }
    part_stats.push_back(stats.ToJson());
  }
  ShardEntry entry = WriteShard(dir, w->stem, dtype, layout.sample_shape,
                                features, labels, tracks);
  w->marker = {{"fingerprint", w->fingerprint},
               {"split", w->split},
               {"entry", EntryToJson(entry)},
               {"tracks", kept_tracks},
               {"class_samples", class_samples},
               {"augmented_samples", augmented},
               {"skipped", skipped}};
  if (part_stats.size() == 1) {
    w->marker["stats"] = part_stats[0];
  } else {
    w->marker["part_stats"] = part_stats;
  }
  WriteText(Join(dir, w->stem + ".done.json"), w->marker.dump() + "\n");
}

// The normalisation of several parts' values taken together, each part
// weighted by its values per sample.
Normalization Combine(const std::vector<Normalization>& parts,
                      const SampleLayout& layout) {
  Normalization all;
  double n = 0, sum = 0, sum_sq = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const double e = static_cast<double>(layout.parts[i].elements());
    n += e;
    sum += e * parts[i].mean;
    sum_sq += e * (parts[i].std * parts[i].std + parts[i].mean * parts[i].mean);
    all.row_mean.insert(all.row_mean.end(), parts[i].row_mean.begin(),
                        parts[i].row_mean.end());
    all.row_std.insert(all.row_std.end(), parts[i].row_std.begin(),
                       parts[i].row_std.end());
  }
  if (n > 0) {
    all.mean = sum / n;
    all.std = std::sqrt(std::max(0.0, sum_sq / n - all.mean * all.mean));
  }
  return all;
}

// Assembles the manifest, report.csv and index.csv from finished shards;
// `copies` names the augmented copies each training track has.
PrepResult WriteOutputs(const std::vector<std::unique_ptr<ShardWork>>& shards,
                        const std::vector<ClipJob>& clips,
                        const std::vector<std::string>& classes,
                        const std::string& kind, const SampleLayout& layout,
                        DType dtype, const json& preprocessing,
                        const json& source,
                        const std::vector<std::string>& copies,
                        const std::string& dir) {
  PrepResult result;
  Manifest m;
  m.kind = kind;
  m.classes = classes;
  m.sample_shape = layout.sample_shape;
  m.dtype = dtype;
  m.preprocessing = preprocessing;
  m.source = source;
  std::vector<RowStats> training(layout.parts.size());
  std::string report = "track_id,path,reason\n";
  std::string index = "track_id,split,label,class,path,augmentation\n";
  for (const auto& w : shards) {
    const json& mk = w->marker;
    SplitEntry& split = m.splits[w->split];
    if (split.class_samples.empty())
      split.class_samples.assign(classes.size(), 0);
    ShardEntry entry = EntryFromJson(mk.at("entry"));
    split.samples += entry.samples;
    split.tracks += mk.at("tracks").get<int64_t>();
    split.augmented_samples += mk.value("augmented_samples", int64_t{0});
    const auto counts = mk.at("class_samples").get<std::vector<int64_t>>();
    for (size_t c = 0; c < counts.size() && c < classes.size(); ++c) {
      split.class_samples[c] += counts[c];
    }
    split.shards.push_back(entry);
    if (w->split == "training") {
      if (training.size() == 1) {
        training[0].Merge(RowStats::FromJson(mk.at("stats")));
      } else {
        const json& ps = mk.at("part_stats");
        for (size_t p = 0; p < training.size(); ++p) {
          training[p].Merge(RowStats::FromJson(ps.at(p)));
        }
      }
    }
    std::vector<int64_t> skipped_ids;
    for (const json& s : mk.at("skipped")) {
      SkippedClip sc{s.at("track_id"), s.at("path"), s.at("reason")};
      report +=
          CsvLine({std::to_string(sc.track_id), sc.path, sc.reason}) + "\n";
      skipped_ids.push_back(sc.track_id);
      result.skipped.push_back(std::move(sc));
    }
    for (const ClipJob* c : w->clips) {
      if (std::find(skipped_ids.begin(), skipped_ids.end(), c->track_id) !=
          skipped_ids.end()) {
        continue;
      }
      std::vector<std::string> rows = {""};
      if (c->split == "training") {
        rows.insert(rows.end(), copies.begin(), copies.end());
      }
      for (const std::string& copy : rows) {
        index += CsvLine({std::to_string(c->track_id), c->split,
                          std::to_string(c->label), classes[c->label], c->path,
                          copy}) +
                 "\n";
      }
    }
    result.tracks += mk.at("tracks").get<int64_t>();
    result.samples += entry.samples;
  }
  if (training.size() == 1) {
    m.normalization = training[0].Finish();
  } else {
    std::vector<Normalization> parts;
    for (size_t p = 0; p < training.size(); ++p) {
      parts.push_back(training[p].Finish());
      ManifestPart mp;
      mp.kind = layout.parts[p].kind;
      mp.shape = layout.parts[p].shape;
      mp.offset = layout.parts[p].offset;
      mp.mean = parts.back().mean;
      mp.std = parts.back().std;
      m.parts.push_back(std::move(mp));
    }
    m.normalization = Combine(parts, layout);
  }
  WriteText(Join(dir, "report.csv"), report);
  WriteText(Join(dir, "index.csv"), index);
  WriteManifest(dir, m);
  return result;
}

void PrepareDirectory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw BadInput("--out " + dir + ": cannot create the directory: " +
                   (ec ? ec.message() : "a file has that name") +
                   " (pick a writable path)");
  }
  // Temporary files of an interrupted run.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".tmp") != std::string::npos) fs::remove(entry.path(), ec);
  }
}

void CheckClips(const std::vector<ClipJob>& clips,
                const std::vector<std::string>& classes) {
  if (classes.size() < 2) {
    throw BadInput("the data has " + std::to_string(classes.size()) +
                   " class(es); a classifier needs at least two labels");
  }
  for (const ClipJob& c : clips) {
    if (c.label < 0 || c.label >= static_cast<int32_t>(classes.size()) ||
        !IsSplitName(c.split)) {
      throw BadInput("track " + std::to_string(c.track_id) + " (" + c.path +
                     "): label " + std::to_string(c.label) + " or split \"" +
                     c.split + "\" is not valid");
    }
  }
}

}  // namespace

const char* FeatureKindName(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kStft:
      return "stft";
    case FeatureKind::kWave:
      return "wave";
    case FeatureKind::kStftWave:
      return "stft+wave";
    case FeatureKind::kMel:
      break;
  }
  return "mel";
}

FeatureKind ParseFeatureKind(const std::string& name) {
  for (FeatureKind k : {FeatureKind::kMel, FeatureKind::kStft,
                        FeatureKind::kWave, FeatureKind::kStftWave}) {
    if (name == FeatureKindName(k)) return k;
  }
  throw BadInput("--features " + name +
                 ": expected mel, stft, wave or stft+wave (e.g. --features "
                 "stft for linear-frequency spectrograms)");
}

int64_t SampleLayout::elements() const {
  int64_t n = 0;
  for (const SampleLayoutPart& p : parts) n += p.elements();
  return n;
}

SampleLayout LayoutFor(const PrepOptions& o) {
  const int64_t frames = o.segments.frames;
  SampleLayout layout;
  auto add = [&](const std::string& kind, std::vector<int64_t> shape,
                 int64_t rows, int64_t cols) {
    SampleLayoutPart p;
    p.kind = kind;
    p.shape = std::move(shape);
    p.offset = layout.elements();
    p.rows = rows;
    p.cols = cols;
    layout.parts.push_back(std::move(p));
  };
  const int64_t bins = o.mel.n_fft / 2 + 1;
  const int64_t samples = frames * o.mel.hop;
  switch (o.features) {
    case FeatureKind::kMel:
      add("mel", {1, o.mel.n_mels, frames}, o.mel.n_mels, frames);
      break;
    case FeatureKind::kStft:
      add("stft", {1, bins, frames}, bins, frames);
      break;
    case FeatureKind::kWave:
      add("wave", {1, samples}, 1, samples);
      break;
    case FeatureKind::kStftWave:
      add("stft", {1, bins, frames}, bins, frames);
      add("wave", {1, samples}, 1, samples);
      break;
  }
  layout.sample_shape = layout.parts.size() == 1
                            ? layout.parts[0].shape
                            : std::vector<int64_t>{layout.elements()};
  return layout;
}

void ValidatePrepOptions(const PrepOptions& o) {
  ValidateMelOptions(o.mel);
  const auto& s = o.segments;
  if (s.frames < 1 || s.frames > 100000) {
    throw BadInput("--frames " + std::to_string(s.frames) +
                   ": expected 1..100000 frames per segment, e.g. 128");
  }
  if (s.segments < 0 || s.segments > 10000) {
    throw BadInput("--segments " + std::to_string(s.segments) +
                   ": expected 1..10000 segments per track, or all");
  }
  if (!(s.overlap >= 0 && s.overlap < 1)) {
    throw BadInput("--overlap " + std::to_string(s.overlap) +
                   ": expected a fraction in [0, 1), e.g. 0.5");
  }
  if (s.spread && s.segments == kAllSegments) {
    throw BadInput(
        "--spread: spreads a number of segments over the clip; give "
        "--segments N, e.g. 3 (--segments all already covers it)");
  }
  if (s.spread && s.overlap > 0) {
    throw BadInput(
        "--overlap: --spread places the segments itself (at 0, 1/N, 2/N ... "
        "of the clip); leave --overlap out");
  }
  if (HasWave(o.features) &&
      static_cast<int64_t>(s.frames) * o.mel.hop > (int64_t{1} << 24)) {
    throw BadInput("--frames " + std::to_string(s.frames) + " x --hop " +
                   std::to_string(o.mel.hop) +
                   ": a waveform segment of more than 16777216 samples; use "
                   "fewer frames or a smaller hop");
  }
  if (o.dtype != DType::kFloat16 && o.dtype != DType::kFloat32) {
    throw BadInput("--dtype: expected float16 or float32");
  }
  if (o.jobs < 1 || o.jobs > 1024) {
    throw BadInput("--jobs " + std::to_string(o.jobs) + ": expected 1..1024");
  }
  if (o.tracks_per_shard < 1) {
    throw BadInput("--tracks-per-shard " + std::to_string(o.tracks_per_shard) +
                   ": expected at least 1");
  }
  if (!(o.min_seconds >= 0)) {
    throw BadInput("--min-seconds: expected 0 or more seconds");
  }
  std::vector<std::string> names;
  for (const Augmentation& a : o.augment) {
    const std::string name = AugmentationName(a);
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw BadInput("--pitch-shift / --tempo: " + name +
                     " is asked for twice (each copy once)");
    }
    names.push_back(name);
  }
}

int64_t SegmentStep(const SegmentOptions& s) {
  return std::max<int64_t>(
      1, static_cast<int64_t>(std::lround(s.frames * (1.0 - s.overlap))));
}

int64_t SegmentFramesNeeded(const SegmentOptions& s) {
  return (s.segments - 1) * SegmentStep(s) + s.frames;
}

namespace {

// True when the segments depend on the whole clip's length.
bool WholeClip(const PrepOptions& o) {
  return o.segments.segments == kAllSegments || o.segments.spread;
}

// Samples that hold segments up to one starting at frame `last_start` (see
// ClipSamplesNeeded).
int64_t SamplesThrough(const PrepOptions& o, int64_t last_start) {
  const int64_t frames = last_start + o.segments.frames;
  int64_t need = 0;
  if (HasSpectrogram(o.features)) {
    // A centred STFT of n samples has 1 + (n + 2 (n_fft / 2) - n_fft) / hop
    // frames; take the shortest n with the frames needed.
    const int64_t pad = 2 * (o.mel.n_fft / 2) - o.mel.n_fft;  // 0 or -1.
    need = std::max<int64_t>(0, (frames - 1) * o.mel.hop - pad);
  }
  if (HasWave(o.features)) need = std::max(need, frames * o.mel.hop);
  return need;
}

// The first frame of each segment of a clip of `samples` samples.
std::vector<int64_t> SegmentStarts(const PrepOptions& o, int64_t samples) {
  const int64_t n = o.segments.segments == kAllSegments
                        ? SegmentsInClip(o, samples)
                        : o.segments.segments;
  const int64_t whole_frames = samples / o.mel.hop;
  std::vector<int64_t> starts(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    starts[k] =
        o.segments.spread ? k * whole_frames / n : k * SegmentStep(o.segments);
  }
  return starts;
}

}  // namespace

int64_t ClipSamplesNeeded(const PrepOptions& o) {
  if (WholeClip(o)) return 0;
  return SamplesThrough(o, (o.segments.segments - 1) * SegmentStep(o.segments));
}

int64_t SegmentsInClip(const PrepOptions& o, int64_t samples) {
  // Segment k spans samples [k step hop, (k step + frames) hop).
  const int64_t whole_frames = samples / o.mel.hop;
  if (whole_frames < o.segments.frames) return 1;
  return 1 + (whole_frames - o.segments.frames) / SegmentStep(o.segments);
}

json PreprocessingJson(const PrepOptions& o) {
  json j = {{"sample_rate", o.mel.sample_rate},
            {"n_fft", o.mel.n_fft},
            {"hop", o.mel.hop}};
  if (o.features == FeatureKind::kMel) {
    j.update({{"n_mels", o.mel.n_mels},
              {"htk", o.mel.htk},
              {"fmin", o.mel.fmin},
              {"fmax", o.mel.fmax > 0 ? o.mel.fmax : o.mel.sample_rate / 2.0},
              {"window", "hann"},
              {"center", true},
              {"power", 2.0},
              {"db", {{"ref", "max"}, {"amin", 1e-10}, {"top_db", 80.0}}}});
  } else {
    // Only for the newer kinds, so mel shards keep their fingerprints.
    j["features"] = FeatureKindName(o.features);
    if (HasSpectrogram(o.features)) {
      j.update({{"window", "hann"}, {"center", true}, {"magnitude", true}});
      if (o.stft_db) {
        j["db"] = {{"ref", "max"}, {"amin", 1e-5}, {"top_db", 80.0}};
      } else {
        j["db"] = nullptr;
      }
    }
    if (HasWave(o.features)) {
      j["wave_samples"] = static_cast<int64_t>(o.segments.frames) * o.mel.hop;
    }
  }
  j.update({{"resampler", "soxr_hq"},
            {"frames", o.segments.frames},
            {"overlap", o.segments.overlap},
            {"min_seconds", o.min_seconds}});
  if (o.segments.segments == kAllSegments) {
    j["segments"] = "all";
  } else {
    j["segments"] = o.segments.segments;
  }
  if (o.segments.spread) {
    j["spread"] = true;  // Only when set, as "augmentation" below.
  } else if (o.segments.segments != kAllSegments) {
    j["clip_samples"] = ClipSamplesNeeded(o);
  }
  // Only with copies, so shards made without them keep their fingerprints.
  if (!o.augment.empty()) {
    json copies = json::array();
    for (const Augmentation& a : o.augment) {
      copies.push_back(AugmentationName(a));
    }
    j["augmentation"] = {{"copies", copies},
                         {"splits", {"training"}},
                         {"renderer", "sox-tempo+soxr"}};
  }
  return j;
}

namespace {

// Appends the samples of `y`'s segments (SegmentStarts of them; y is
// cropped or zero-padded to the samples they need). Returns their number.
int64_t AppendSegments(std::vector<float> y, const PrepOptions& o,
                       MelSpectrogram& mel, std::vector<float>* values) {
  const std::vector<int64_t> starts =
      SegmentStarts(o, static_cast<int64_t>(y.size()));
  const int64_t segments = static_cast<int64_t>(starts.size());
  y.resize(static_cast<size_t>(SamplesThrough(o, starts.back())), 0.0f);
  Matrix m;
  if (o.features == FeatureKind::kMel) {
    m = mel.Compute(y);
    PowerToDb(&m, /*ref_max=*/true);
  } else if (HasSpectrogram(o.features)) {
    m = mel.StftPower(y);
    if (o.stft_db) {
      // librosa.amplitude_to_db(|X|, ref=np.max, amin=1e-5, top_db=80) is
      // power_to_db(|X|^2, ref=max^2, amin=1e-10, top_db=80).
      PowerToDb(&m, /*ref_max=*/true);
    } else {
      for (double& v : m.values) v = std::sqrt(v);
    }
  }
  const int frames = o.segments.frames;
  const int64_t wave = HasWave(o.features) ? int64_t{frames} * o.mel.hop : 0;
  const int rows = m.rows;
  const size_t at = values->size();
  values->resize(at + static_cast<size_t>(segments) *
                          (static_cast<size_t>(rows) * frames + wave));
  float* dst = values->data() + at;
  for (int64_t seg = 0; seg < segments; ++seg) {
    const int64_t start = starts[seg];
    for (int r = 0; r < rows; ++r) {
      const double* src =
          m.values.data() + static_cast<size_t>(r) * m.cols + start;
      for (int c = 0; c < frames; ++c) *dst++ = static_cast<float>(src[c]);
    }
    if (wave > 0) {
      const float* src = y.data() + start * o.mel.hop;
      dst = std::copy(src, src + wave, dst);
    }
  }
  return segments;
}

}  // namespace

ClipFeatures ExtractClip(const std::string& path, const PrepOptions& o,
                         MelSpectrogram& mel, bool augment) {
  const int sr = o.mel.sample_rate;
  const bool all = WholeClip(o);
  const int64_t need = ClipSamplesNeeded(o);
  if (o.augment.empty()) augment = false;
  // The copies read past `need` by the stretcher's margin, and a faster
  // tempo by its factor.
  const int64_t margin = static_cast<int64_t>(kDecodeMarginSeconds * sr);
  int64_t read = need;
  if (augment) {
    for (const Augmentation& a : o.augment) {
      read = std::max(read, InputSamplesFor(a, need) + margin);
    }
  }
  const double decode_seconds =
      all ? -1 : static_cast<double>(read) / sr + kDecodeMarginSeconds;
  MonoAudio audio = DecodeMono(path, decode_seconds);
  const int64_t asked = all ? std::numeric_limits<int64_t>::max()
                            : static_cast<int64_t>(std::ceil(
                                  decode_seconds * audio.sample_rate - 1e-6));
  const int64_t got = static_cast<int64_t>(audio.samples.size());
  // A file that ran out before what was asked is as long as what it gave;
  // otherwise trust the header for the full length.
  const int64_t frames = got < asked || audio.file_frames <= 0
                             ? got
                             : std::max(got, audio.file_frames);
  ClipFeatures out;
  out.seconds = static_cast<double>(frames) / audio.sample_rate;
  if (got == 0) throw BadInput(path + ": no audio samples");
  if (out.seconds < o.min_seconds) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%s: only %.2f s of audio, shorter than --min-seconds %.2f",
                  path.c_str(), out.seconds, o.min_seconds);
    throw BadInput(buf);
  }
  for (float v : audio.samples) {
    if (!std::isfinite(v)) {
      throw BadInput(path + ": the audio holds NaN or infinite samples");
    }
  }
  std::vector<float> y = Resample(audio.samples, audio.sample_rate, sr);
  // The clip's own segments first, then each copy's.
  AppendSegments(y, o, mel, &out.values);
  if (augment) {
    for (const Augmentation& a : o.augment) {
      // Each copy from as much audio as it turns into `need` samples plus
      // the margin (or what the clip has), so its end is no edge effect;
      // with every segment, from the whole clip.
      const int64_t take =
          all ? static_cast<int64_t>(y.size())
              : std::min<int64_t>(static_cast<int64_t>(y.size()),
                                  InputSamplesFor(a, need) + margin);
      const std::vector<float> in(y.begin(), y.begin() + take);
      out.augmented_samples +=
          AppendSegments(RenderAugmentation(in, sr, a), o, mel, &out.values);
    }
  }
  return out;
}

PrepResult BuildAudioShards(
    const std::vector<ClipJob>& clips, const std::vector<std::string>& classes,
    const PrepOptions& options, const std::string& out_dir, const json& source,
    const ProgressFn& progress,
    const std::function<void(const std::string&)>& log) {
  ValidatePrepOptions(options);
  CheckClips(clips, classes);
  PrepareDirectory(out_dir);
  const json preprocessing = PreprocessingJson(options);
  const SampleLayout layout = LayoutFor(options);
  const std::string kind = FeatureKindName(options.features);
  const std::string base = json{
      {"kind", kind},
      {"preprocessing", preprocessing},
      {"dtype", DTypeName(options.dtype)},
      {"classes", classes}}.dump();
  auto shards = PlanShards(clips, options.tracks_per_shard, base);
  std::vector<std::string> copies;
  for (const Augmentation& a : options.augment) {
    copies.push_back(AugmentationName(a));
  }

  // Work left: (shard, clip) pairs of shards not finished by an earlier run.
  std::vector<std::pair<ShardWork*, size_t>> work;
  int64_t reused_clips = 0;
  PrepResult counts;
  for (auto& w : shards) {
    if (LoadMarker(out_dir, w.get())) {
      ++counts.shards_reused;
      reused_clips += static_cast<int64_t>(w->clips.size());
      continue;
    }
    w->values.resize(w->clips.size());
    w->augmented.assign(w->clips.size(), 0);
    w->errors.resize(w->clips.size());
    w->remaining = static_cast<int64_t>(w->clips.size());
    for (size_t i = 0; i < w->clips.size(); ++i) work.emplace_back(w.get(), i);
  }
  const int64_t total = static_cast<int64_t>(clips.size());
  std::atomic<int64_t> done{reused_clips};
  if (progress) progress(done, total);

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::string fatal;
  ErrorKind fatal_kind = ErrorKind::kRuntime;
  auto run = [&]() {
    MelSpectrogram mel(options.mel);
    while (!failed) {
      const size_t k = next++;
      if (k >= work.size()) break;
      ShardWork* w = work[k].first;
      const size_t i = work[k].second;
      try {
        ClipFeatures f = ExtractClip(w->clips[i]->path, options, mel,
                                     w->clips[i]->split == "training");
        w->values[i] = std::move(f.values);
        w->augmented[i] = f.augmented_samples;
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kBadInput) throw;
        w->errors[i] = e.what();
        if (log)
          log("skipped track " + std::to_string(w->clips[i]->track_id) + ": " +
              e.what());
      }
      if (--w->remaining == 0) {
        try {
          FinishShard(out_dir, layout, options.dtype, classes.size(), w);
        } catch (const Error& e) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (fatal.empty()) {
            fatal = e.what();
            fatal_kind = e.kind();
          }
          failed = true;
        }
      }
      const int64_t d = ++done;
      if (progress) progress(d, total);
    }
  };
  auto guarded = [&]() {
    try {
      run();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (fatal.empty()) fatal = e.what();
      failed = true;
    }
  };
  const int threads =
      std::max(1, std::min<int>(options.jobs, static_cast<int>(work.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(guarded);
  guarded();
  for (std::thread& t : pool) t.join();
  if (failed) throw Error(fatal_kind, fatal);

  PrepResult result =
      WriteOutputs(shards, clips, classes, kind, layout, options.dtype,
                   preprocessing, source, copies, out_dir);
  result.shards_reused = counts.shards_reused;
  result.shards_written =
      static_cast<int64_t>(shards.size()) - counts.shards_reused;
  return result;
}

std::vector<std::string> StratifiedSplit(const std::vector<int32_t>& labels,
                                         uint64_t seed) {
  // splitmix64: a fixed generator, unlike std::shuffle's distributions.
  auto next = [](uint64_t* state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<std::string> split(labels.size(), "training");
  std::map<int32_t, std::vector<size_t>> by_label;
  for (size_t i = 0; i < labels.size(); ++i) by_label[labels[i]].push_back(i);
  for (auto& [label, members] : by_label) {
    uint64_t state = seed * 0x100000001b3ull + static_cast<uint64_t>(label);
    for (size_t i = members.size(); i > 1; --i) {
      std::swap(members[i - 1], members[next(&state) % i]);
    }
    const size_t n = members.size();
    size_t held_out = static_cast<size_t>(std::lround(0.1 * n));
    if (n >= 3) held_out = std::max<size_t>(1, held_out);
    for (size_t k = 0; k < held_out && k < n; ++k) {
      split[members[k]] = "validation";
    }
    for (size_t k = held_out; k < 2 * held_out && k < n; ++k) {
      split[members[k]] = "test";
    }
  }
  return split;
}

PrepResult BuildVectorShards(const FeatureTable& table,
                             const std::vector<int64_t>& rows,
                             const std::vector<ClipJob>& clips,
                             const std::vector<std::string>& classes,
                             int tracks_per_shard, const std::string& out_dir,
                             const json& source) {
  CheckClips(clips, classes);
  if (rows.size() != clips.size()) {
    throw RuntimeFailure("BuildVectorShards: one table row per clip needed");
  }
  if (tracks_per_shard < 1) {
    throw BadInput("--tracks-per-shard: expected at least 1");
  }
  PrepareDirectory(out_dir);
  const int64_t d = static_cast<int64_t>(table.columns.size());
  SampleLayout layout;
  layout.parts.push_back({"vector", {d}, 0, d, 1});
  layout.sample_shape = {d};
  const json preprocessing = {{"features", d}, {"columns", table.columns}};
  const std::string base = json{
      {"kind", "vector"},
      {"preprocessing", preprocessing},
      {"classes", classes}}.dump();
  auto shards = PlanShards(clips, tracks_per_shard, base);
  for (auto& w : shards) {
    w->errors.assign(w->clips.size(), "");
    w->values.resize(w->clips.size());
    for (size_t i = 0; i < w->clips.size(); ++i) {
      const size_t k = static_cast<size_t>(w->clips[i] - clips.data());
      const float* row = table.values.data() + rows[k] * d;
      w->values[i].assign(row, row + d);
    }
    FinishShard(out_dir, layout, DType::kFloat32, classes.size(), w.get());
  }
  PrepResult result =
      WriteOutputs(shards, clips, classes, "vector", layout, DType::kFloat32,
                   preprocessing, source, {}, out_dir);
  result.shards_written = static_cast<int64_t>(shards.size());
  return result;
}

}  // namespace hpo::features
