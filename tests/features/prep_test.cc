// hpo-prep as a user runs it: real audio files in, shards out, checked with
// the same reader workers use.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/json_util.h"
#include "features/npy.h"
#include "features/shards.h"
#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

namespace fs = std::filesystem;
using testutil::CommandResult;
using testutil::RunCommand;

using testutil::SourcePath;

CommandResult Prep(std::vector<std::string> args, const std::string& dir) {
  args.insert(args.begin(), HPO_PREP);
  return RunCommand(args, dir);
}

// A mono 16-bit PCM WAV file of a tone, written by hand.
void WriteToneWav(const std::string& path, double seconds, int rate,
                  double hz) {
  fs::create_directories(fs::path(path).parent_path());
  const uint32_t n = static_cast<uint32_t>(seconds * rate);
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<char*>(&v), 2); };
  f << "RIFF";
  u32(36 + 2 * n);
  f << "WAVEfmt ";
  u32(16);
  u16(1);
  u16(1);
  u32(rate);
  u32(rate * 2);
  u16(2);
  u16(16);
  f << "data";
  u32(2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    u16(static_cast<uint16_t>(
        static_cast<int16_t>(8000 * std::sin(2 * M_PI * hz * i / rate))));
  }
}

nlohmann::json Manifest(const std::string& dir) {
  return ParseJsonText(ReadTextFile(dir + "/manifest.json"), "manifest");
}

