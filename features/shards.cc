#include "features/shards.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/json_util.h"
#include "features/crc32c.h"
#include "features/float16.h"

namespace hpo::features {
namespace {

using nlohmann::json;

constexpr int kManifestVersion = 1;

std::string Join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  const char* p = text.data();
  size_t n = text.size();
  while (ok && n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0)
      ok = false;
    else {
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  if (ok) ok = ::fdatasync(fd) == 0;
  std::string error = ok ? "" : std::strerror(errno);
  if (fd >= 0 && ::close(fd) != 0 && ok) {
    ok = false;
    error = std::strerror(errno);
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = std::strerror(errno);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw RuntimeFailure("cannot write " + path + ": " + error +
                         " (check that the directory is writable and the "
                         "disk has space)");
  }
}

// Reads typed values from a manifest with errors that name the key.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void Fail(const std::string& path,
                         const std::string& what) const {
    throw BadInput(source_ + ": " + path + " " + what +
                   " (the manifest is damaged: rerun hpo-prep to rewrite it)");
  }
  const json& Get(const json& j, const std::string& key,
                  const std::string& path) const {
    if (!j.is_object() || !j.contains(key)) Fail(path + key, "is missing");
    return j.at(key);
  }
  std::string String(const json& j, const std::string& key,
                     const std::string& path) const {
    const json& v = Get(j, key, path);
    if (!v.is_string()) Fail(path + key, "should be a string");
    return v.get<std::string>();
  }
  int64_t Count(const json& j, const std::string& key,
                const std::string& path) const {
    const json& v = Get(j, key, path);
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      Fail(path + key, "should be a count (an integer >= 0)");
    }
    return v.get<int64_t>();
  }
  double Number(const json& j, const std::string& key,
                const std::string& path) const {
    const json& v = Get(j, key, path);
    if (!v.is_number()) Fail(path + key, "should be a number");
    return v.get<double>();
  }
  std::vector<double> Numbers(const json& j, const std::string& key,
                              const std::string& path) const {
    const json& v = Get(j, key, path);
    if (!v.is_array()) Fail(path + key, "should be an array of numbers");
    std::vector<double> out;
    for (const json& x : v) {
      if (!x.is_number()) Fail(path + key, "should be an array of numbers");
      out.push_back(x.get<double>());
    }
    return out;
  }

 private:
  const std::string& source_;
};

}  // namespace

const std::vector<std::string>& SplitNames() {
  static const std::vector<std::string> names = {"training", "validation",
                                                 "test"};
  return names;
}

