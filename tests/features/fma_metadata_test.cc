#include "features/fma_metadata.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "features/csv.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

using testutil::ScratchDir;

std::string SamplePath() {
  return testutil::SourcePath("tests/data/fma/tracks_sample.csv");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// `text` with the first occurrence of `from` replaced by `to`.
std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<int64_t> Ids(const std::vector<FmaTrack>& tracks) {
  std::vector<int64_t> ids;
  for (const FmaTrack& track : tracks) ids.push_back(track.id);
  return ids;
}

const FmaTrack* Find(const std::vector<FmaTrack>& tracks, int64_t id) {
  for (const FmaTrack& track : tracks) {
    if (track.id == id) return &track;
  }
  return nullptr;
}

// The error that reading `path` throws; fails the test when none.
Error ReadError(const std::string& path, const std::string& subset = "small") {
  try {
    ReadFmaTracks(path, subset, nullptr);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error reading " << path;
  return RuntimeFailure("");
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Writes the sample with `from` replaced by `to` and returns the error that
// reading it throws.
Error SampleError(const ScratchDir& dir, const std::string& from,
                  const std::string& to) {
  const std::string path = dir.path() + "/tracks.csv";
  WriteFile(path, Replace(ReadFile(SamplePath()), from, to));
  return ReadError(path);
}

TEST(FmaMetadataTest, IsFmaSubset) {
  EXPECT_TRUE(IsFmaSubset("small"));
  EXPECT_TRUE(IsFmaSubset("medium"));
  EXPECT_TRUE(IsFmaSubset("large"));
  EXPECT_FALSE(IsFmaSubset("full"));
  EXPECT_FALSE(IsFmaSubset("Small"));
  EXPECT_FALSE(IsFmaSubset(""));
}

TEST(FmaMetadataTest, SampleSmallSubset) {
  FmaReadStats stats;
  std::vector<FmaTrack> tracks = ReadFmaTracks(SamplePath(), "small", &stats);
  EXPECT_EQ(Ids(tracks), (std::vector<int64_t>{2, 5, 10, 98565}));
  EXPECT_EQ(stats.rows, 6);
  EXPECT_EQ(stats.outside_subset, 2);
  EXPECT_EQ(stats.without_genre, 0);

  const FmaTrack& food = tracks[0];
  EXPECT_EQ(food.split, "training");
  EXPECT_EQ(food.subset, "small");
  EXPECT_EQ(food.genre_top, "Hip-Hop");
  EXPECT_EQ(food.title, "Food");
  EXPECT_EQ(food.artist, "Artist 2");
  EXPECT_EQ(food.duration, 168);
}

TEST(FmaMetadataTest, SampleMultiLineBioParses) {
  std::vector<FmaTrack> tracks = ReadFmaTracks(SamplePath(), "small", nullptr);
  const FmaTrack* five = Find(tracks, 5);
  ASSERT_NE(five, nullptr);
  EXPECT_EQ(five->split, "validation");
  EXPECT_EQ(five->genre_top, "Folk");
  EXPECT_EQ(five->title, "This World");
  EXPECT_EQ(five->artist, "Artist 5");
  EXPECT_EQ(five->duration, 30);
  const FmaTrack* ten = Find(tracks, 10);
  ASSERT_NE(ten, nullptr);
  EXPECT_EQ(ten->split, "test");
  EXPECT_EQ(ten->genre_top, "Pop");
}

TEST(FmaMetadataTest, SampleKnownShortClipIsPresent) {
  std::vector<FmaTrack> tracks = ReadFmaTracks(SamplePath(), "small", nullptr);
  const FmaTrack* clip = Find(tracks, 98565);
  ASSERT_NE(clip, nullptr);
  EXPECT_EQ(clip->genre_top, "Rock");
  EXPECT_EQ(clip->split, "training");
}

TEST(FmaMetadataTest, SampleMediumAddsTrack3) {
  FmaReadStats stats;
  std::vector<FmaTrack> tracks = ReadFmaTracks(SamplePath(), "medium", &stats);
  EXPECT_EQ(Ids(tracks), (std::vector<int64_t>{2, 3, 5, 10, 98565}));
  EXPECT_EQ(stats.rows, 6);
  EXPECT_EQ(stats.outside_subset, 1);
  EXPECT_EQ(stats.without_genre, 0);
  EXPECT_EQ(tracks[1].subset, "medium");
  EXPECT_EQ(tracks[1].title, "Electric Ave");
}

TEST(FmaMetadataTest, SampleLargeLeavesOutTrackWithoutGenre) {
  FmaReadStats stats;
  std::vector<FmaTrack> tracks = ReadFmaTracks(SamplePath(), "large", &stats);
  EXPECT_EQ(Ids(tracks), (std::vector<int64_t>{2, 3, 5, 10, 98565}));
  EXPECT_EQ(stats.rows, 6);
  EXPECT_EQ(stats.outside_subset, 0);
  EXPECT_EQ(stats.without_genre, 1);  // Track 20.
}

TEST(FmaMetadataTest, UnknownSubsetIsRefused) {
  Error e = ReadError(SamplePath(), "tiny");
  EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  EXPECT_TRUE(Contains(e.what(), "'tiny'")) << e.what();
  EXPECT_TRUE(Contains(e.what(), "small, medium or large")) << e.what();
}

TEST(FmaMetadataTest, MissingFileIsNamed) {
  ScratchDir dir;
  const std::string path = dir.path() + "/absent.csv";
  Error e = ReadError(path);
  EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  EXPECT_TRUE(StartsWith(e.what(), path + ": cannot open")) << e.what();
  Error directory = ReadError(dir.path());
  EXPECT_TRUE(StartsWith(directory.what(), dir.path() + ": is a directory"))
      << directory.what();
}

TEST(FmaMetadataTest, MissingColumnIsNamedWithTheColumnsFound) {
  ScratchDir dir;
  Error e = SampleError(dir, ",split,subset,", ",split,subset_x,");
  EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  const std::string message = e.what();
  EXPECT_TRUE(StartsWith(message, dir.path() + "/tracks.csv:2: no column "
                                               "('set', 'subset')"))
      << message;
  EXPECT_TRUE(Contains(message, "('set', 'subset_x')")) << message;
  EXPECT_TRUE(Contains(message, "('album', 'comments')")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(FmaMetadataTest, ShortFileIsRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/tracks.csv";
  WriteFile(path, ",album\n,comments\n");
  EXPECT_TRUE(Contains(ReadError(path).what(), "three header rows"));
  WriteFile(path, ",album\n,comments\n1,\n");
  EXPECT_TRUE(StartsWith(ReadError(path).what(), path + ":3: the third"));
}

TEST(FmaMetadataTest, BadSplitIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, "test,small", "testing,small");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:8: track 10 has "
                                                "split 'testing'"))
      << e.what();
}

TEST(FmaMetadataTest, BadSubsetIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, "training,large", "training,huge");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:9: track 20 has "
                                                "subset 'huge'"))
      << e.what();
}

