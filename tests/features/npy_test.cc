// .npy files, CRC-32C and float16: the building blocks of shards.
#include "features/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "features/crc32c.h"
#include "features/float16.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo::features {
namespace {

std::string Golden(const std::string& name) {
  return testutil::SourcePath("tests/data/golden/" + name);
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(NpyTest, HeaderIsByteForByteWhatNumpyWrites) {
  // numpy.save wrote the golden files; our header for the same dtype and
  // shape must be identical, so numpy reads ours and we read numpy's.
  const std::string numpy =
      ReadBytes(Golden("mel_power_22050_nfft2048_hop512_mels128.npy"));
  const std::string ours = NpyHeader(DType::kFloat32, {128, 130});
  ASSERT_LE(ours.size(), numpy.size());
  EXPECT_EQ(ours, numpy.substr(0, ours.size()));
  EXPECT_EQ(ours.size() % 64, 0u);
  const std::string numpy_1d = ReadBytes(Golden("signal_22050.npy"));
  const std::string ours_1d = NpyHeader(DType::kFloat32, {66150});
  EXPECT_EQ(ours_1d, numpy_1d.substr(0, ours_1d.size()));
}

TEST(NpyTest, ReadsNumpysFilesWithoutCopying) {
  NpyArray a = NpyArray::Open(Golden("melfb_44100_nfft1024_mels128.npy"));
  EXPECT_EQ(a.dtype(), DType::kFloat32);
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{128, 513}));
  EXPECT_EQ(a.data_bytes(), 128u * 513 * 4);
  EXPECT_EQ(static_cast<const void*>(a.file().data() + 128), a.data());
}

TEST(NpyTest, WriteThenOpenRoundTripsEveryDtype) {
  testutil::ScratchDir dir("npy");
  std::vector<int64_t> i64 = {1, -2, 1LL << 40};
  std::vector<int32_t> i32 = {7, -8, 9, 10};
  std::vector<uint16_t> f16 = {FloatToHalf(1.5f), FloatToHalf(-80.0f)};
  std::vector<float> f32(2 * 3 * 4);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = 0.25f * i;
  const std::string p = dir.path() + "/x.npy";
  uint32_t crc = WriteNpy(p, DType::kInt64, {3}, i64.data());
  NpyArray a = NpyArray::Open(p);
  EXPECT_EQ(a.dtype(), DType::kInt64);
  EXPECT_EQ(a.as<int64_t>()[2], 1LL << 40);
  EXPECT_EQ(crc, Crc32c(a.file().data(), a.file().size()));
  WriteNpy(p, DType::kInt32, {2, 2}, i32.data());
  EXPECT_EQ(NpyArray::Open(p).as<int32_t>()[3], 10);
  WriteNpy(p, DType::kFloat16, {2}, f16.data());
  EXPECT_EQ(HalfToFloat(NpyArray::Open(p).as<uint16_t>()[1]), -80.0f);
  WriteNpy(p, DType::kFloat32, {2, 3, 4}, f32.data());
  NpyArray f = NpyArray::Open(p);
  EXPECT_EQ(f.shape(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(f.as<float>()[23], 0.25f * 23);
  // An empty array is valid (a shard whose clips were all skipped).
  WriteNpy(p, DType::kFloat32, {0, 1, 4, 4}, nullptr);
  EXPECT_EQ(NpyArray::Open(p).elements(), 0);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(NpyTest, TruncatedAndForeignFilesAreNamedErrors) {
  testutil::ScratchDir dir("npy");
  std::vector<float> v(1000, 1.0f);
  const std::string p = dir.path() + "/t.npy";
  WriteNpy(p, DType::kFloat32, {1000}, v.data());
  std::filesystem::resize_file(p, std::filesystem::file_size(p) - 10);
  try {
    NpyArray::Open(p);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(p), std::string::npos) << what;
    EXPECT_NE(what.find("truncated"), std::string::npos) << what;
  }
  const std::string text = dir.path() + "/text.npy";
  std::ofstream(text) << "hello";
  EXPECT_THROW(NpyArray::Open(text), std::exception);
  EXPECT_THROW(NpyArray::Open(dir.path() + "/missing.npy"), std::exception);
  // A dtype hpo does not read.
  std::string header = NpyHeader(DType::kFloat32, {2});
  header.replace(header.find("<f4"), 3, "<f8");
  std::ofstream(dir.path() + "/f8.npy", std::ios::binary)
      << header << std::string(16, '\0');
  EXPECT_THROW(NpyArray::Open(dir.path() + "/f8.npy"), std::exception);
}

TEST(Crc32cTest, KnownValuesAndBothPathsAgree) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8a9136aau);  // RFC 3720.
  std::mt19937 rng(7);
  std::string data(10007, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 100u, 10007u}) {
    EXPECT_EQ(Crc32c(data.data(), n), internal::Crc32cTable(data.data(), n, 0))
        << n;
  }
  // Extending a CRC equals the CRC of the concatenation.
  EXPECT_EQ(Crc32c(data.data() + 5000, 5007, Crc32c(data.data(), 5000)),
            Crc32c(data.data(), data.size()));
  EXPECT_EQ(Crc32cHex(0xe3069283u), "e3069283");
  EXPECT_EQ(Crc32cHex(0x1u), "00000001");
}

TEST(Float16Test, ConversionsMatchIeeeHalf) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // Ties to even overflows.
  EXPECT_EQ(FloatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  EXPECT_EQ(FloatToHalf(5.960464477539063e-08f),
            0x0001);  // Smallest subnormal.
  EXPECT_EQ(FloatToHalf(2.98e-08f), 0x0000);
  EXPECT_EQ(HalfToFloat(0x0001), 5.960464477539063e-08f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  // Every half survives a round trip through float.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;  // NaNs.
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))), h) << h;
  }
  // Rounding to nearest, ties to even, across the range; the array
  // functions (F16C when the CPU has it) agree with the scalar ones.
  std::mt19937 rng(3);
  std::vector<float> in(100000);
  for (float& f : in) {
    uint32_t bits = rng();
    std::memcpy(&f, &bits, 4);
    if (!std::isfinite(f)) f = 1.0f;
  }
  in.push_back(
      1.00048828125f);  // Exactly between 1 and the next half: ties to 1.
  std::vector<uint16_t> out(in.size());
  FloatsToHalves(in.data(), out.data(), in.size());
  std::vector<float> back(in.size());
  HalvesToFloats(out.data(), back.data(), out.size());
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(out[i], FloatToHalf(in[i])) << in[i];
    ASSERT_EQ(back[i], HalfToFloat(out[i]));
  }
  EXPECT_EQ(out.back(), 0x3c00);
}

}  // namespace
}  // namespace hpo::features
