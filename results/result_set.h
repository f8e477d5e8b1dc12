// Rows that a query over the results database returns, and the formats that
// hpo-query writes them in: an aligned table for people, CSV for
// spreadsheets and pandas, JSON for programs.
#ifndef HPO_RESULTS_RESULT_SET_H_
#define HPO_RESULTS_RESULT_SET_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace hpo {

enum class OutputFormat { kTable, kCsv, kJson };

// Parses "table", "csv" or "json". Throws hpo::Error (bad input) naming the
// valid formats otherwise.
OutputFormat ParseOutputFormat(const std::string& name);

struct ResultColumn {
  ResultColumn() = default;
  // Implicit, so that a list of columns reads {{"name"}, {"params", true}}.
  ResultColumn(std::string name, bool spread = false, std::string title = "")
      : name(std::move(name)), spread(spread), title(std::move(title)) {}

  std::string name;
  // The column holds a JSON object per row (a trial's parameters). A table
  // shows it as "key=value key=value"; CSV gives each key that any row has its
  // own column, "<name>_<key>", in sorted order.
  bool spread = false;
  // The header that tables and CSV show instead of `name` when not empty:
  // for headers that are data (class names), which may repeat another
  // column's name. JSON keys are always `name`.
  std::string title;
};

// A query's answer: named columns and one JSON object per row, keyed by
// column name (a missing key reads as null). Cells are null, booleans,
// numbers, strings, arrays or, in spread columns, objects.
struct ResultSet {
  std::vector<ResultColumn> columns;
  std::vector<nlohmann::ordered_json> rows;
};

// One part of an answer that has several, such as hpo-query's view of one
// trial: its fields, its parameters, its attempts, its epochs.
struct Section {
  // A line above the section; the section's own lines are indented under it.
  std::string title;
  ResultSet results;
  // Shows each row as aligned "column  value" lines instead of a table: for
  // one item with many fields. A spread column gives a line per key,
  // "<name>.<key>".
  bool record = false;
  // Numbers in full (the shortest text that reads back as the same double)
  // instead of 4 significant digits: for values people copy, such as a
  // trial's parameters.
  bool exact = false;
};

// Writes `results` to `out` in `format`. Does not flush; the caller checks
// the stream.
void WriteResults(const ResultSet& results, OutputFormat format,
                  std::ostream& out);

// An aligned table: a header, a rule, one line per row. Numeric columns
// (numbers and nulls, at least one number) are right-aligned, numbers have 4
// significant digits, null is "-", and control characters in text become
// spaces, so every row stays on one line.
void WriteTable(const ResultSet& results, std::ostream& out);

// Each row as a record: one "column  value" line per column, the values
// aligned; records are separated by a blank line. Cells read as in
// WriteTable (with `exact`, numbers in full).
void WriteRecord(const ResultSet& results, std::ostream& out,
                 bool exact = false);

// Sections one after another, a blank line between them: the title, then the
// section indented by two spaces. A section with no columns is its title
// alone (a note); a table with no rows reads "(none)".
void WriteSections(const std::vector<Section>& sections, std::ostream& out);

// CSV as RFC 4180 defines it: a header row, CRLF line ends, and fields that
// hold a comma, a double quote, CR or LF quoted (quotes doubled). Numbers keep
// full precision, null is an empty field, arrays are compact JSON.
void WriteCsv(const ResultSet& results, std::ostream& out);

// A JSON array with one object per row, indented, then a newline. Text that
// is not valid UTF-8 has its bad bytes replaced with U+FFFD.
void WriteJson(const ResultSet& results, std::ostream& out);

// `document` as indented JSON, then a newline; bad UTF-8 as above.
void WriteJson(const nlohmann::ordered_json& document, std::ostream& out);

// `field` as one CSV field: quoted when it needs to be, else as it is.
std::string CsvField(const std::string& field);

// A number for people to read: 4 significant digits, but no exponent for
// magnitudes from 1e4 up to 1e9 ("12346", not "1.235e+04").
std::string ReadableNumber(double value);

}  // namespace hpo

#endif  // HPO_RESULTS_RESULT_SET_H_