TEST(FmaMetadataTest, BadTrackIdIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, "\n10,", "\n1x0,");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:8: track id "
                                                "'1x0' is not"))
      << e.what();
}

TEST(FmaMetadataTest, RepeatedTrackIdIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, "\n10,", "\n3,");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:8: track id 3 "
                                                "repeats (first on line 5)"))
      << e.what();
}

TEST(FmaMetadataTest, WrongFieldCountIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, "\n10,", "\n10,extra,");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:8: 54 fields, "
                                                "expected 53"))
      << e.what();
}

TEST(FmaMetadataTest, BadDurationIsRefused) {
  ScratchDir dir;
  Error e = SampleError(dir, ",168,", ",long,");
  EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/tracks.csv:4: track 2 has "
                                                "duration 'long'"))
      << e.what();
}

TEST(FmaMetadataTest, WriteReadRoundTrip) {
  ScratchDir dir;
  std::vector<FmaTrack> tracks(4);
  tracks[0] = {1, "training", "small", "Rock", "Plain", "Someone", 30};
  tracks[1] = {2,
               "validation",
               "small",
               "Hip-Hop",
               "Commas, and \"quotes\"",
               "A, B & \"C\"",
               29.977};
  tracks[2] = {123456,        "test", "small", "Folk", "Two\nlines\r\nthree",
               "Multi\nline", 0};
  tracks[3] = {7, "training", "small", "Electronic", "", "", 1e-3};
  const std::string path = dir.path() + "/tracks.csv";
  WriteFmaTracks(path, tracks);

  FmaReadStats stats;
  std::vector<FmaTrack> read = ReadFmaTracks(path, "small", &stats);
  EXPECT_EQ(stats.rows, 4);
  ASSERT_EQ(read.size(), tracks.size());
  for (size_t i = 0; i < tracks.size(); ++i) {
    EXPECT_EQ(read[i].id, tracks[i].id);
    EXPECT_EQ(read[i].split, tracks[i].split);
    EXPECT_EQ(read[i].subset, tracks[i].subset);
    EXPECT_EQ(read[i].genre_top, tracks[i].genre_top);
    EXPECT_EQ(read[i].title, tracks[i].title);
    EXPECT_EQ(read[i].artist, tracks[i].artist);
    EXPECT_EQ(read[i].duration, tracks[i].duration);
  }
}

