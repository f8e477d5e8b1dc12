// hpo-prep: turns audio datasets into feature shards that workers train on.
//
//   hpo-prep fma --metadata fma_metadata/tracks.csv --audio fma_small
//                --subset small --out shards/fma_small
//   hpo-prep folder --audio DIR [--manifest CSV] --out DIR
//   hpo-prep synth --out DIR [--classes 8 --tracks-per-class 100 ...]
//   hpo-prep features-csv --metadata fma_metadata --subset small --out DIR
//   hpo-prep mel --input FILE --out FILE.npy [--power]
//   hpo-prep verify --shards DIR
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/parse_int.h"
#include "common/progress.h"
#include "features/audio.h"
#include "features/csv.h"
#include "features/features_csv.h"
#include "features/fma_metadata.h"
#include "features/mel.h"
#include "features/npy.h"
#include "features/prep.h"
#include "features/shards.h"
#include "features/synth.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using hpo::BadInput;
using namespace hpo::features;

namespace {

constexpr char kUsage[] =
    "Usage: hpo-prep COMMAND [options]   (hpo-prep COMMAND --help for more)\n"
    "\n"
    "Commands:\n"
    "  fma           FMA audio (tracks.csv + ddd/dddddd.mp3) to log-mel, "
    "STFT or waveform shards\n"
    "  folder        labelled audio (a folder per class, or --manifest CSV) "
    "to shards\n"
    "  synth         write a synthetic music-like dataset (audio + "
    "tracks.csv)\n"
    "  features-csv  FMA's features.csv to vector shards\n"
    "  mel           one file's mel matrix as .npy, for inspection\n"
    "  verify        check a shard directory against its manifest\n";

int DefaultJobs() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void AddMelOptions(po::options_description& d) {
  d.add_options()("sample-rate", po::value<int>()->default_value(22050),
                  "resample to this rate (Hz)")(
      "n-fft", po::value<int>()->default_value(2048), "FFT size (samples)")(
      "hop", po::value<int>()->default_value(512), "hop length (samples)")(
      "n-mels", po::value<int>()->default_value(128), "mel bands")(
      "htk", "HTK mel scale instead of Slaney")(
      "fmin", po::value<double>()->default_value(0.0), "lowest frequency (Hz)")(
      "fmax", po::value<double>()->default_value(0.0),
      "highest frequency (Hz; 0: sample-rate / 2)");
}

void AddShardOptions(po::options_description& d, double min_seconds) {
  AddMelOptions(d);
  d.add_options()(
      "features", po::value<std::string>()->default_value("mel"),
      "what a sample holds: mel (log-mel), stft (STFT magnitudes, n-fft/2+1 "
      "bins), wave (the frames x hop samples of the segment) or stft+wave "
      "(both)")("stft-scale", po::value<std::string>()->default_value("db"),
                "stft magnitudes in db (ref max, top 80 dB) or linear")(
      "frames", po::value<int>()->default_value(128), "frames per segment")(
      "segments", po::value<std::string>()->default_value("3"),
      "segments per track, or all (as many as lie within each clip)")(
      "spread",
      "place the segments at 0, 1/N, 2/N ... of each clip instead of one "
      "after another from its start")(
      "overlap", po::value<double>()->default_value(0.0),
      "overlap of consecutive segments (fraction of --frames)")(
      "dtype", po::value<std::string>()->default_value("float16"),
      "feature dtype: float16 or float32")(
      "min-seconds", po::value<double>()->default_value(min_seconds),
      "skip (and report) clips shorter than this")(
      "jobs", po::value<int>()->default_value(DefaultJobs()),
      "threads (default: all cores)")(
      "tracks-per-shard", po::value<int>()->default_value(500),
      "tracks per shard file (the unit a rerun skips when done)")(
      "pitch-shift", po::value<std::string>()->default_value(""),
      "augment: one extra copy of every training clip per pitch shift, in "
      "semitones, e.g. -1,1 (SoX)")(
      "tempo", po::value<std::string>()->default_value(""),
      "augment: one extra copy of every training clip per tempo factor, "
      "e.g. 0.93,1.07 (SoX)");
}

MelOptions MelFrom(const po::variables_map& vm) {
  MelOptions m;
  m.sample_rate = vm["sample-rate"].as<int>();
  m.n_fft = vm["n-fft"].as<int>();
  m.hop = vm["hop"].as<int>();
  m.n_mels = vm["n-mels"].as<int>();
  m.htk = vm.count("htk") > 0;
  m.fmin = vm["fmin"].as<double>();
  m.fmax = vm["fmax"].as<double>();
  return m;
}

PrepOptions PrepFrom(const po::variables_map& vm) {
  PrepOptions o;
  o.mel = MelFrom(vm);
  o.segments.frames = vm["frames"].as<int>();
  o.features = ParseFeatureKind(vm["features"].as<std::string>());
  const std::string scale = vm["stft-scale"].as<std::string>();
  if (scale != "db" && scale != "linear") {
    throw BadInput("--stft-scale " + scale + ": expected db or linear");
  }
  o.stft_db = scale == "db";
  const std::string segments = vm["segments"].as<std::string>();
  if (segments == "all") {
    o.segments.segments = kAllSegments;
  } else {
    const std::optional<int64_t> n = hpo::ParseInt(segments);
    if (!n || *n < 1 || *n > 10000) {
      throw BadInput("--segments " + segments +
                     ": expected a number of segments per track (1..10000, "
                     "e.g. 3) or all");
    }
    o.segments.segments = static_cast<int>(*n);
  }
  o.segments.overlap = vm["overlap"].as<double>();
  o.segments.spread = vm.count("spread") > 0;
  const std::string dtype = vm["dtype"].as<std::string>();
  if (!ParseDTypeName(dtype, &o.dtype) ||
      (o.dtype != DType::kFloat16 && o.dtype != DType::kFloat32)) {
    throw BadInput("--dtype " + dtype + ": expected float16 or float32");
  }
  o.min_seconds = vm["min-seconds"].as<double>();
  o.jobs = vm["jobs"].as<int>();
  o.tracks_per_shard = vm["tracks-per-shard"].as<int>();
  o.augment = ParseAugmentations(vm["pitch-shift"].as<std::string>(),
                                 vm["tempo"].as<std::string>());
  ValidatePrepOptions(o);
  return o;
}

// Parses a subcommand's options; returns false after printing --help.
bool Parse(const std::string& command, const std::string& usage,
           po::options_description& d, int argc, char** argv,
           po::variables_map* vm) {
  d.add_options()("help,h", "show this help and exit");
  try {
    po::store(po::command_line_parser(argc, argv).options(d).run(), *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    throw BadInput("hpo-prep " + command + ": " + e.what() + " (see hpo-prep " +
                   command + " --help)");
  }
  if (vm->count("help")) {
    std::cout << "Usage: hpo-prep " << command << " " << usage << "\n\n" << d;
    return false;
  }
  return true;
}

std::string Required(const po::variables_map& vm, const std::string& key,
                     const std::string& command, const std::string& example) {
  if (!vm.count(key)) {
    throw BadInput("hpo-prep " + command + ": --" + key +
                   " is required, e.g. --" + key + " " + example);
  }
  return vm[key].as<std::string>();
}

// Runs the mel pipeline with a progress line and prints the summary.
int RunShards(const std::vector<ClipJob>& clips,
              const std::vector<std::string>& classes, const PrepOptions& o,
              const std::string& out, const nlohmann::json& source) {
  if (clips.empty()) {
    throw BadInput(
        "no tracks to prepare (check the metadata, --subset and "
        "--audio)");
  }
  const bool tty = isatty(STDOUT_FILENO);
  hpo::ProgressMeter meter("hpo-prep", "tracks",
                           static_cast<int64_t>(clips.size()), std::cout, tty);
  std::mutex log_mu;
  int64_t logged = 0;
  auto log = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mu);
    if (++logged > 20) {
      if (logged == 21) {
        meter.Clear();
        std::cerr << "hpo-prep: more skipped tracks: see " << out
                  << "/report.csv\n";
      }
      return;
    }
    meter.Clear();
    std::cerr << "hpo-prep: " << line << "\n";
  };
  std::cout << "hpo-prep: " << clips.size() << " tracks, " << classes.size()
            << " classes -> " << out << " (" << o.jobs << " jobs";
  if (!o.augment.empty()) {
    std::cout << "; training clips also as";
    for (const Augmentation& a : o.augment) {
      std::cout << " " << AugmentationName(a);
    }
  }
  std::cout << ")\n";
  const auto start = std::chrono::steady_clock::now();
  bool first = true;
  PrepResult r = BuildAudioShards(
      clips, classes, o, out, source,
      [&](int64_t done, int64_t total) {
        if (first) {
          first = false;
          meter.Skip(done);
        }
        meter.Update(done);
      },
      log);
  meter.Finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  Manifest m = ReadManifest(out);
  // 128x128 (mel), stft 1025x128, wave 131072, stft 1025x128 + wave 131072.
  auto dims = [](const std::string& kind, const std::vector<int64_t>& shape) {
    std::string out = kind == "mel" ? "" : kind + " ";
    for (size_t i = shape.size() > 1 ? 1 : 0; i < shape.size(); ++i) {
      out += std::to_string(shape[i]) + (i + 1 < shape.size() ? "x" : "");
    }
    return out;
  };
  std::string shape;
  for (const ManifestPart& p : m.parts) {
    shape += (shape.empty() ? "" : " + ") + dims(p.kind, p.shape);
  }
  if (shape.empty()) shape = dims(m.kind, m.sample_shape);
  std::cout << "prepared " << r.tracks << " tracks (" << r.samples
            << " samples of " << shape << ") in " << out << ":";
  for (const std::string& s : SplitNames()) {
    auto it = m.splits.find(s);
    if (it != m.splits.end()) std::cout << " " << s << " " << it->second.tracks;
  }
  std::cout << " tracks;";
  auto training = m.splits.find("training");
  if (training != m.splits.end() && training->second.augmented_samples > 0) {
    std::cout << " " << training->second.augmented_samples
              << " augmented training samples (" << o.augment.size()
              << " copies per clip);";
  }
  std::cout << " " << r.shards_written << " shards written, " << r.shards_reused
            << " reused; " << hpo::FormatSeconds(seconds) << "\n";
  if (!r.skipped.empty()) {
    std::cout << r.skipped.size() << " tracks skipped (listed in " << out
              << "/report.csv)\n";
  }
  return 0;
}

