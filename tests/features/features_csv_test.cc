#include "features/features_csv.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/util/fma_features.h"
#include "tests/util/scratch_dir.h"

namespace hpo::features {
namespace {

using testutil::ScratchDir;

using Column = testutil::FmaFeatureColumn;

std::vector<Column> RealColumns() { return testutil::FmaFeatureColumns(); }

// A value as pandas writes it, different for every cell.
std::string Value(int64_t id, size_t column) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6e",
                (column % 2 == 0 ? 1 : -1) * (id * 1.5 + column * 0.013));
  return text;
}

// The header rows of the real layout, with the index-name row when
// `index_row`.
std::string Header(const std::vector<Column>& columns, bool index_row) {
  std::string feature = "feature", statistics = "statistics", number = "number",
              index = "track_id";
  for (const Column& column : columns) {
    feature += "," + column.feature;
    statistics += "," + column.statistics;
    number += "," + column.number;
    index += ",";
  }
  return feature + "\n" + statistics + "\n" + number + "\n" +
         (index_row ? index + "\n" : "");
}

std::string Row(int64_t id, size_t columns) {
  std::string row = std::to_string(id);
  for (size_t c = 0; c < columns; ++c) row += "," + Value(id, c);
  return row + "\n";
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The error that reading `text` as a features.csv throws; fails the test
// when none.
std::string ReadError(const ScratchDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/features.csv";
  WriteFile(path, text);
  try {
    ReadFeatureTable(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A small file with three feature columns.
const std::string kSmallHeader =
    "feature,mfcc,mfcc,zcr\n"
    "statistics,mean,mean,std\n"
    "number,01,02,01\n"
    "track_id,,,\n";

TEST(FeaturesCsvTest, ReadsTheRealLayout) {
  const std::vector<Column> columns = RealColumns();
  ASSERT_EQ(columns.size(), 518u);
  const std::vector<int64_t> ids = {2, 3, 5, 10, 20, 26, 98565, 155320};
  std::string text = Header(columns, true);
  for (int64_t id : ids) text += Row(id, columns.size());
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  WriteFile(path, text);

  FeatureTable table = ReadFeatureTable(path);
  ASSERT_EQ(table.columns.size(), 518u);
  EXPECT_EQ(table.columns[0], "chroma_cens/kurtosis/01");
  EXPECT_EQ(table.columns[12], "chroma_cens/max/01");
  EXPECT_EQ(table.columns[84], "chroma_cqt/kurtosis/01");
  EXPECT_EQ(table.columns[252 + 139], "mfcc/std/20");
  EXPECT_EQ(table.columns[517], "zcr/std/01");
  EXPECT_EQ(table.track_ids, ids);
  ASSERT_EQ(table.values.size(), ids.size() * 518);
  for (size_t r = 0; r < ids.size(); ++r) {
    for (size_t c = 0; c < 518; ++c) {
      const float expected =
          static_cast<float>(std::strtod(Value(ids[r], c).c_str(), nullptr));
      ASSERT_EQ(table.values[r * 518 + c], expected) << r << " " << c;
    }
  }
}

TEST(FeaturesCsvTest, IndexNameRowIsOptional) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  WriteFile(path,
            "feature,mfcc\r\nstatistics,mean\r\nnumber,01\r\n7,0.5\r\n"
            "8,-2e-3\r\n");
  FeatureTable table = ReadFeatureTable(path);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"mfcc/mean/01"}));
  EXPECT_EQ(table.track_ids, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(table.values, (std::vector<float>{0.5f, -2e-3f}));
}

TEST(FeaturesCsvTest, HeaderOnlyIsAnEmptyTable) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  WriteFile(path, kSmallHeader);
  FeatureTable table = ReadFeatureTable(path);
  EXPECT_EQ(table.columns.size(), 3u);
  EXPECT_TRUE(table.track_ids.empty());
  EXPECT_TRUE(table.values.empty());
}

TEST(FeaturesCsvTest, TinyValuesReadAsZero) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  WriteFile(path, kSmallHeader + "1,1e-400,-1e-50,3\n");
  FeatureTable table = ReadFeatureTable(path);
  EXPECT_EQ(table.values, (std::vector<float>{0, 0, 3}));
}

TEST(FeaturesCsvTest, MissingHeaderIsRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  EXPECT_TRUE(StartsWith(ReadError(dir, "track_id,a\n1,2\n3,4\n"),
                         path + ":1: header row 1 must start with 'feature'"));
  EXPECT_TRUE(StartsWith(ReadError(dir, "feature,mfcc\nnumber,01\n1,2\n"),
                         path + ":2: header row 2 must start with "
                                "'statistics'"));
  EXPECT_TRUE(StartsWith(ReadError(dir, "feature,mfcc\n"),
                         path + ": ends before the three header rows"));
  EXPECT_TRUE(StartsWith(
      ReadError(dir, "feature,mfcc,zcr\nstatistics,mean\nnumber,01,01\n"),
      path + ":2: 2 fields in header row 2, expected 3"));
  EXPECT_TRUE(StartsWith(ReadError(dir, "feature\nstatistics\nnumber\n"),
                         path + ":1: 1 fields in header row 1, expected 2"));
}

TEST(FeaturesCsvTest, MissingFileIsRefused) {
  ScratchDir dir;
  try {
    ReadFeatureTable(dir.path() + "/absent.csv");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_TRUE(StartsWith(e.what(), dir.path() + "/absent.csv: cannot open"))
        << e.what();
  }
  try {
    ReadFeatureTable(dir.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(StartsWith(e.what(), dir.path() + ": is a directory"))
        << e.what();
  }
}

TEST(FeaturesCsvTest, WrongFieldCountIsRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  EXPECT_TRUE(StartsWith(ReadError(dir, kSmallHeader + "1,1,2,3\n2,1,2\n"),
                         path + ":6: 3 fields, expected 4"));
  EXPECT_TRUE(StartsWith(ReadError(dir, kSmallHeader + "1,1,2,3,4\n"),
                         path + ":5: 5 fields, expected 4"));
}

TEST(FeaturesCsvTest, NonNumericValuesAreRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  std::string message = ReadError(dir, kSmallHeader + "1,1,2,3\n2,1,abc,3\n");
  EXPECT_TRUE(StartsWith(message, path + ":6: track 2 has 'abc' in column "
                                         "mfcc/mean/02, not a finite number"))
      << message;
  for (const char* bad :
       {"", "nan", "NaN", "inf", "-inf", "1e39", "1.5x", " 1", "0x10"}) {
    message = ReadError(dir, kSmallHeader + "1,1,2," + bad + "\n");
    EXPECT_TRUE(StartsWith(message, path + ":5: track 1 has '" +
                                        std::string(bad) +
                                        "' in column zcr/std/01"))
        << bad << ": " << message;
  }
}

TEST(FeaturesCsvTest, BadTrackIdIsRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  std::string message = ReadError(dir, kSmallHeader + "x1,1,2,3\n");
  EXPECT_TRUE(StartsWith(message, path + ":5: track id 'x1' is not"))
      << message;
}

TEST(FeaturesCsvTest, DuplicateTrackIdIsRefused) {
  ScratchDir dir;
  const std::string path = dir.path() + "/features.csv";
  std::string message =
      ReadError(dir, kSmallHeader + "1,1,2,3\n2,1,2,3\n1,4,5,6\n");
  EXPECT_TRUE(
      StartsWith(message, path + ":7: track id 1 repeats (first on line 5)"))
      << message;
}

}  // namespace
}  // namespace hpo::features
