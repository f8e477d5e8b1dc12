// Rows that a query over the results database returns, and the formats that
// hpo-query writes them in: an aligned table for people, CSV for
// spreadsheets and pandas, JSON for programs.
#ifndef HPO_RESULTS_RESULT_SET_H_
#define HPO_RESULTS_RESULT_SET_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace hpo {

enum class OutputFormat { kTable, kCsv, kJson };

// Parses "table", "csv" or "json". Throws hpo::Error (bad input) naming the
// valid formats otherwise.
OutputFormat ParseOutputFormat(const std::string& name);

struct ResultColumn {
  std::string name;
  // The column holds a JSON object per row (a trial's parameters). A table
  // shows it as "key=value key=value"; CSV gives each key that any row has its
  // own column, "<name>_<key>", in sorted order.
  bool spread = false;
};

// A query's answer: named columns and one JSON object per row, keyed by
// column name (a missing key reads as null). Cells are null, booleans,
// numbers, strings, arrays or, in spread columns, objects.
struct ResultSet {
  std::vector<ResultColumn> columns;
  std::vector<nlohmann::ordered_json> rows;
};

// Writes `results` to `out` in `format`. Does not flush; the caller checks
// the stream.
void WriteResults(const ResultSet& results, OutputFormat format,
                  std::ostream& out);

// An aligned table: a header, a rule, one line per row. Numeric columns are
// right-aligned, numbers have 4 significant digits, null is "-", and control
// characters in text become spaces, so every row stays on one line.
void WriteTable(const ResultSet& results, std::ostream& out);

// CSV as RFC 4180 defines it: a header row, CRLF line ends, and fields that
// hold a comma, a double quote, CR or LF quoted (quotes doubled). Numbers keep
// full precision, null is an empty field, arrays are compact JSON.
void WriteCsv(const ResultSet& results, std::ostream& out);

// A JSON array with one object per row, indented, then a newline. Text that
// is not valid UTF-8 has its bad bytes replaced with U+FFFD.
void WriteJson(const ResultSet& results, std::ostream& out);

// `field` as one CSV field: quoted when it needs to be, else as it is.
std::string CsvField(const std::string& field);

// A number for people to read: 4 significant digits, but no exponent for
// magnitudes from 1e4 up to 1e9 ("12346", not "1.235e+04").
std::string FormatNumber(double value);

}  // namespace hpo

#endif  // HPO_RESULTS_RESULT_SET_H_