int Fma(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("metadata", po::value<std::string>(),
                  "FMA's tracks.csv (or the fma_metadata directory)")(
      "audio", po::value<std::string>(), "audio directory (ddd/dddddd.mp3)")(
      "subset", po::value<std::string>()->default_value("small"),
      "small, medium or large")("out", po::value<std::string>(),
                                "output shard directory");
  AddShardOptions(d, 15.0);
  po::variables_map vm;
  if (!Parse("fma",
             "--metadata tracks.csv --audio DIR --subset small --out DIR", d,
             argc, argv, &vm)) {
    return 0;
  }
  std::string metadata =
      Required(vm, "metadata", "fma", "fma_metadata/tracks.csv");
  const std::string audio = Required(vm, "audio", "fma", "fma_small");
  const std::string out = Required(vm, "out", "fma", "shards/fma_small");
  const std::string subset = vm["subset"].as<std::string>();
  if (!IsFmaSubset(subset)) {
    throw BadInput("--subset " + subset + ": expected small, medium or large");
  }
  if (fs::is_directory(metadata))
    metadata = (fs::path(metadata) / "tracks.csv").string();
  if (!fs::is_directory(audio)) {
    throw BadInput("--audio " + audio +
                   ": not a directory (expected FMA's audio folder, e.g. "
                   "fma_small, holding 000/000002.mp3)");
  }
  PrepOptions o = PrepFrom(vm);
  FmaReadStats stats;
  std::vector<FmaTrack> tracks = ReadFmaTracks(metadata, subset, &stats);
  std::set<std::string> genres;
  for (const FmaTrack& t : tracks) genres.insert(t.genre_top);
  std::vector<std::string> classes(genres.begin(), genres.end());
  std::vector<ClipJob> clips;
  for (const FmaTrack& t : tracks) {
    ClipJob c;
    c.track_id = t.id;
    c.path = FmaAudioPath(audio, t.id);
    c.label = static_cast<int32_t>(
        std::lower_bound(classes.begin(), classes.end(), t.genre_top) -
        classes.begin());
    c.split = t.split;
    clips.push_back(std::move(c));
  }
  if (stats.without_genre > 0) {
    std::cout << "hpo-prep: " << stats.without_genre << " tracks of subset "
              << subset << " have no genre_top and are left out\n";
  }
  nlohmann::json source = {{"command", "fma"},
                           {"metadata", metadata},
                           {"audio", audio},
                           {"subset", subset}};
  return RunShards(clips, classes, o, out, source);
}

