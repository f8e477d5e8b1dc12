// Shards: writing, the manifest, mapping them back, and finding corruption.
#include "features/shards.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/json_util.h"
#include "features/float16.h"
#include "tests/util/scratch_dir.h"

namespace hpo::features {
namespace {

// Writes a small mel-shaped shard directory: two training shards and one
// validation shard of 1 x 4 x 3 samples, features value = sample + col / 10.
Manifest WriteSmallSet(const std::string& dir, DType dtype) {
  Manifest m;
  m.kind = "mel";
  m.classes = {"a", "b", "c"};
  m.sample_shape = {1, 4, 3};
  m.dtype = dtype;
  RowStats stats(4, 3);
  int64_t next_id = 100;
  auto shard = [&](const std::string& split, const std::string& stem, int n) {
    std::vector<float> f;
    std::vector<int32_t> labels;
    std::vector<int64_t> ids;
    for (int s = 0; s < n; ++s) {
      for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 3; ++c) f.push_back(s + r + c / 4.0f);
      }
      labels.push_back(s % 3);
      ids.push_back(next_id++);
      if (split == "training") stats.Add(f.data() + f.size() - 12);
    }
    SplitEntry& e = m.splits[split];
    e.class_samples.resize(3);
    for (int32_t l : labels) ++e.class_samples[l];
    e.samples += n;
    e.tracks += n;
    e.shards.push_back(
        WriteShard(dir, stem, dtype, m.sample_shape, f, labels, ids));
  };
  shard("training", "training-00000", 5);
  shard("training", "training-00001", 4);
  shard("validation", "validation-00000", 3);
  m.normalization = stats.Finish();
  WriteManifest(dir, m);
  return m;
}

TEST(ShardsTest, RoundTripThroughManifestAndMaps) {
  for (DType dtype : {DType::kFloat16, DType::kFloat32}) {
    testutil::ScratchDir dir("shards");
    WriteSmallSet(dir.path(), dtype);
    auto set = ShardSet::Open(dir.path(), /*verify_checksums=*/true);
    const Manifest& m = set->manifest();
    EXPECT_EQ(m.dtype, dtype);
    EXPECT_EQ(m.rows(), 4);
    EXPECT_EQ(m.cols(), 3);
    const ShardSplit& train = set->split("training");
    ASSERT_EQ(train.size(), 9);
    EXPECT_EQ(train.elements(), 12);
    // Sample 6 is the second sample of the second shard.
    std::vector<float> x(12);
    train.CopyFeatures(6, x.data());
    EXPECT_FLOAT_EQ(x[0], 1.0f);
    EXPECT_FLOAT_EQ(x[11], 1 + 3 + 0.5f);
    EXPECT_EQ(train.label(6), 1);
    EXPECT_EQ(train.track_id(6), 106);
    EXPECT_EQ(train.track_id(0), 100);
    EXPECT_EQ(set->split("validation").track_id(2), 111);
    EXPECT_THROW(set->split("test"), std::exception);
    EXPECT_TRUE(VerifyShards(dir.path(), nullptr).empty());
  }
}

TEST(ShardsTest, ManifestJsonRoundTripsAndIsReadable) {
  testutil::ScratchDir dir("shards");
  Manifest m = WriteSmallSet(dir.path(), DType::kFloat16);
  Manifest back = ReadManifest(dir.path());
  EXPECT_EQ(ManifestToJson(back), ManifestToJson(m));
  nlohmann::json j = ParseJsonText(ReadTextFile(dir.path() + "/manifest.json"),
                                   "manifest.json");
  EXPECT_EQ(j["format"], "hpo-shards");
  EXPECT_EQ(j["splits"]["training"]["samples"], 9);
  EXPECT_EQ(j["splits"]["training"]["shards"][1]["features"],
            "training-00001.features.npy");
  EXPECT_EQ(j["splits"]["training"]["shards"][1]["crc32c"]["labels"]
                .get<std::string>()
                .size(),
            8u);
}