bool IsSplitName(const std::string& name) {
  const auto& n = SplitNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

bool IsAudioKind(const std::string& kind) {
  return kind == "mel" || kind == "stft" || kind == "wave" ||
         kind == "stft+wave";
}

int64_t ManifestPart::elements() const { return ShapeElements(shape); }

int64_t Manifest::rows() const {
  if (sample_shape.empty()) return 0;
  return sample_shape.size() == 1 ? sample_shape[0]
                                  : sample_shape[sample_shape.size() - 2];
}

int64_t Manifest::cols() const {
  if (sample_shape.empty()) return 0;
  return sample_shape.size() == 1 ? 1 : sample_shape.back();
}

json ManifestToJson(const Manifest& m) {
  json splits = json::object();
  for (const auto& [name, s] : m.splits) {
    json shards = json::array();
    for (const ShardEntry& e : s.shards) {
      shards.push_back({{"features", e.features},
                        {"labels", e.labels},
                        {"tracks", e.tracks},
                        {"samples", e.samples},
                        {"crc32c",
                         {{"features", e.crc_features},
                          {"labels", e.crc_labels},
                          {"tracks", e.crc_tracks}}}});
    }
    splits[name] = {{"tracks", s.tracks},
                    {"samples", s.samples},
                    {"class_samples", s.class_samples},
                    {"augmented_samples", s.augmented_samples},
                    {"shards", shards}};
  }
  json j{{"format", "hpo-shards"},
         {"version", kManifestVersion},
         {"kind", m.kind},
         {"classes", m.classes},
         {"sample_shape", m.sample_shape},
         {"dtype", DTypeName(m.dtype)},
         {"preprocessing", m.preprocessing},
         {"source", m.source},
         {"normalization",
          {{"mean", m.normalization.mean},
           {"std", m.normalization.std},
           {"row_mean", m.normalization.row_mean},
           {"row_std", m.normalization.row_std}}},
         {"splits", splits}};
  if (!m.parts.empty()) {
    json parts = json::array();
    for (const ManifestPart& p : m.parts) {
      parts.push_back({{"kind", p.kind},
                       {"shape", p.shape},
                       {"offset", p.offset},
                       {"mean", p.mean},
                       {"std", p.std}});
    }
    j["parts"] = parts;
  }
  return j;
}

Manifest ManifestFromJson(const json& j, const std::string& source) {
  Reader r(source);
  if (!j.is_object()) r.Fail("the manifest", "should be a JSON object");
  if (r.String(j, "format", "") != "hpo-shards") {
    r.Fail("format", "should be \"hpo-shards\"");
  }
  const int64_t version = r.Count(j, "version", "");
  if (version != kManifestVersion) {
    throw BadInput(source + ": manifest version " + std::to_string(version) +
                   " is not one this hpo reads (" +
                   std::to_string(kManifestVersion) +
                   "): rerun this version's hpo-prep, or update hpo");
  }
  Manifest m;
  m.kind = r.String(j, "kind", "");
  if (!IsAudioKind(m.kind) && m.kind != "vector") {
    r.Fail("kind",
           "should be \"mel\", \"stft\", \"wave\", \"stft+wave\" or "
           "\"vector\"");
  }
  const json& classes = r.Get(j, "classes", "");
  if (!classes.is_array() || classes.size() < 2) {
    r.Fail("classes", "should list at least two class names");
  }
  for (const json& c : classes) {
    if (!c.is_string()) r.Fail("classes", "should be strings");
    m.classes.push_back(c.get<std::string>());
  }
  const json& shape = r.Get(j, "sample_shape", "");
  if (!shape.is_array() || shape.empty() || shape.size() > 3) {
    r.Fail("sample_shape", "should be [D] or [1, rows, cols]");
  }
  for (const json& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1) {
      r.Fail("sample_shape", "should hold positive integers");
    }
    m.sample_shape.push_back(d.get<int64_t>());
  }
  if (!ParseDTypeName(r.String(j, "dtype", ""), &m.dtype) ||
      (m.dtype != DType::kFloat16 && m.dtype != DType::kFloat32)) {
    r.Fail("dtype", "should be \"float16\" or \"float32\"");
  }
  if (j.contains("preprocessing")) m.preprocessing = j["preprocessing"];
  if (j.contains("source")) m.source = j["source"];
  const json& norm = r.Get(j, "normalization", "");
  m.normalization.mean = r.Number(norm, "mean", "normalization.");
  m.normalization.std = r.Number(norm, "std", "normalization.");
  m.normalization.row_mean = r.Numbers(norm, "row_mean", "normalization.");
  m.normalization.row_std = r.Numbers(norm, "row_std", "normalization.");
  if (m.kind == "stft+wave") {
    const json& parts = r.Get(j, "parts", "");
    if (!parts.is_array() || parts.size() != 2) {
      r.Fail("parts", "should list the stft and the wave part");
    }
    int64_t offset = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string path = "parts[" + std::to_string(i) + "].";
      ManifestPart p;
      p.kind = r.String(parts[i], "kind", path);
      if (p.kind != (i == 0 ? "stft" : "wave")) {
        r.Fail(path + "kind",
               i == 0 ? "should be \"stft\"" : "should be \"wave\"");
      }
      for (double d : r.Numbers(parts[i], "shape", path)) {
        if (d < 1 || d != std::floor(d)) {
          r.Fail(path + "shape", "should hold positive integers");
        }
        p.shape.push_back(static_cast<int64_t>(d));
      }
      if (p.shape.size() != (i == 0 ? 3u : 2u)) {
        r.Fail(path + "shape", i == 0 ? "should be [1, bins, frames]"
                                      : "should be [1, samples]");
      }
      p.offset = r.Count(parts[i], "offset", path);
      if (p.offset != offset) {
        r.Fail(path + "offset", "should be " + std::to_string(offset) +
                                    ", where the previous part ends");
      }
      offset += p.elements();
      p.mean = r.Number(parts[i], "mean", path);
      p.std = r.Number(parts[i], "std", path);
      m.parts.push_back(std::move(p));
    }
    if (m.sample_shape.size() != 1 || m.sample_shape[0] != offset) {
      r.Fail("sample_shape", "should be [" + std::to_string(offset) +
                                 "], the parts' values one after the other");
    }
  }
  const json& splits = r.Get(j, "splits", "");
  if (!splits.is_object()) r.Fail("splits", "should be an object");
  for (const auto& [name, s] : splits.items()) {
    const std::string path = "splits." + name + ".";
    if (!IsSplitName(name)) {
      r.Fail("splits." + name, "is not training, validation or test");
    }
    SplitEntry e;
    e.tracks = r.Count(s, "tracks", path);
    e.samples = r.Count(s, "samples", path);
    for (double c : r.Numbers(s, "class_samples", path)) {
      e.class_samples.push_back(static_cast<int64_t>(c));
    }
    if (e.class_samples.size() != m.classes.size()) {
      r.Fail(path + "class_samples", "should have one count per class");
    }
    // Manifests written before augmentation existed have none.
    if (s.contains("augmented_samples")) {
      e.augmented_samples = r.Count(s, "augmented_samples", path);
      if (e.augmented_samples > e.samples) {
        r.Fail(path + "augmented_samples", "should be at most samples");
      }
    }
    const json& shards = r.Get(s, "shards", path);
    if (!shards.is_array()) r.Fail(path + "shards", "should be an array");
    int64_t total = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string sp = path + "shards[" + std::to_string(i) + "].";
      const json& sh = shards[i];
      ShardEntry se;
      se.features = r.String(sh, "features", sp);
      se.labels = r.String(sh, "labels", sp);
      se.tracks = r.String(sh, "tracks", sp);
      se.samples = r.Count(sh, "samples", sp);
      const json& crc = r.Get(sh, "crc32c", sp);
      se.crc_features = r.String(crc, "features", sp + "crc32c.");
      se.crc_labels = r.String(crc, "labels", sp + "crc32c.");
      se.crc_tracks = r.String(crc, "tracks", sp + "crc32c.");
      for (const std::string* f : {&se.features, &se.labels, &se.tracks}) {
        if (f->empty() || f->find('/') != std::string::npos || *f == "." ||
            *f == "..") {
          r.Fail(sp + "features", "should be a file name inside the directory");
        }
      }
      total += se.samples;
      e.shards.push_back(std::move(se));
    }
    if (total != e.samples) {
      r.Fail(path + "samples", "does not equal the sum of its shards' samples");
    }
    m.splits[name] = std::move(e);
  }
  return m;
}