TEST(PrepTest, MelOfTheRealFmaClip) {
  testutil::ScratchDir dir("prep");
  const std::string out = dir.path() + "/mel.npy";
  CommandResult r =
      Prep({"mel", "--input", SourcePath("tests/data/fma/000/000002.mp3"),
            "--out", out},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1321967 frames at 44100 Hz, 2 channel(s)"),
            std::string::npos)
      << r.out;
  NpyArray a = NpyArray::Open(out);
  // 1,321,967 frames at 44.1 kHz resample to ceil(n / 2) = 660,984 samples:
  // 1 + 660984 / 512 = 1291 frames.
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{128, 1291}));
  float lo = 0, hi = -1000;
  for (int64_t i = 0; i < a.elements(); ++i) {
    lo = std::min(lo, a.as<float>()[i]);
    hi = std::max(hi, a.as<float>()[i]);
  }
  EXPECT_EQ(hi, 0.0f);    // ref = max.
  EXPECT_EQ(lo, -80.0f);  // top_db.
  r = Prep({"mel", "--input", SourcePath("tests/data/fma/000/000002.mp3"),
            "--out", out, "--power", "--n-mels", "64", "--htk", "--sample-rate",
            "16000", "--n-fft", "512", "--hop", "256"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(NpyArray::Open(out).shape()[0], 64);
}

TEST(PrepTest, SyntheticDatasetEndToEndThroughTheFmaPath) {
  testutil::ScratchDir dir("prep");
  const std::string data = dir.path() + "/synth",
                    shards = dir.path() + "/shards";
  CommandResult r = Prep(
      {"synth", "--out", data, "--classes", "3", "--tracks-per-class", "10",
       "--seconds", "4", "--seed", "5", "--format", "mp3", "--jobs", "2"},
      dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(data + "/audio/000/000001.mp3"));
  r = Prep({"fma", "--metadata", data + "/tracks.csv", "--audio",
            data + "/audio", "--subset", "small", "--out", shards,
            "--min-seconds", "2", "--tracks-per-shard", "4", "--jobs", "2"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("prepared 30 tracks (90 samples of 128x128)"),
            std::string::npos)
      << r.out;
  nlohmann::json m = Manifest(shards);
  EXPECT_EQ(m["classes"].size(), 3u);
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({1, 128, 128}));
  EXPECT_EQ(m["splits"]["training"]["tracks"], 24);
  EXPECT_EQ(m["splits"]["validation"]["tracks"], 3);
  EXPECT_EQ(m["splits"]["test"]["tracks"], 3);
  EXPECT_EQ(m["preprocessing"]["sample_rate"], 22050);
  EXPECT_GT(m["normalization"]["std"].get<double>(), 1.0);
  auto set = ShardSet::Open(shards, true);
  EXPECT_EQ(set->split("training").size(), 72);
  // Segments of one track are consecutive and share its label and id.
  const ShardSplit& train = set->split("training");
  EXPECT_EQ(train.track_id(0), train.track_id(2));
  EXPECT_EQ(train.label(0), train.label(2));
  std::vector<float> x(train.elements());
  train.CopyFeatures(5, x.data());
  float hi = -1000;
  for (float v : x) hi = std::max(hi, v);
  EXPECT_LE(hi, 0.0f);

  r = Prep({"verify", "--shards", shards}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("checksums match"), std::string::npos);

  // A second run finds every shard done and rewrites nothing.
  auto prepare_again = [&] {
    return Prep(
        {"fma", "--metadata", data + "/tracks.csv", "--audio", data + "/audio",
         "--out", shards, "--min-seconds", "2", "--tracks-per-shard", "4"},
        dir.path());
  };
  const auto before =
      fs::last_write_time(shards + "/training-00000.features.npy");
  r = prepare_again();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 shards written, 8 reused"), std::string::npos)
      << r.out;
  EXPECT_EQ(fs::last_write_time(shards + "/training-00000.features.npy"),
            before);

  // Corrupting a shard makes verify fail and name the file.
  {
    std::fstream f(shards + "/test-00000.features.npy",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  r = Prep({"verify", "--shards", shards}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("test-00000.features.npy"), std::string::npos) << r.err;

  // Running hpo-prep again rewrites that shard alone (its marker is not
  // trusted over its checksum), and the set verifies again.
  r = prepare_again();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 shards written, 7 reused"), std::string::npos)
      << r.out;
  r = Prep({"verify", "--shards", shards}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(PrepTest, AugmentedCopiesOfTrainingClipsOnly) {
  testutil::ScratchDir dir("prep");
  const std::string data = dir.path() + "/synth",
                    shards = dir.path() + "/shards";
  CommandResult r =
      Prep({"synth", "--out", data, "--classes", "3", "--tracks-per-class",
            "10", "--seconds", "4", "--sample-rate", "16000", "--seed", "5"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> args = {"fma",
                                         data + "/tracks.csv",
                                         "--audio",
                                         data + "/audio",
                                         "--out",
                                         shards,
                                         "--min-seconds",
                                         "2",
                                         "--sample-rate",
                                         "16000",
                                         "--segments",
                                         "2",
                                         "--tracks-per-shard",
                                         "8",
                                         "--jobs",
                                         "2",
                                         "--pitch-shift",
                                         "-1,1",
                                         "--tempo",
                                         "0.93,1.07"};
  auto prepare = [&] {
    std::vector<std::string> a = args;
    a.insert(a.begin() + 1, "--metadata");
    return Prep(a, dir.path());
  };
  r = prepare();
  ASSERT_EQ(r.code, 0) << r.err;
  // 24 training tracks x 2 segments x (1 + 4 copies); 3 + 3 held-out tracks
  // x 2 segments, never augmented.
  EXPECT_NE(r.out.find("prepared 30 tracks (252 samples of 128x128)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("192 augmented training samples (4 copies per clip)"),
            std::string::npos)
      << r.out;
  nlohmann::json m = Manifest(shards);
  EXPECT_EQ(m["splits"]["training"]["tracks"], 24);
  EXPECT_EQ(m["splits"]["training"]["samples"], 240);
  EXPECT_EQ(m["splits"]["training"]["augmented_samples"], 192);
  EXPECT_EQ(m["splits"]["validation"]["samples"], 6);
  EXPECT_EQ(m["splits"]["validation"]["augmented_samples"], 0);
  EXPECT_EQ(m["splits"]["test"]["samples"], 6);
  EXPECT_EQ(m["preprocessing"]["augmentation"]["copies"],
            nlohmann::json({"pitch_shift:-1", "pitch_shift:+1", "tempo:0.93",
                            "tempo:1.07"}));
  EXPECT_EQ(m["preprocessing"]["augmentation"]["splits"],
            nlohmann::json({"training"}));

  // A training track's 10 samples are consecutive: its own 2 segments, then
  // 2 per copy, each copy a different rendering of the same audio.
  auto set = ShardSet::Open(shards, true);
  const ShardSplit& train = set->split("training");
  ASSERT_EQ(train.size(), 240);
  EXPECT_EQ(train.track_id(0), train.track_id(9));
  EXPECT_NE(train.track_id(9), train.track_id(10));
  std::vector<float> own(train.elements()), copy(train.elements());
  train.CopyFeatures(0, own.data());
  for (int64_t k = 1; k <= 4; ++k) {
    train.CopyFeatures(2 * k, copy.data());
    double diff = 0;
    for (size_t i = 0; i < own.size(); ++i) diff += std::fabs(own[i] - copy[i]);
    EXPECT_GT(diff / own.size(), 0.1) << "copy " << k << " equals the clip";
  }

  // index.csv: a row per training track and copy, one per held-out track.
  const std::string index = ReadTextFile(shards + "/index.csv");
  EXPECT_EQ(index.rfind("track_id,split,label,class,path,augmentation\n", 0),
            0u);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = index.find(what); at != std::string::npos;
         at = index.find(what, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count(",pitch_shift:+1\n"), 24u);
  EXPECT_EQ(count(",tempo:0.93\n"), 24u);
  EXPECT_EQ(count(",validation,"), 3u);
  EXPECT_EQ(count(",test,"), 3u);

  // A rerun reuses every shard; the copies are rendered the same each time.
  r = prepare();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 shards written, 5 reused"), std::string::npos)
      << r.out;
  EXPECT_EQ(Manifest(shards)["splits"], m["splits"]);
  // Without the copies the shards differ, so nothing is reused.
  std::vector<std::string> plain(args.begin(), args.end() - 4);
  plain.insert(plain.begin() + 1, "--metadata");
  r = Prep(plain, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("5 shards written, 0 reused"), std::string::npos)
      << r.out;
  EXPECT_EQ(Manifest(shards)["splits"]["training"]["augmented_samples"], 0);

  // A bad list is one line naming the flag, exit code 2.
  std::vector<std::string> bad = plain;
  bad.insert(bad.end(), {"--tempo", "1.07,fast"});
  r = Prep(bad, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--tempo 1.07,fast: \"fast\" is not a number"),
            std::string::npos)
      << r.err;
}

TEST(PrepTest, InterruptedRunResumesToTheSameShards) {
  testutil::ScratchDir dir("prep");
  const std::string data = dir.path() + "/synth";
  ASSERT_EQ(Prep({"synth", "--out", data, "--classes", "2",
                  "--tracks-per-class", "20", "--seconds", "5", "--seed", "9"},
                 dir.path())
                .code,
            0);
  const std::vector<std::string> args = {HPO_PREP,
                                         "fma",
                                         "--metadata",
                                         data + "/tracks.csv",
                                         "--audio",
                                         data + "/audio",
                                         "--tracks-per-shard",
                                         "2",
                                         "--jobs",
                                         "1",
                                         "--out"};
  auto run = [&](const std::string& out) {
    std::vector<std::string> a = args;
    a.push_back(out);
    return RunCommand(a, dir.path());
  };
  ASSERT_EQ(run(dir.path() + "/whole").code, 0);
  // Kill a run once it has finished some shards, then run it again.
  const std::string part = dir.path() + "/part";
  {
    std::vector<std::string> a = args;
    a.push_back(part);
    testutil::Process p(a, dir.path() + "/part.log");
    testutil::WaitFor(
        [&] { return fs::exists(part + "/training-00002.done.json"); }, 60);
    p.Signal(SIGKILL);
    EXPECT_EQ(p.Wait(10).value_or(-1), 128 + SIGKILL);
  }
  EXPECT_FALSE(fs::exists(part + "/manifest.json"));
  CommandResult r = run(part);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find(" 0 reused"), std::string::npos) << r.out;
  // Same files, byte for byte: the manifests (with every checksum) agree.
  nlohmann::json whole = Manifest(dir.path() + "/whole");
  nlohmann::json resumed = Manifest(part);
  EXPECT_EQ(whole["splits"], resumed["splits"]);
  EXPECT_EQ(whole["normalization"], resumed["normalization"]);
}

TEST(PrepTest, FmaSampleReportsMissingShortAndUnreadableClips) {
  testutil::ScratchDir dir("prep");
  // Audio for the sample's small subset: the real clip of track 2, a 2 s
  // clip for the known-short track 98565, garbage for track 5, nothing for
  // track 10.
  const std::string audio = dir.path() + "/audio";
  fs::create_directories(audio + "/000");
  fs::copy_file(SourcePath("tests/data/fma/000/000002.mp3"),
                audio + "/000/000002.mp3");
  WriteToneWav(audio + "/098/098565.wav", 2.0, 22050, 440);
  std::ofstream(audio + "/000/000005.mp3") << "not an mp3";
  const std::string shards = dir.path() + "/shards";
  CommandResult r =
      Prep({"fma", "--metadata", SourcePath("tests/data/fma/tracks_sample.csv"),
            "--audio", audio, "--subset", "small", "--out", shards},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("prepared 1 tracks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 tracks skipped"), std::string::npos) << r.out;
  const std::string report = testutil::ReadFile(shards + "/report.csv");
  EXPECT_NE(report.find("98565,"), std::string::npos) << report;
  EXPECT_NE(report.find("shorter than --min-seconds 15"), std::string::npos);
  EXPECT_NE(report.find("000005.mp3"), std::string::npos);
  EXPECT_NE(report.find("000010.mp3"), std::string::npos);
  nlohmann::json m = Manifest(shards);
  // Classes come from genre_top of the subset: Folk (5), Hip-Hop (2),
  // Pop (10), Rock (98565).
  EXPECT_EQ(m["classes"],
            nlohmann::json::array({"Folk", "Hip-Hop", "Pop", "Rock"}));
  EXPECT_EQ(m["splits"]["training"]["tracks"], 1);
  EXPECT_EQ(m["splits"]["training"]["class_samples"],
            nlohmann::json::array({0, 3, 0, 0}));
}

TEST(PrepTest, FolderModeKeepsShortClipsUnlessAskedAndReadsAManifest) {
  testutil::ScratchDir dir("prep");
  const std::string audio = dir.path() + "/words";
  for (int i = 0; i < 5; ++i) {
    WriteToneWav(audio + "/yes/" + std::to_string(i) + ".wav", 0.5, 16000,
                 300 + i);
    WriteToneWav(audio + "/no/" + std::to_string(i) + ".wav", 0.7, 16000,
                 900 + i);
  }
  const std::string shards = dir.path() + "/shards";
  CommandResult r =
      Prep({"folder", "--audio", audio, "--out", shards, "--sample-rate",
            "16000", "--frames", "32", "--segments", "1", "--n-mels", "40",
            "--n-fft", "512", "--hop", "160"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json m = Manifest(shards);
  EXPECT_EQ(m["classes"], nlohmann::json::array({"no", "yes"}));
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({1, 40, 32}));
  int64_t tracks = 0;
  for (const auto& [name, s] : m["splits"].items())
    tracks += s["tracks"].get<int64_t>();
  EXPECT_EQ(tracks, 10);  // Zero-padded, never dropped.
  EXPECT_EQ(m["splits"]["validation"]["tracks"], 2);  // One per class.

  r = Prep({"folder", "--audio", audio, "--out", dir.path() + "/long",
            "--min-seconds", "0.6", "--sample-rate", "16000"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("5 tracks skipped"), std::string::npos) << r.out;

  // A manifest CSV with its own split; paths relative to --audio.
  const std::string csv = dir.path() + "/list.csv";
  std::ofstream(csv) << "path,label,split\n"
                        "yes/0.wav,yes,training\nno/0.wav,no,training\n"
                        "yes/1.wav,yes,validation\n\"no/1.wav\",no,test\n";
  r = Prep({"folder", "--audio", audio, "--manifest", csv, "--out",
            dir.path() + "/listed"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  m = Manifest(dir.path() + "/listed");
  EXPECT_EQ(m["splits"]["training"]["tracks"], 2);
  EXPECT_EQ(m["splits"]["test"]["tracks"], 1);

  std::ofstream(csv) << "path,label,split\nyes/0.wav,yes,train\n";
  r = Prep({"folder", "--audio", audio, "--manifest", csv, "--out",
            dir.path() + "/bad"},
           dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(csv + ":2: split \"train\""), std::string::npos)
      << r.err;
}

TEST(PrepTest, FeaturesCsvToVectorShards) {
  testutil::ScratchDir dir("prep");
  const std::string meta = dir.path() + "/fma_metadata";
  fs::create_directories(meta);
  fs::copy_file(SourcePath("tests/data/fma/tracks_sample.csv"),
                meta + "/tracks.csv");
  // features.csv in FMA's layout: 3 header rows and the track_id row.
  std::ofstream f(meta + "/features.csv");
  const int columns = 518;
  f << "feature";
  for (int c = 0; c < columns; ++c) f << ",mfcc";
  f << "\nstatistics";
  for (int c = 0; c < columns; ++c) f << ",mean";
  f << "\nnumber";
  for (int c = 0; c < columns; ++c) f << "," << (c % 20 + 1);
  f << "\ntrack_id";
  for (int c = 0; c < columns; ++c) f << ",";
  f << "\n";
  for (int id : {2, 3, 5, 10, 20, 98565}) {
    f << id;
    for (int c = 0; c < columns; ++c) f << "," << id * 0.001 + c;
    f << "\n";
  }
  f.close();
  const std::string shards = dir.path() + "/vectors";
  CommandResult r = Prep({"features-csv", "--metadata", meta, "--subset",
                          "small", "--out", shards},
                         dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json m = Manifest(shards);
  EXPECT_EQ(m["kind"], "vector");
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({518}));
  EXPECT_EQ(m["dtype"], "float32");
  EXPECT_EQ(m["splits"]["training"]["tracks"], 2);  // Tracks 2 and 98565.
  auto set = ShardSet::Open(shards, true);
  std::vector<float> x(518);
  set->split("test").CopyFeatures(0, x.data());
  EXPECT_EQ(set->split("test").track_id(0), 10);
  EXPECT_FLOAT_EQ(x[7], 0.010f + 7);
  EXPECT_EQ(m["normalization"]["row_mean"].size(), 518u);
}

// --features stft+wave with --segments all: both inputs of every segment
// that lies within each clip, each normalised on its own, and a rerun that
// reuses every shard.
TEST(PrepTest, StftAndWaveShardsOfEverySegment) {
  testutil::ScratchDir dir("prep");
  const std::string data = dir.path() + "/synth",
                    shards = dir.path() + "/shards";
  CommandResult r =
      Prep({"synth", "--out", data, "--classes", "3", "--tracks-per-class", "4",
            "--seconds", "3", "--sample-rate", "8000", "--seed", "2"},
           dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> args = {"fma",
                                         "--metadata",
                                         data + "/tracks.csv",
                                         "--audio",
                                         data + "/audio",
                                         "--out",
                                         shards,
                                         "--features",
                                         "stft+wave",
                                         "--sample-rate",
                                         "8000",
                                         "--n-fft",
                                         "256",
                                         "--hop",
                                         "128",
                                         "--frames",
                                         "16",
                                         "--segments",
                                         "all",
                                         "--overlap",
                                         "0.5",
                                         "--min-seconds",
                                         "1",
                                         "--tracks-per-shard",
                                         "5"};
  r = Prep(args, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  // 3 s at 8 kHz: 187 whole hops, segments of 16 frames every 8: 22.
  EXPECT_NE(r.out.find("prepared 12 tracks (264 samples of stft 129x16 + "
                       "wave 2048)"),
            std::string::npos)
      << r.out;
  nlohmann::json m = Manifest(shards);
  EXPECT_EQ(m["kind"], "stft+wave");
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({129 * 16 + 2048}));
  ASSERT_EQ(m["parts"].size(), 2u);
  EXPECT_EQ(m["parts"][0]["kind"], "stft");
  EXPECT_EQ(m["parts"][0]["shape"], nlohmann::json::array({1, 129, 16}));
  EXPECT_EQ(m["parts"][1]["kind"], "wave");
  EXPECT_EQ(m["parts"][1]["shape"], nlohmann::json::array({1, 2048}));
  EXPECT_EQ(m["parts"][1]["offset"], 129 * 16);
  // dB values (around -40) and waveform samples (around 0) each get their
  // own statistics.
  EXPECT_LT(m["parts"][0]["mean"].get<double>(), -5.0);
  EXPECT_LT(std::abs(m["parts"][1]["mean"].get<double>()), 0.05);
  EXPECT_GT(m["parts"][1]["std"].get<double>(), 0.001);
  EXPECT_LT(m["parts"][1]["std"].get<double>(), 1.0);
  EXPECT_EQ(m["normalization"]["row_mean"].size(), 130u);  // 129 bins + 1.
  EXPECT_EQ(m["preprocessing"]["segments"], "all");
  EXPECT_EQ(m["preprocessing"]["features"], "stft+wave");
  EXPECT_EQ(m["preprocessing"]["wave_samples"], 2048);
  EXPECT_EQ(m["splits"]["training"]["samples"].get<int64_t>() +
                m["splits"]["validation"]["samples"].get<int64_t>() +
                m["splits"]["test"]["samples"].get<int64_t>(),
            264);

  auto set = ShardSet::Open(shards, true);
  const ShardSplit& train = set->split("training");
  std::vector<float> x(train.elements());
  train.CopyFeatures(0, x.data());
  float hi = -1000;
  for (int i = 0; i < 129 * 16; ++i) hi = std::max(hi, x[i]);
  EXPECT_LE(hi, 0.0f);  // dB, ref = max.
  float peak = 0;
  for (size_t i = 129 * 16; i < x.size(); ++i) {
    peak = std::max(peak, std::abs(x[i]));
  }
  EXPECT_GT(peak, 0.01f);
  EXPECT_LE(peak, 1.0f);

  r = Prep({"verify", "--shards", shards}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  r = Prep(args, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 shards written, 4 reused"), std::string::npos)
      << r.out;

  // A waveform alone, and linear STFT magnitudes alone, of the same tracks.
  auto prep_as = [&](const std::string& out,
                     const std::vector<std::string>& options) {
    std::vector<std::string> argv = {
        "fma",   "--metadata", data + "/tracks.csv", "--audio", data + "/audio",
        "--out", out,          "--sample-rate",      "8000",    "--min-seconds",
        "1"};
    argv.insert(argv.end(), options.begin(), options.end());
    CommandResult done = Prep(argv, dir.path());
    EXPECT_EQ(done.code, 0) << done.err;
    return Manifest(out);
  };
  m = prep_as(dir.path() + "/wave",
              {"--features", "wave", "--hop", "128", "--n-fft", "256",
               "--frames", "16", "--segments", "2"});
  EXPECT_EQ(m["kind"], "wave");
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({1, 2048}));
  EXPECT_FALSE(m.contains("parts"));
  m = prep_as(dir.path() + "/stft",
              {"--features", "stft", "--stft-scale", "linear", "--n-fft", "512",
               "--hop", "256", "--frames", "8"});
  EXPECT_EQ(m["kind"], "stft");
  EXPECT_EQ(m["sample_shape"], nlohmann::json::array({1, 257, 8}));
  EXPECT_TRUE(m["preprocessing"]["db"].is_null());
  EXPECT_GT(m["normalization"]["mean"].get<double>(), 0.0);  // Magnitudes.
}

TEST(PrepTest, BadUsageIsOneLineAndExitCodeTwo) {
  testutil::ScratchDir dir("prep");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"transmogrify"}, "unknown command"},
      {{"fma", "--audio", dir.path()}, "--metadata is required"},
      {{"mel", "--input", "x.wav", "--out", "y.npy", "--hop", "0"}, "--hop 0"},
      {{"fma", "--metadata", "t.csv", "--audio", dir.path(), "--out", "o",
        "--subset", "tiny"},
       "--subset tiny"},
      {{"verify", "--shards", dir.path()}, "manifest.json does not exist"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--overlap", "1.5"},
       "--overlap"},
      {{"mel", "--input", dir.path() + "/none.wav", "--out", "y.npy"},
       "none.wav"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--features", "mfcc"},
       "--features mfcc: expected mel, stft, wave or stft+wave"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--segments", "most"},
       "--segments most"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--stft-scale", "log"},
       "--stft-scale log"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--spread", "--segments",
        "all"},
       "--spread: spreads a number of segments"},
      {{"folder", "--audio", dir.path(), "--out", "o", "--spread", "--overlap",
        "0.5"},
       "--overlap: --spread places the segments itself"},
  };
  for (const Case& c : cases) {
    CommandResult r = Prep(c.args, dir.path());
    EXPECT_EQ(r.code, 2) << c.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_LE(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace hpo::features