TEST(FmaMetadataTest, WriteUsesTheSampleHeader) {
  ScratchDir dir;
  const std::string path = dir.path() + "/tracks.csv";
  WriteFmaTracks(
      path, {{2, "training", "small", "Hip-Hop", "Food", "Artist 2", 168}});
  // The header rows are identical, byte for byte.
  auto header = [](const std::string& text) {
    size_t end = 0;
    for (int i = 0; i < 3; ++i) end = text.find('\n', end) + 1;
    return text.substr(0, end);
  };
  const std::string written = ReadFile(path);
  EXPECT_EQ(header(written), header(ReadFile(SamplePath())));

  // 53 fields per record, the filled ones where pandas expects them.
  std::istringstream in(written);
  CsvReader reader(in, path);
  std::vector<std::string> fields;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(reader.Next(&fields));
    EXPECT_EQ(fields.size(), 53u);
  }
  EXPECT_EQ(fields[0], "2");
  EXPECT_EQ(fields[26], "Artist 2");  // ('artist', 'name')
  EXPECT_EQ(fields[31], "training");  // ('set', 'split')
  EXPECT_EQ(fields[32], "small");     // ('set', 'subset')
  EXPECT_EQ(fields[38], "168");       // ('track', 'duration')
  EXPECT_EQ(fields[40], "Hip-Hop");   // ('track', 'genre_top')
  EXPECT_EQ(fields[52], "Food");      // ('track', 'title')
  EXPECT_FALSE(reader.Next(&fields));
}

TEST(FmaMetadataTest, WriteReplacesAnExistingFile) {
  ScratchDir dir;
  const std::string path = dir.path() + "/tracks.csv";
  WriteFile(path, std::string(100000, 'x'));
  WriteFmaTracks(path, {{5, "test", "large", "Pop", "t", "a", 1}});
  EXPECT_EQ(Ids(ReadFmaTracks(path, "large", nullptr)),
            (std::vector<int64_t>{5}));
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST(FmaMetadataTest, WriteErrors) {
  ScratchDir dir;
  try {
    WriteFmaTracks(dir.path() + "/missing/tracks.csv", {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_TRUE(Contains(e.what(), "missing/tracks.csv")) << e.what();
  }
  FmaTrack bad = {1, "training", "small", "Rock", "t", "a", -1};
  try {
    WriteFmaTracks(dir.path() + "/tracks.csv", {bad});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  }
}

TEST(FmaMetadataTest, AudioPath) {
  EXPECT_EQ(FmaAudioPath("/data/fma_small", 2),
            "/data/fma_small/000/000002.mp3");
  EXPECT_EQ(FmaAudioPath("/data/fma_small/", 2),
            "/data/fma_small/000/000002.mp3");
  EXPECT_EQ(FmaAudioPath("audio", 123456), "audio/123/123456.mp3");
  EXPECT_EQ(FmaAudioPath("audio", 98565), "audio/098/098565.mp3");
}

TEST(FmaMetadataTest, AudioPathOfTheRealClip) {
  const std::string dir = testutil::SourcePath("tests/data/fma");
  EXPECT_EQ(FmaAudioPath(dir, 2), dir + "/000/000002.mp3");
  EXPECT_TRUE(std::ifstream(FmaAudioPath(dir, 2)).good());
}

TEST(FmaMetadataTest, AudioPathFallsBackToOtherFormats) {
  ScratchDir dir;
  const std::string sub = dir.path() + "/001";
  ASSERT_TRUE(std::filesystem::create_directories(sub));
  WriteFile(sub + "/001234.wav", "RIFF");
  WriteFile(sub + "/001235.flac", "fLaC");
  WriteFile(sub + "/001236.wav", "RIFF");
  WriteFile(sub + "/001236.mp3", "ID3");
  EXPECT_EQ(FmaAudioPath(dir.path(), 1234), sub + "/001234.wav");
  EXPECT_EQ(FmaAudioPath(dir.path(), 1235), sub + "/001235.flac");
  EXPECT_EQ(FmaAudioPath(dir.path(), 1236), sub + "/001236.mp3");  // mp3 wins.
  EXPECT_EQ(FmaAudioPath(dir.path(), 1237), sub + "/001237.mp3");  // Neither.
}

}  // namespace
}  // namespace hpo::features