Manifest ReadManifest(const std::string& dir) {
  const std::string path = Join(dir, "manifest.json");
  if (!std::filesystem::exists(path)) {
    throw BadInput(path +
                   " does not exist: is --data/--shards the directory "
                   "hpo-prep wrote? (make one with e.g. hpo-prep fma ... "
                   "--out " +
                   dir + ")");
  }
  return ManifestFromJson(ParseJsonText(ReadTextFile(path), path), path);
}

void WriteManifest(const std::string& dir, const Manifest& manifest) {
  WriteFileAtomically(Join(dir, "manifest.json"),
                      ManifestToJson(manifest).dump(1) + "\n");
}

RowStats::RowStats(int64_t rows, int64_t cols)
    : rows_(rows), cols_(cols), sum_(rows, 0.0), sum_sq_(rows, 0.0) {}

void RowStats::Add(const float* sample) {
  for (int64_t r = 0; r < rows_; ++r) {
    const float* row = sample + r * cols_;
    double s = 0, q = 0;
    for (int64_t c = 0; c < cols_; ++c) {
      s += row[c];
      q += static_cast<double>(row[c]) * row[c];
    }
    sum_[r] += s;
    sum_sq_[r] += q;
  }
  ++samples_;
}

void RowStats::Merge(const RowStats& other) {
  if (other.samples_ == 0) return;
  if (samples_ == 0 && sum_.empty()) {
    *this = other;
    return;
  }
  for (int64_t r = 0; r < rows_; ++r) {
    sum_[r] += other.sum_[r];
    sum_sq_[r] += other.sum_sq_[r];
  }
  samples_ += other.samples_;
}

Normalization RowStats::Finish() const {
  Normalization n;
  if (samples_ == 0) return n;
  const double per_row = static_cast<double>(samples_) * cols_;
  double total = 0, total_sq = 0;
  n.row_mean.resize(rows_);
  n.row_std.resize(rows_);
  for (int64_t r = 0; r < rows_; ++r) {
    const double mean = sum_[r] / per_row;
    n.row_mean[r] = mean;
    n.row_std[r] = std::sqrt(std::max(0.0, sum_sq_[r] / per_row - mean * mean));
    total += sum_[r];
    total_sq += sum_sq_[r];
  }
  const double all = per_row * rows_;
  n.mean = total / all;
  n.std = std::sqrt(std::max(0.0, total_sq / all - n.mean * n.mean));
  return n;
}

