#include "results/result_set.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "common/error.h"

namespace hpo {
namespace {

using nlohmann::ordered_json;

ResultSet Sample() {
  ResultSet results;
  results.columns = {{"name"}, {"value"}, {"params", /*spread=*/true}};
  results.rows.push_back(
      {{"name", "a"}, {"value", 0.123456}, {"params", {{"lr", 0.001}}}});
  results.rows.push_back({{"name", "long name, with comma"},
                          {"value", nullptr},
                          {"params", {{"lr", 0.1}, {"x", "é"}}}});
  results.rows.push_back({{"name", "b"}, {"value", 12}});  // No params.
  return results;
}

TEST(ResultSetTest, CsvFieldQuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvField("plain text"), "plain text");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
}

TEST(ResultSetTest, FormatNumber) {
  EXPECT_EQ(FormatNumber(0.123456), "0.1235");
  EXPECT_EQ(FormatNumber(1e-5), "1e-05");
  EXPECT_EQ(FormatNumber(2.0), "2");
  EXPECT_EQ(FormatNumber(12345.6), "12346");
  EXPECT_EQ(FormatNumber(-250000), "-250000");
  EXPECT_EQ(FormatNumber(3e12), "3e+12");
}

TEST(ResultSetTest, CsvSpreadsObjectColumns) {
  std::ostringstream out;
  WriteCsv(Sample(), out);
  EXPECT_EQ(out.str(),
            "name,value,params_lr,params_x\r\n"
            "a,0.123456,0.001,\r\n"
            "\"long name, with comma\",,0.1,é\r\n"
            "b,12,,\r\n");
}

TEST(ResultSetTest, TableAlignsColumns) {
  std::ostringstream out;
  WriteTable(Sample(), out);
  EXPECT_EQ(out.str(),
            "name                    value  params\n"
            "---------------------  ------  ----------\n"
            "a                      0.1235  lr=0.001\n"
            "long name, with comma       -  lr=0.1 x=é\n"
            "b                          12  -\n");
}

TEST(ResultSetTest, TableKeepsEachRowOnOneLine) {
  ResultSet results;
  results.columns = {{"error"}};
  results.rows.push_back({{"error", "first\nsecond\tthird"}});
  std::ostringstream out;
  WriteTable(results, out);
  EXPECT_EQ(out.str(), "error\n------------------\nfirst second third\n");
}

TEST(ResultSetTest, JsonIsAnArrayOfObjects) {
  std::ostringstream out;
  WriteJson(Sample(), out);
  ordered_json parsed = ordered_json::parse(out.str());
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1]["params"]["x"], "é");
  EXPECT_TRUE(parsed[1]["value"].is_null());

  std::ostringstream empty;
  WriteJson(ResultSet{}, empty);
  EXPECT_EQ(empty.str(), "[]\n");
}

TEST(ResultSetTest, JsonReplacesInvalidUtf8) {
  ResultSet results;
  results.columns = {{"error"}};
  results.rows.push_back({{"error", std::string("bad \xff byte")}});
  std::ostringstream out;
  WriteJson(results, out);
  EXPECT_EQ(ordered_json::parse(out.str())[0]["error"],
            "bad \xef\xbf\xbd byte");
}

TEST(ResultSetTest, ParseOutputFormat) {
  EXPECT_EQ(ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("csv"), OutputFormat::kCsv);
  EXPECT_EQ(ParseOutputFormat("json"), OutputFormat::kJson);
  try {
    ParseOutputFormat("xml");
    FAIL() << "no error for xml";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(std::string(e.what()),
              "--format xml: unknown format; use table, csv or json");
  }
}

}  // namespace
}  // namespace hpo
