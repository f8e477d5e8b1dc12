// RFC 4180 CSV: records of fields separated by commas, fields optionally in
// double quotes, a quote inside a quoted field written as two quotes, and
// quoted fields that span several lines (FMA's tracks.csv has HTML
// biographies with embedded newlines, so a line-based reader breaks on it).
#ifndef HPO_FEATURES_CSV_H_
#define HPO_FEATURES_CSV_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace hpo::features {

// Reads records one at a time from a stream. Accepts LF and CRLF line ends
// (a lone CR outside quotes ends a record too; a CR or LF inside quotes is
// kept as data), a final record without a line end, and a UTF-8 byte-order
// mark at the start. A quote inside an unquoted field is kept as data, as
// pandas does. Reads the stream in 1 MiB blocks. Not thread safe.
class CsvReader {
 public:
  // `name` is used in error messages (usually the file path). The stream must
  // outlive the reader.
  CsvReader(std::istream& in, std::string name);

  // Reads the next record into `fields` (replacing its contents). Returns
  // false at the end of the input. An empty line is a record with one empty
  // field. Throws hpo::Error (bad input) as "NAME:LINE: ..." for a quoted
  // field that is never closed (LINE is where the field started), for a
  // character other than a comma or line end right after a closing quote
  // (LINE is where that character is), or when the stream fails.
  bool Next(std::vector<std::string>* fields);

  // The 1-based line on which the last record returned by Next() started.
  int64_t record_line() const { return record_line_; }

 private:
  int Get();   // Next byte or EOF, counting lines.
  int Peek();  // Next byte or EOF, without consuming it.
  // Reads the next block when the buffer is used up. Returns false at the
  // end of the input.
  bool Refill();
  // Append the field at pos_ to `field` and stop before the byte that ends
  // it; ReadQuoted starts at the opening quote and consumes the closing one.
  void ReadUnquoted(std::string* field);
  void ReadQuoted(std::string* field);

  std::istream& in_;
  std::string name_;
  std::vector<char> buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  int64_t line_ = 1;
  int64_t record_line_ = 0;
  bool started_ = false;
};

// `field` as a CSV field: unchanged when it has no comma, quote, CR or LF,
// otherwise in double quotes with inner quotes doubled.
std::string CsvEscape(const std::string& field);

// Joins fields with commas, each escaped with CsvEscape, without a line end.
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace hpo::features

#endif  // HPO_FEATURES_CSV_H_