json RowStats::ToJson() const {
  return json{{"rows", rows_},
              {"cols", cols_},
              {"samples", samples_},
              {"sum", sum_},
              {"sum_sq", sum_sq_}};
}

RowStats RowStats::FromJson(const json& j) {
  RowStats s(j.at("rows").get<int64_t>(), j.at("cols").get<int64_t>());
  s.samples_ = j.at("samples").get<int64_t>();
  s.sum_ = j.at("sum").get<std::vector<double>>();
  s.sum_sq_ = j.at("sum_sq").get<std::vector<double>>();
  if (static_cast<int64_t>(s.sum_.size()) != s.rows_ ||
      static_cast<int64_t>(s.sum_sq_.size()) != s.rows_) {
    throw std::runtime_error("row statistics of the wrong length");
  }
  return s;
}

ShardEntry WriteShard(const std::string& dir, const std::string& stem,
                      DType dtype, const std::vector<int64_t>& sample_shape,
                      const std::vector<float>& features,
                      const std::vector<int32_t>& labels,
                      const std::vector<int64_t>& track_ids) {
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  ShardEntry e;
  e.samples = n;
  e.features = stem + ".features.npy";
  e.labels = stem + ".labels.npy";
  e.tracks = stem + ".tracks.npy";
  uint32_t crc;
  if (dtype == DType::kFloat16) {
    std::vector<uint16_t> halves(features.size());
    FloatsToHalves(features.data(), halves.data(), features.size());
    crc = WriteNpy(Join(dir, e.features), dtype, shape, halves.data());
  } else {
    crc = WriteNpy(Join(dir, e.features), dtype, shape, features.data());
  }
  e.crc_features = Crc32cHex(crc);
  e.crc_labels = Crc32cHex(
      WriteNpy(Join(dir, e.labels), DType::kInt32, {n}, labels.data()));
  e.crc_tracks = Crc32cHex(
      WriteNpy(Join(dir, e.tracks), DType::kInt64, {n}, track_ids.data()));
  return e;
}

const ShardSplit::Shard& ShardSplit::Find(int64_t i, int64_t* local) const {
  // The last shard whose first sample is <= i.
  auto it =
      std::upper_bound(shards_.begin(), shards_.end(), i,
                       [](int64_t v, const Shard& s) { return v < s.begin; });
  const Shard& s = *(it - 1);
  *local = i - s.begin;
  return s;
}

int32_t ShardSplit::label(int64_t i) const {
  int64_t k;
  const Shard& s = Find(i, &k);
  return s.labels.as<int32_t>()[k];
}

int64_t ShardSplit::track_id(int64_t i) const {
  int64_t k;
  const Shard& s = Find(i, &k);
  return s.tracks.as<int64_t>()[k];
}

const void* ShardSplit::shard_features(size_t k, int64_t* begin,
                                       int64_t* n) const {
  const Shard& s = shards_.at(k);
  *begin = s.begin;
  *n = s.features.shape()[0];
  return s.features.data();
}

void ShardSplit::CopyFeatures(int64_t i, float* out) const {
  int64_t k;
  const Shard& s = Find(i, &k);
  if (dtype_ == DType::kFloat16) {
    HalvesToFloats(s.features.as<uint16_t>() + k * elements_, out,
                   static_cast<size_t>(elements_));
  } else {
    std::memcpy(out, s.features.as<float>() + k * elements_,
                static_cast<size_t>(elements_) * sizeof(float));
  }
}

namespace {

// Opens one file of a shard and checks it against the manifest.
NpyArray OpenShardFile(const std::string& dir, const std::string& name,
                       DType dtype, const std::vector<int64_t>& shape,
                       const std::string& crc, bool verify) {
  const std::string path = Join(dir, name);
  NpyArray a = NpyArray::Open(path);
  if (a.dtype() != dtype || a.shape() != shape) {
    auto str = [](const std::vector<int64_t>& s) {
      std::string out = "[";
      for (size_t i = 0; i < s.size(); ++i) {
        out += (i ? ", " : "") + std::to_string(s[i]);
      }
      return out + "]";
    };
    throw BadInput(path + ": holds " + DTypeName(a.dtype()) + " " +
                   str(a.shape()) + " but the manifest expects " +
                   DTypeName(dtype) + " " + str(shape) +
                   " (the file was replaced or the manifest is stale: rerun "
                   "hpo-prep)");
  }
  if (verify) {
    const std::string got = Crc32cHex(Crc32c(a.file().data(), a.file().size()));
    if (got != crc) {
      throw BadInput(path + ": checksum mismatch (crc32c " + got +
                     ", manifest " + crc +
                     "): the file is corrupt; rerun hpo-prep to rewrite it");
    }
  }
  return a;
}

}  // namespace