bool IsAudioFile(const fs::path& p) {
  static const std::set<std::string> ext = {
      ".mp3", ".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".opus"};
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return ext.count(e) > 0;
}

int Folder(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("audio", po::value<std::string>(),
                  "audio root: one sub-folder per class, or the base of "
                  "--manifest paths")("manifest", po::value<std::string>(),
                                      "CSV with a header path,label[,split]")(
      "out", po::value<std::string>(), "output shard directory")(
      "seed", po::value<uint64_t>()->default_value(1),
      "seed of the 80/10/10 split when there is no split column");
  AddShardOptions(d, 0.0);
  po::variables_map vm;
  if (!Parse("folder", "--audio DIR [--manifest CSV] --out DIR", d, argc, argv,
             &vm)) {
    return 0;
  }
  const std::string audio = Required(vm, "audio", "folder", "speech_commands");
  const std::string out = Required(vm, "out", "folder", "shards/mydata");
  PrepOptions o = PrepFrom(vm);
  if (!fs::is_directory(audio)) {
    throw BadInput("--audio " + audio + ": not a directory");
  }
  struct Row {
    std::string path, label, split;
  };
  std::vector<Row> rows;
  bool has_split = false;
  if (vm.count("manifest")) {
    const std::string manifest = vm["manifest"].as<std::string>();
    std::ifstream in(manifest, std::ios::binary);
    if (!in) throw BadInput("--manifest " + manifest + ": cannot open");
    CsvReader csv(in, manifest);
    std::vector<std::string> f;
    if (!csv.Next(&f) || f.size() < 2 || f[0] != "path" || f[1] != "label" ||
        f.size() > 3 || (f.size() == 3 && f[2] != "split")) {
      throw BadInput(manifest +
                     ":1: expected the header path,label or "
                     "path,label,split");
    }
    has_split = f.size() == 3;
    while (csv.Next(&f)) {
      const std::string where =
          manifest + ":" + std::to_string(csv.record_line());
      if (f.size() == 1 && f[0].empty()) continue;  // Blank line.
      if (f.size() != (has_split ? 3u : 2u)) {
        throw BadInput(where + ": expected " + (has_split ? "3" : "2") +
                       " fields (path,label" + (has_split ? ",split" : "") +
                       "), found " + std::to_string(f.size()));
      }
      if (f[0].empty() || f[1].empty()) {
        throw BadInput(where + ": empty path or label");
      }
      if (has_split && !IsSplitName(f[2])) {
        throw BadInput(where + ": split \"" + f[2] +
                       "\" is not training, validation or test");
      }
      if (fs::path(f[0]).is_absolute()) {
        throw BadInput(where + ": path " + f[0] +
                       " should be relative to --audio " + audio);
      }
      rows.push_back(
          {(fs::path(audio) / f[0]).string(), f[1], has_split ? f[2] : ""});
    }
  } else {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(audio)) {
      if (e.is_directory()) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& dir : dirs) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (e.is_regular_file() && IsAudioFile(e.path()))
          files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& p : files) {
        rows.push_back({p.string(), dir.filename().string(), ""});
      }
    }
    if (rows.empty()) {
      throw BadInput("--audio " + audio +
                     ": no audio files in sub-folders (expected one folder "
                     "per class, e.g. " +
                     audio +
                     "/dog/001.wav, or pass "
                     "--manifest)");
    }
  }
  std::set<std::string> labels;
  for (const Row& r : rows) labels.insert(r.label);
  std::vector<std::string> classes(labels.begin(), labels.end());
  std::vector<ClipJob> clips;
  std::vector<int32_t> label_ids;
  for (size_t i = 0; i < rows.size(); ++i) {
    ClipJob c;
    c.track_id = static_cast<int64_t>(i) + 1;
    c.path = rows[i].path;
    c.label = static_cast<int32_t>(
        std::lower_bound(classes.begin(), classes.end(), rows[i].label) -
        classes.begin());
    c.split = rows[i].split;
    label_ids.push_back(c.label);
    clips.push_back(std::move(c));
  }
  if (!has_split) {
    std::vector<std::string> split =
        StratifiedSplit(label_ids, vm["seed"].as<uint64_t>());
    for (size_t i = 0; i < clips.size(); ++i) clips[i].split = split[i];
  }
  nlohmann::json source = {{"command", "folder"}, {"audio", audio}};
  if (vm.count("manifest"))
    source["manifest"] = vm["manifest"].as<std::string>();
  else
    source["seed"] = vm["seed"].as<uint64_t>();
  return RunShards(clips, classes, o, out, source);
}

