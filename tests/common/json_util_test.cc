#include "common/json_util.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"

namespace hpo {
namespace {

TEST(JsonUtilTest, EditDistance) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("typ", "type"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("nmae", "name"), 1u);  // A swap.
}

TEST(JsonUtilTest, ClosestMatchOnlySuggestsLikelyTypos) {
  std::vector<std::string> keys = {"type", "low", "high", "values"};
  EXPECT_EQ(ClosestMatch("typ", keys), "type");
  EXPECT_EQ(ClosestMatch("hihg", keys), "high");
  EXPECT_EQ(ClosestMatch("valeus", keys), "values");
  EXPECT_EQ(ClosestMatch("completely_else", keys), "");
  EXPECT_EQ(ClosestMatch("val", keys), "values");  // A prefix.
}

TEST(JsonUtilTest, ParseErrorGivesLineAndColumn) {
  try {
    ParseJsonText("{\n  \"name\": \"x\",\n}\n", "study.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(std::string(e.what()).rfind("study.json:3:1: not valid JSON:", 0),
              0u)
        << e.what();
  }
}

TEST(JsonUtilTest, EmptyInputIsAnError) {
  EXPECT_THROW(ParseJsonText("", "empty.json"), Error);
}

TEST(JsonUtilTest, CommentsAreNotJson) {
  EXPECT_THROW(ParseJsonText("{\"a\": 1 // no\n}", "c.json"), Error);
}

TEST(JsonUtilTest, DuplicateKeysAreReportedWithTheirPath) {
  try {
    ParseJsonText(R"({"a": {"b": [1, {"c": 1, "c": 2}]}, "a2": 1})", "d.json");
    FAIL() << "expected an error";
  } catch (const ValidationError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_NE(e.problems()[0].find("d.json: a.b[1].c: duplicate key"),
              std::string::npos)
        << e.problems()[0];
  }
}

TEST(JsonUtilTest, NumbersTooLargeForADoubleAreBadInput) {
  try {
    ParseJsonText(R"({"heartbeat_s": 1e400})", "big.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(std::string(e.what()).rfind("big.json: ", 0), 0u) << e.what();
  }
}

TEST(JsonUtilTest, DeepNestingIsRefusedQuickly) {
  std::string text(100000, '[');
  text += std::string(100000, ']');
  try {
    ParseJsonText(text, "deep.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("nested more than"),
              std::string::npos);
  }
}

TEST(JsonUtilTest, DirectoryIsNotAFile) {
  try {
    ReadTextFile("/tmp");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/tmp: is a directory; give a file");
  }
}

TEST(JsonUtilTest, ReadMissingFileNamesIt) {
  try {
    ReadTextFile("/nonexistent/study.json");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/study.json"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

TEST(ValidationErrorTest, ShowsTheFirstTwentyProblemsAndCountsTheRest) {
  std::vector<std::string> problems;
  for (int i = 0; i < 30; ++i) problems.push_back("p" + std::to_string(i));
  ValidationError e(problems);
  EXPECT_EQ(e.problems().size(), 30u);
  const std::string what = e.what();
  EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 20);
  EXPECT_NE(what.find("p19\n... and 10 more problems"), std::string::npos)
      << what;
  EXPECT_EQ(what.find("p20"), std::string::npos);
  EXPECT_EQ(std::string(ValidationError({"a", "b"}).what()), "a\nb");
}

}  // namespace
}  // namespace hpo