TEST(ShardsTest, RowStatsGiveMeanAndStdPerRowAndOverall) {
  RowStats s(2, 2);
  const float a[] = {1, 3, 10, 10};
  const float b[] = {1, 3, 20, 20};
  s.Add(a);
  RowStats t(2, 2);
  t.Add(b);
  s.Merge(t);
  Normalization n = s.Finish();
  EXPECT_DOUBLE_EQ(n.row_mean[0], 2.0);
  EXPECT_DOUBLE_EQ(n.row_std[0], 1.0);
  EXPECT_DOUBLE_EQ(n.row_mean[1], 15.0);
  EXPECT_DOUBLE_EQ(n.row_std[1], 5.0);
  EXPECT_DOUBLE_EQ(n.mean, 8.5);
  EXPECT_NEAR(n.std,
              std::sqrt((1 + 9 + 100 + 100 + 1 + 9 + 400 + 400) / 8.0 - 72.25),
              1e-12);
  RowStats u = RowStats::FromJson(s.ToJson());
  EXPECT_DOUBLE_EQ(u.Finish().row_std[1], 5.0);
}

TEST(ShardsTest, CorruptShardIsFoundAndNamed) {
  testutil::ScratchDir dir("shards");
  WriteSmallSet(dir.path(), DType::kFloat16);
  const std::string victim = dir.path() + "/training-00001.features.npy";
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x55');
  }
  // Opening without checksums maps it (same size and header)...
  EXPECT_NO_THROW(ShardSet::Open(dir.path(), false));
  // ...with checksums the corruption is reported with the file's name.
  try {
    ShardSet::Open(dir.path(), true);
    FAIL() << "expected a checksum error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos);
  }
  std::vector<std::string> problems = VerifyShards(dir.path(), nullptr);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("training-00001.features.npy"), std::string::npos);
}

TEST(ShardsTest, TruncatedOrMissingShardFailsOnOpen) {
  testutil::ScratchDir dir("shards");
  WriteSmallSet(dir.path(), DType::kFloat32);
  const std::string victim = dir.path() + "/validation-00000.labels.npy";
  std::filesystem::resize_file(victim, std::filesystem::file_size(victim) - 4);
  try {
    ShardSet::Open(dir.path(), false);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos)
        << e.what();
  }
  std::filesystem::remove(victim);
  std::vector<std::string> problems = VerifyShards(dir.path(), nullptr);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("validation-00000.labels.npy"), std::string::npos);
}

TEST(ShardsTest, SwappedShardWithTheWrongShapeIsRefused) {
  testutil::ScratchDir dir("shards");
  WriteSmallSet(dir.path(), DType::kFloat32);
  std::filesystem::copy_file(dir.path() + "/training-00000.labels.npy",
                             dir.path() + "/training-00001.labels.npy",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_THROW(ShardSet::Open(dir.path(), false), std::exception);
}

TEST(ShardsTest, BadManifestsSayWhatIsWrong) {
  testutil::ScratchDir dir("shards");
  try {
    ReadManifest(dir.path());
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("hpo-prep"), std::string::npos);
  }
  Manifest m = WriteSmallSet(dir.path(), DType::kFloat32);
  nlohmann::json j = ManifestToJson(m);
  j["splits"]["training"]["samples"] = 10;
  try {
    ManifestFromJson(j, "m.json");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("splits.training.samples"),
              std::string::npos)
        << e.what();
  }
  j = ManifestToJson(m);
  j["splits"]["training"]["shards"][0]["features"] = "../../etc/passwd";
  EXPECT_THROW(ManifestFromJson(j, "m.json"), std::exception);
  j = ManifestToJson(m);
  j["version"] = 2;
  EXPECT_THROW(ManifestFromJson(j, "m.json"), std::exception);
  j = ManifestToJson(m);
  j["dtype"] = "int8";
  EXPECT_THROW(ManifestFromJson(j, "m.json"), std::exception);
}

TEST(ShardsTest, VerifyFindsLabelsOutsideTheClasses) {
  testutil::ScratchDir dir("shards");
  Manifest m = WriteSmallSet(dir.path(), DType::kFloat32);
  m.classes = {"a", "b"};  // Labels go up to 2.
  for (auto& [name, s] : m.splits) s.class_samples.resize(2);
  WriteManifest(dir.path(), m);
  std::vector<std::string> problems = VerifyShards(dir.path(), nullptr);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("label 2"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace hpo::features