std::unique_ptr<ShardSet> ShardSet::Open(const std::string& dir,
                                         bool verify_checksums) {
  auto set = std::make_unique<ShardSet>();
  set->dir_ = dir;
  set->manifest_ = ReadManifest(dir);
  const Manifest& m = set->manifest_;
  for (const auto& [name, entry] : m.splits) {
    ShardSplit& split = set->splits_[name];
    split.dtype_ = m.dtype;
    split.elements_ = ShapeElements(m.sample_shape);
    for (const ShardEntry& e : entry.shards) {
      ShardSplit::Shard s;
      std::vector<int64_t> shape = {e.samples};
      shape.insert(shape.end(), m.sample_shape.begin(), m.sample_shape.end());
      s.features = OpenShardFile(dir, e.features, m.dtype, shape,
                                 e.crc_features, verify_checksums);
      s.labels = OpenShardFile(dir, e.labels, DType::kInt32, {e.samples},
                               e.crc_labels, verify_checksums);
      s.tracks = OpenShardFile(dir, e.tracks, DType::kInt64, {e.samples},
                               e.crc_tracks, verify_checksums);
      s.begin = split.size_;
      split.size_ += e.samples;
      if (e.samples > 0) split.shards_.push_back(std::move(s));
    }
  }
  return set;
}

const ShardSplit& ShardSet::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) {
    throw BadInput(Join(dir_, "manifest.json") + ": has no split \"" + name +
                   "\" (it has " + std::to_string(splits_.size()) +
                   " splits; rerun hpo-prep with data for it)");
  }
  return it->second;
}

std::vector<std::string> VerifyShards(
    const std::string& dir,
    const std::function<void(int64_t, int64_t)>& progress) {
  std::vector<std::string> problems;
  Manifest m;
  try {
    m = ReadManifest(dir);
  } catch (const Error& e) {
    problems.push_back(e.what());
    return problems;
  }
  int64_t files = 0, checked = 0;
  for (const auto& [name, s] : m.splits) files += 3 * s.shards.size();
  for (const auto& [name, s] : m.splits) {
    std::vector<int64_t> class_samples(m.classes.size(), 0);
    for (const ShardEntry& e : s.shards) {
      std::vector<int64_t> shape = {e.samples};
      shape.insert(shape.end(), m.sample_shape.begin(), m.sample_shape.end());
      const struct {
        const std::string& file;
        DType dtype;
        std::vector<int64_t> shape;
        const std::string& crc;
      } parts[] = {{e.features, m.dtype, shape, e.crc_features},
                   {e.labels, DType::kInt32, {e.samples}, e.crc_labels},
                   {e.tracks, DType::kInt64, {e.samples}, e.crc_tracks}};
      for (const auto& p : parts) {
        try {
          NpyArray a =
              OpenShardFile(dir, p.file, p.dtype, p.shape, p.crc, true);
          if (&p.file == &e.labels) {
            const int32_t* labels = a.as<int32_t>();
            for (int64_t i = 0; i < e.samples; ++i) {
              if (labels[i] < 0 ||
                  labels[i] >= static_cast<int32_t>(m.classes.size())) {
                problems.push_back(Join(dir, p.file) + ": label " +
                                   std::to_string(labels[i]) + " at row " +
                                   std::to_string(i) + " is not a class (0.." +
                                   std::to_string(m.classes.size() - 1) + ")");
                break;
              }
              ++class_samples[labels[i]];
            }
          }
        } catch (const Error& err) {
          problems.push_back(err.what());
        }
        if (progress) progress(++checked, files);
      }
    }
    if (problems.empty() && class_samples != s.class_samples) {
      problems.push_back(Join(dir, "manifest.json") + ": splits." + name +
                         ".class_samples does not match the labels in its "
                         "shards (rerun hpo-prep)");
    }
  }
  return problems;
}

}  // namespace hpo::features