int Synth(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("out", po::value<std::string>(), "output directory")(
      "classes", po::value<int>()->default_value(8), "number of classes")(
      "tracks-per-class", po::value<int>()->default_value(100),
      "tracks per class")("seconds", po::value<double>()->default_value(30.0),
                          "length of every track")(
      "seed", po::value<uint64_t>()->default_value(1), "random seed")(
      "sample-rate", po::value<int>()->default_value(22050),
      "sample rate of the files")(
      "format", po::value<std::string>()->default_value("wav"),
      "wav, flac, ogg or mp3")(
      "jobs", po::value<int>()->default_value(DefaultJobs()), "threads");
  po::variables_map vm;
  if (!Parse("synth",
             "--out DIR [--classes K] [--tracks-per-class N] [--seconds S] "
             "[--seed X]",
             d, argc, argv, &vm)) {
    return 0;
  }
  SynthOptions o;
  o.out_dir = Required(vm, "out", "synth", "data/synth");
  o.classes = vm["classes"].as<int>();
  o.tracks_per_class = vm["tracks-per-class"].as<int>();
  o.seconds = vm["seconds"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  o.sample_rate = vm["sample-rate"].as<int>();
  o.format = vm["format"].as<std::string>();
  o.jobs = vm["jobs"].as<int>();
  const int64_t total = static_cast<int64_t>(o.classes) * o.tracks_per_class;
  hpo::ProgressMeter meter("hpo-prep synth", "tracks",
                           std::max<int64_t>(0, total), std::cout,
                           isatty(STDOUT_FILENO));
  WriteSynthDataset(o, [&](int64_t done, int64_t) { meter.Update(done); });
  meter.Finish();
  std::cout << "wrote " << total << " tracks of " << o.seconds << " s in "
            << o.classes << " classes to " << o.out_dir
            << "\nnext: hpo-prep fma --metadata " << o.out_dir
            << "/tracks.csv --audio " << o.out_dir
            << "/audio --subset small --out SHARDS\n";
  return 0;
}

int FeaturesCsv(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("metadata", po::value<std::string>(),
                  "fma_metadata directory (tracks.csv and features.csv)")(
      "features", po::value<std::string>(),
      "features.csv (default: METADATA/features.csv)")(
      "subset", po::value<std::string>()->default_value("small"),
      "small, medium or large")("out", po::value<std::string>(),
                                "output shard directory")(
      "tracks-per-shard", po::value<int>()->default_value(10000),
      "tracks per shard file");
  po::variables_map vm;
  if (!Parse("features-csv", "--metadata DIR --subset small --out DIR", d, argc,
             argv, &vm)) {
    return 0;
  }
  std::string metadata =
      Required(vm, "metadata", "features-csv", "fma_metadata");
  const std::string out =
      Required(vm, "out", "features-csv", "shards/fma_small_features");
  const std::string subset = vm["subset"].as<std::string>();
  if (!IsFmaSubset(subset)) {
    throw BadInput("--subset " + subset + ": expected small, medium or large");
  }
  std::string tracks_csv = metadata, features_csv;
  if (fs::is_directory(metadata)) {
    tracks_csv = (fs::path(metadata) / "tracks.csv").string();
    features_csv = (fs::path(metadata) / "features.csv").string();
  } else {
    features_csv = (fs::path(metadata).parent_path() / "features.csv").string();
  }
  if (vm.count("features")) features_csv = vm["features"].as<std::string>();
  FmaReadStats stats;
  std::vector<FmaTrack> tracks = ReadFmaTracks(tracks_csv, subset, &stats);
  std::cout << "hpo-prep: reading " << features_csv << "\n";
  FeatureTable table = ReadFeatureTable(features_csv);
  std::map<int64_t, int64_t> row_of;
  for (size_t i = 0; i < table.track_ids.size(); ++i) {
    row_of[table.track_ids[i]] = static_cast<int64_t>(i);
  }
  std::set<std::string> genres;
  for (const FmaTrack& t : tracks) genres.insert(t.genre_top);
  std::vector<std::string> classes(genres.begin(), genres.end());
  std::vector<ClipJob> clips;
  std::vector<int64_t> rows;
  int64_t missing = 0;
  for (const FmaTrack& t : tracks) {
    auto it = row_of.find(t.id);
    if (it == row_of.end()) {
      ++missing;
      continue;
    }
    ClipJob c;
    c.track_id = t.id;
    c.path = features_csv;
    c.label = static_cast<int32_t>(
        std::lower_bound(classes.begin(), classes.end(), t.genre_top) -
        classes.begin());
    c.split = t.split;
    clips.push_back(c);
    rows.push_back(it->second);
  }
  if (clips.empty()) {
    throw BadInput(features_csv + ": none of the " +
                   std::to_string(tracks.size()) + " tracks of subset " +
                   subset + " has a row (is it FMA's features.csv?)");
  }
  nlohmann::json source = {{"command", "features-csv"},
                           {"metadata", tracks_csv},
                           {"features", features_csv},
                           {"subset", subset}};
  PrepResult r =
      BuildVectorShards(table, rows, clips, classes,
                        vm["tracks-per-shard"].as<int>(), out, source);
  std::cout << "prepared " << r.tracks << " tracks x " << table.columns.size()
            << " features in " << out;
  if (missing > 0)
    std::cout << "; " << missing << " tracks had no features row";
  std::cout << "\n";
  return 0;
}

int Mel(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("input", po::value<std::string>(), "audio file")(
      "out", po::value<std::string>(),
      "output .npy (float32 [n_mels, frames])")(
      "power", "write mel power instead of dB (ref = max, top_db 80)");
  AddMelOptions(d);
  po::variables_map vm;
  if (!Parse("mel", "--input FILE --out FILE.npy [options]", d, argc, argv,
             &vm)) {
    return 0;
  }
  const std::string input = Required(vm, "input", "mel", "song.mp3");
  const std::string out = Required(vm, "out", "mel", "song_mel.npy");
  MelOptions o = MelFrom(vm);
  ValidateMelOptions(o);
  // One clip: measuring an FFT size FFTW has no wisdom for would cost more
  // than the whole clip's FFTs (a cached measurement is still used).
  SetFftPlanning(FftPlanning::kEstimate);
  MonoAudio audio = DecodeMono(input);
  std::vector<float> y =
      Resample(audio.samples, audio.sample_rate, o.sample_rate);
  MelSpectrogram mel(o);
  Matrix m = mel.Compute(y);
  if (!vm.count("power")) PowerToDb(&m, /*ref_max=*/true);
  std::vector<float> values(m.values.begin(), m.values.end());
  WriteNpy(out, DType::kFloat32, {m.rows, m.cols}, values.data());
  std::printf("%s: %lld frames at %d Hz, %d channel(s) -> %s [%d, %d] %s\n",
              input.c_str(), static_cast<long long>(audio.samples.size()),
              audio.sample_rate, audio.channels, out.c_str(), m.rows, m.cols,
              vm.count("power") ? "mel power" : "dB (ref = max)");
  return 0;
}

int Verify(int argc, char** argv) {
  po::options_description d("Options");
  d.add_options()("shards", po::value<std::string>(), "shard directory");
  po::variables_map vm;
  if (!Parse("verify", "--shards DIR", d, argc, argv, &vm)) return 0;
  const std::string dir = Required(vm, "shards", "verify", "shards/fma_small");
  ReadManifest(dir);  // A missing or unreadable manifest is the one error.
  hpo::ProgressMeter meter("hpo-prep verify", "files", 0, std::cout,
                           isatty(STDOUT_FILENO));
  int64_t files = 0;
  std::vector<std::string> problems =
      VerifyShards(dir, [&](int64_t done, int64_t total) {
        files = total;
        meter.SetTotal(total);
        meter.Update(done);
      });
  if (!problems.empty()) {
    meter.Clear();
    for (const std::string& p : problems) std::cerr << p << "\n";
    std::cerr << "hpo-prep verify: " << problems.size() << " problem(s) in "
              << dir << " (rerun the hpo-prep command that wrote it)\n";
    return 2;
  }
  meter.Finish();
  Manifest m = ReadManifest(dir);
  int64_t samples = 0;
  for (const auto& [name, s] : m.splits) samples += s.samples;
  std::cout << "hpo-prep verify: " << dir << " OK: " << files << " files, "
            << samples << " samples, checksums match\n";
  return 0;
}

int Main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" ||
      std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // Subcommands parse the arguments after their name.
  int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  if (command == "fma") return Fma(sub_argc, sub_argv);
  if (command == "folder") return Folder(sub_argc, sub_argv);
  if (command == "synth") return Synth(sub_argc, sub_argv);
  if (command == "features-csv") return FeaturesCsv(sub_argc, sub_argv);
  if (command == "mel") return Mel(sub_argc, sub_argv);
  if (command == "verify") return Verify(sub_argc, sub_argv);
  throw BadInput("hpo-prep: unknown command \"" + command +
                 "\" (expected fma, folder, synth, features-csv, mel or "
                 "verify; see hpo-prep --help)");
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-prep", [&] { return Main(argc, argv); });
}
