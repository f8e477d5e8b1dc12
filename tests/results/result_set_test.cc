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

TEST(ResultSetTest, ReadableNumber) {
  EXPECT_EQ(ReadableNumber(0.123456), "0.1235");
  EXPECT_EQ(ReadableNumber(1e-5), "1e-05");
  EXPECT_EQ(ReadableNumber(2.0), "2");
  EXPECT_EQ(ReadableNumber(12345.6), "12346");
  EXPECT_EQ(ReadableNumber(-250000), "-250000");
  EXPECT_EQ(ReadableNumber(3e12), "3e+12");
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

TEST(ResultSetTest, TableLeftAlignsAColumnOfNullsOnly) {
  ResultSet results;
  results.columns = {{"n"}, {"reason"}};
  results.rows.push_back({{"n", 1}, {"reason", nullptr}});
  results.rows.push_back({{"n", 22}});
  std::ostringstream out;
  WriteTable(results, out);
  EXPECT_EQ(out.str(),
            " n  reason\n"
            "--  ------\n"
            " 1  -\n"
            "22  -\n");
}

// Titles are headers that are data (class names): they may repeat another
// column's name, while JSON keys stay the column names.
TEST(ResultSetTest, TitlesNameColumnsInTablesAndCsv) {
  ResultSet results;
  results.columns = {{"true", false, "true \\ predicted"},
                     {"c0", false, "recall"},
                     {"recall"},
                     {"p", true, "param"}};
  results.rows.push_back(
      {{"true", "recall"}, {"c0", 3}, {"recall", 0.5}, {"p", {{"lr", 1}}}});
  std::ostringstream table;
  WriteTable(results, table);
  EXPECT_EQ(table.str(),
            "true \\ predicted  recall  recall  param\n"
            "----------------  ------  ------  -----\n"
            "recall                 3     0.5  lr=1\n");
  std::ostringstream csv;
  WriteCsv(results, csv);
  EXPECT_EQ(csv.str(),
            "true \\ predicted,recall,recall,param_lr\r\n"
            "recall,3,0.5,1\r\n");
  std::ostringstream json;
  WriteJson(results, json);
  EXPECT_EQ(ordered_json::parse(json.str())[0]["c0"], 3);
}

TEST(ResultSetTest, RecordIsOneLinePerColumn) {
  ResultSet results;
  results.columns = {{"trial"}, {"value"}, {"error"}, {"params", true}};
  results.rows.push_back({{"trial", 13},
                          {"value", 0.123456789},
                          {"error", "two\nlines"},
                          {"params", {{"lr", 0.001234567}, {"name", "é"}}}});
  std::ostringstream rounded;
  WriteRecord(results, rounded);
  EXPECT_EQ(rounded.str(),
            "trial        13\n"
            "value        0.1235\n"
            "error        two lines\n"
            "params.lr    0.001235\n"
            "params.name  é\n");
  std::ostringstream exact;
  WriteRecord(results, exact, /*exact=*/true);
  EXPECT_TRUE(exact.str().find("value        0.123456789\n") !=
              std::string::npos)
      << exact.str();
  EXPECT_TRUE(exact.str().find("params.lr    0.001234567\n") !=
              std::string::npos)
      << exact.str();

  // Several rows: records separated by a blank line.
  ResultSet two;
  two.columns = {{"a"}};
  two.rows = {{{"a", 1}}, {{"a", 2}}};
  std::ostringstream out;
  WriteRecord(two, out);
  EXPECT_EQ(out.str(), "a  1\n\na  2\n");
}

TEST(ResultSetTest, SectionsIndentUnderTheirTitles) {
  Section record;
  record.title = "trial 3";
  record.results.columns = {{"state"}, {"lr"}};
  record.results.rows.push_back({{"state", "complete"}, {"lr", 0.00123456}});
  record.record = true;
  record.exact = true;
  Section note;
  note.title = "test split: not evaluated";
  Section empty;
  empty.title = "attempts";
  empty.results.columns = {{"attempt"}};
  Section table;
  table.title = "epochs";
  table.results.columns = {{"epoch"}, {"loss"}};
  table.results.rows.push_back({{"epoch", 1}, {"loss", 0.123456}});
  Section untitled;
  untitled.results.columns = {{"x"}};
  untitled.results.rows.push_back({{"x", "y"}});
  std::ostringstream out;
  WriteSections({record, note, empty, table, untitled}, out);
  EXPECT_EQ(out.str(),
            "trial 3\n"
            "  state  complete\n"
            "  lr     0.00123456\n"
            "\n"
            "test split: not evaluated\n"
            "\n"
            "attempts\n"
            "  (none)\n"
            "\n"
            "epochs\n"
            "  epoch    loss\n"
            "  -----  ------\n"
            "      1  0.1235\n"
            "\n"
            "x\n"
            "-\n"
            "y\n");
}

TEST(ResultSetTest, JsonDocument) {
  std::ostringstream out;
  WriteJson(ordered_json{{"b", 1}, {"a", {1, 2}}}, out);
  EXPECT_EQ(out.str(), "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}\n");
  std::ostringstream null;
  WriteJson(ordered_json(), null);
  EXPECT_EQ(null.str(), "null\n");
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
