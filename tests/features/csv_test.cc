#include "features/csv.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace hpo::features {
namespace {

using Records = std::vector<std::vector<std::string>>;

// All records of `text`, and the line each started on in `lines`.
Records ReadAll(const std::string& text,
                std::vector<int64_t>* lines = nullptr) {
  std::istringstream in(text);
  CsvReader reader(in, "data.csv");
  Records records;
  std::vector<std::string> fields;
  while (reader.Next(&fields)) {
    records.push_back(fields);
    if (lines != nullptr) lines->push_back(reader.record_line());
  }
  return records;
}

// The error that reading all of `text` throws; fails the test when none.
Error ReadError(const std::string& text) {
  try {
    ReadAll(text);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return RuntimeFailure("");
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

TEST(CsvReaderTest, PlainFields) {
  std::vector<int64_t> lines;
  EXPECT_EQ(ReadAll("a,b,c\n1,2,3\n", &lines),
            (Records{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2}));
}

TEST(CsvReaderTest, EmptyInputHasNoRecords) {
  EXPECT_TRUE(ReadAll("").empty());
  EXPECT_TRUE(ReadAll("\xEF\xBB\xBF").empty());
}

TEST(CsvReaderTest, EmptyFieldsAndLines) {
  EXPECT_EQ(ReadAll(",a,\n\nb\n"), (Records{{"", "a", ""}, {""}, {"b"}}));
  EXPECT_EQ(ReadAll("a,\"\"\n"), (Records{{"a", ""}}));
}

TEST(CsvReaderTest, QuotedCommas) {
  EXPECT_EQ(ReadAll("1,\"Food, and more\",x\n"),
            (Records{{"1", "Food, and more", "x"}}));
}

TEST(CsvReaderTest, DoubledQuotes) {
  EXPECT_EQ(ReadAll("\"say \"\"hi\"\"\",\"\"\"\"\n"),
            (Records{{"say \"hi\"", "\""}}));
}

TEST(CsvReaderTest, QuoteInsideUnquotedFieldIsData) {
  EXPECT_EQ(ReadAll("a\"b,c\n"), (Records{{"a\"b", "c"}}));
}

TEST(CsvReaderTest, EmbeddedNewlinesKeepLineNumbers) {
  std::vector<int64_t> lines;
  Records records = ReadAll(
      "id,bio\n"
      "1,\"<p>one</p>\n<p>two</p>\n\"\n"
      "2,\"a\r\nb\"\r\n"
      "3,plain\n",
      &lines);
  EXPECT_EQ(records, (Records{{"id", "bio"},
                              {"1", "<p>one</p>\n<p>two</p>\n"},
                              {"2", "a\r\nb"},
                              {"3", "plain"}}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 5, 7}));
}

TEST(CsvReaderTest, CrlfLineEnds) {
  std::vector<int64_t> lines;
  EXPECT_EQ(ReadAll("a,b\r\n\"c\",d\r\n\r\ne\r\n", &lines),
            (Records{{"a", "b"}, {"c", "d"}, {""}, {"e"}}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(CsvReaderTest, LoneCarriageReturnEndsARecord) {
  std::vector<int64_t> lines;
  EXPECT_EQ(ReadAll("a\rb\n", &lines), (Records{{"a"}, {"b"}}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2}));
}

TEST(CsvReaderTest, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(ReadAll("\xEF\xBB\xBFtrack_id,x\n1,2\n"),
            (Records{{"track_id", "x"}, {"1", "2"}}));
  EXPECT_EQ(ReadAll("\xEF\xBB\xBF\"q\"\n"), (Records{{"q"}}));
  // Only at the start of the input.
  EXPECT_EQ(ReadAll("a\n\xEF\xBB\xBF"), (Records{{"a"}, {"\xEF\xBB\xBF"}}));
}

TEST(CsvReaderTest, LastRecordWithoutLineEnd) {
  EXPECT_EQ(ReadAll("a,b\nc,d"), (Records{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(ReadAll("a,\"b\nc\""), (Records{{"a", "b\nc"}}));
  EXPECT_EQ(ReadAll("a,"), (Records{{"a", ""}}));
}

TEST(CsvReaderTest, NextReplacesFields) {
  std::istringstream in("a,b,c\nd\n");
  CsvReader reader(in, "data.csv");
  std::vector<std::string> fields = {"old", "old", "old", "old", "old"};
  ASSERT_TRUE(reader.Next(&fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(reader.Next(&fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"d"}));
  EXPECT_FALSE(reader.Next(&fields));
  EXPECT_FALSE(reader.Next(&fields));
}

TEST(CsvReaderTest, UnterminatedQuoteNamesTheLineWhereTheFieldStarted) {
  Error e = ReadError("a,b\nc,\"never\nclosed,\n\n");
  EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  EXPECT_TRUE(StartsWith(e.what(), "data.csv:2: quoted field")) << e.what();
  EXPECT_NE(std::string(e.what()).find("never closed"), std::string::npos);
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
}

TEST(CsvReaderTest, JunkAfterClosingQuote) {
  Error e = ReadError("a\n\"x\ny\"z,b\n");
  EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
  EXPECT_TRUE(StartsWith(e.what(), "data.csv:3: 'z' after the closing quote"))
      << e.what();
  Error space = ReadError("\"x\" ,b\n");
  EXPECT_TRUE(StartsWith(space.what(), "data.csv:1: ' ' after"))
      << space.what();
  Error control = ReadError("\"x\"\t\n");
  EXPECT_TRUE(StartsWith(control.what(), "data.csv:1: '\\x09' after"))
      << control.what();
}

// The reader refills a 1 MiB buffer: every special byte must work when it
// falls on either side of the block boundary.
TEST(CsvReaderTest, SpecialBytesAcrossTheBlockBoundary) {
  constexpr size_t kBlock = size_t{1} << 20;
  const std::string tail = ",\"q\"\"r\",\"s\r\nt\"\r\nlast,\"\"\"\"\n";
  for (size_t shift = 0; shift < tail.size() + 2; ++shift) {
    std::string text(kBlock - shift, 'x');
    text += tail;
    std::vector<int64_t> lines;
    Records records = ReadAll(text, &lines);
    ASSERT_EQ(records.size(), 2u) << "shift " << shift;
    EXPECT_EQ(records[0],
              (std::vector<std::string>{std::string(kBlock - shift, 'x'),
                                        "q\"r", "s\r\nt"}))
        << "shift " << shift;
    EXPECT_EQ(records[1], (std::vector<std::string>{"last", "\""}))
        << "shift " << shift;
    EXPECT_EQ(lines, (std::vector<int64_t>{1, 3})) << "shift " << shift;
  }
}

TEST(CsvReaderTest, RoundTripsRandomRecordsOverManyBlocks) {
  std::mt19937 random(7);
  const std::string alphabet = "ab,\"\r\n x";
  Records expected;
  std::vector<int64_t> expected_lines;
  std::string text;
  int64_t line = 1;
  while (text.size() < 3 * (size_t{1} << 20)) {
    std::vector<std::string> record(1 + random() % 6);
    for (std::string& field : record) {
      size_t length = random() % 4 == 0 ? random() % 3000 : random() % 12;
      for (size_t i = 0; i < length; ++i) {
        field += alphabet[random() % alphabet.size()];
      }
    }
    if (record.size() == 1 && record[0].empty()) record[0] = "e";
    expected.push_back(record);
    expected_lines.push_back(line);
    std::string encoded = CsvLine(record);
    for (char c : encoded) line += c == '\n';
    text += encoded + (random() % 2 == 0 ? "\n" : "\r\n");
    ++line;
  }
  std::vector<int64_t> lines;
  Records records = ReadAll(text, &lines);
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i], expected[i]) << "record " << i;
  }
  EXPECT_EQ(lines, expected_lines);
}

TEST(CsvEscapeTest, LeavesPlainFieldsAlone) {
  EXPECT_EQ(CsvEscape(""), "");
  EXPECT_EQ(CsvEscape("Hip-Hop"), "Hip-Hop");
  EXPECT_EQ(CsvEscape("it's [21]"), "it's [21]");
}

TEST(CsvEscapeTest, QuotesFieldsWithSpecialCharacters) {
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvEscape("a\nb"), "\"a\nb\"");
  EXPECT_EQ(CsvEscape("a\rb"), "\"a\rb\"");
}

TEST(CsvLineTest, JoinsEscapedFields) {
  EXPECT_EQ(CsvLine({}), "");
  EXPECT_EQ(CsvLine({"1", "a,b", "", "\""}), "1,\"a,b\",,\"\"\"\"");
  std::vector<std::string> fields = {"x", "", "a \"b\", c\r\nd", ","};
  EXPECT_EQ(ReadAll(CsvLine(fields) + "\n"), (Records{fields}));
}

}  // namespace
}  // namespace hpo::features
