#include "results/result_set.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <utility>

#include "common/error.h"

namespace hpo {

using nlohmann::ordered_json;

namespace {

// JSON text of `value`, compact; bad UTF-8 bytes become U+FFFD instead of
// throwing.
std::string Dump(const ordered_json& value, int indent = -1) {
  return value.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

// The cell of `row` in column `name`; null when the row lacks it.
const ordered_json& Cell(const ordered_json& row, const std::string& name) {
  static const ordered_json kNull;
  auto it = row.find(name);
  return it == row.end() ? kNull : *it;
}

// `text` with every control character (newline, tab...) made a space.
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// Columns `text` takes on a terminal: one per UTF-8 code point.
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xc0) != 0x80) ++width;
  }
  return width;
}

// A value inside a table cell: numbers rounded (in full when `exact`),
// strings bare.
std::string Compact(const ordered_json& value, bool exact) {
  switch (value.type()) {
    case ordered_json::value_t::number_float:
      return exact ? Dump(value) : ReadableNumber(value.get<double>());
    case ordered_json::value_t::string:
      return OneLine(value.get<std::string>());
    case ordered_json::value_t::array: {
      std::string out = "[";
      for (const auto& element : value) {
        if (out.size() > 1) out += ",";
        out += Compact(element, exact);
      }
      return out + "]";
    }
    case ordered_json::value_t::object: {
      std::string out;
      for (const auto& [key, element] : value.items()) {
        if (!out.empty()) out += " ";
        out += OneLine(key) + "=" + Compact(element, exact);
      }
      return out;
    }
    default:  // null, booleans, integers.
      return Dump(value);
  }
}

std::string TableCell(const ordered_json& value, bool exact) {
  return value.is_null() ? "-" : Compact(value, exact);
}

// The header of `column` in tables and CSV.
const std::string& Header(const ResultColumn& column) {
  return column.title.empty() ? column.name : column.title;
}

std::string CsvCell(const ordered_json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return CsvField(value.get<std::string>());
  return CsvField(Dump(value));
}

// One CSV column: a plain column, or one key of a spread column.
struct CsvColumn {
  std::string header;
  std::string column;
  std::string key;  // Empty for a plain column.
  bool spread = false;
};

std::vector<CsvColumn> CsvColumns(const ResultSet& results) {
  std::vector<CsvColumn> out;
  for (const ResultColumn& column : results.columns) {
    if (!column.spread) {
      out.push_back({Header(column), column.name, "", false});
      continue;
    }
    std::set<std::string> keys;
    for (const ordered_json& row : results.rows) {
      const ordered_json& cell = Cell(row, column.name);
      if (!cell.is_object()) continue;
      for (const auto& item : cell.items()) keys.insert(item.key());
    }
    for (const std::string& key : keys) {
      out.push_back({Header(column) + "_" + key, column.name, key, true});
    }
  }
  return out;
}

}  // namespace

OutputFormat ParseOutputFormat(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  throw BadInput("--format " + name +
                 ": unknown format; use table, csv or json");
}

std::string ReadableNumber(double value) {
  char buffer[32];
  double magnitude = std::fabs(value);
  const char* format = magnitude >= 1e4 && magnitude < 1e9 ? "%.0f" : "%.4g";
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

void WriteTable(const ResultSet& results, bool exact, std::ostream& out) {
  size_t n = results.columns.size();
  std::vector<std::vector<std::string>> lines(1);
  for (const ResultColumn& column : results.columns) {
    lines[0].push_back(OneLine(Header(column)));
  }
  // A column is right-aligned when it holds numbers and nothing else but
  // nulls.
  std::vector<bool> numeric(n, true), any_number(n, false);
  for (const ordered_json& row : results.rows) {
    std::vector<std::string>& line = lines.emplace_back();
    for (size_t i = 0; i < n; ++i) {
      const ordered_json& cell = Cell(row, results.columns[i].name);
      if (!cell.is_null() && !cell.is_number()) numeric[i] = false;
      if (cell.is_number()) any_number[i] = true;
      line.push_back(TableCell(cell, exact));
    }
  }
  for (size_t i = 0; i < n; ++i) numeric[i] = numeric[i] && any_number[i];
  std::vector<size_t> widths(n, 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < n; ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(line[i]));
    }
  }
  auto write_line = [&](const std::vector<std::string>& line) {
    for (size_t i = 0; i < n; ++i) {
      std::string padding(widths[i] - DisplayWidth(line[i]), ' ');
      bool last = i + 1 == n;
      if (i > 0) out << "  ";
      if (numeric[i]) {
        out << padding << line[i];
      } else {
        out << line[i] << (last ? "" : padding);
      }
    }
    out << "\n";
  };
  write_line(lines[0]);
  std::vector<std::string> rule;
  for (size_t width : widths) rule.push_back(std::string(width, '-'));
  write_line(rule);
  for (size_t i = 1; i < lines.size(); ++i) write_line(lines[i]);
}

// `text` with `indent` before each line that is not empty.
void Indent(const std::string& text, const std::string& indent,
            std::ostream& out) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size() - 1;
    if (text[start] != '\n') out << indent;
    out << text.substr(start, end + 1 - start);
    start = end + 1;
  }
}

}  // namespace

void WriteTable(const ResultSet& results, std::ostream& out) {
  WriteTable(results, /*exact=*/false, out);
}

void WriteRecord(const ResultSet& results, std::ostream& out, bool exact) {
  for (size_t r = 0; r < results.rows.size(); ++r) {
    const ordered_json& row = results.rows[r];
    std::vector<std::pair<std::string, std::string>> lines;
    for (const ResultColumn& column : results.columns) {
      const ordered_json& cell = Cell(row, column.name);
      if (!column.spread || !cell.is_object()) {
        lines.emplace_back(OneLine(Header(column)), TableCell(cell, exact));
        continue;
      }
      for (const auto& [key, value] : cell.items()) {
        lines.emplace_back(OneLine(Header(column) + "." + key),
                           TableCell(value, exact));
      }
    }
    size_t width = 0;
    for (const auto& line : lines) {
      width = std::max(width, DisplayWidth(line.first));
    }
    if (r > 0) out << "\n";
    for (const auto& [name, value] : lines) {
      out << name << std::string(width - DisplayWidth(name), ' ') << "  "
          << value << "\n";
    }
  }
}

void WriteSections(const std::vector<Section>& sections, std::ostream& out) {
  for (size_t i = 0; i < sections.size(); ++i) {
    const Section& section = sections[i];
    if (i > 0) out << "\n";
    if (!section.title.empty()) out << OneLine(section.title) << "\n";
    if (section.results.columns.empty()) continue;
    std::ostringstream body;
    if (section.results.rows.empty()) {
      body << "(none)\n";
    } else if (section.record) {
      WriteRecord(section.results, body, section.exact);
    } else {
      WriteTable(section.results, section.exact, body);
    }
    Indent(body.str(), section.title.empty() ? "" : "  ", out);
  }
}

void WriteCsv(const ResultSet& results, std::ostream& out) {
  std::vector<CsvColumn> columns = CsvColumns(results);
  for (size_t i = 0; i < columns.size(); ++i) {
    out << (i > 0 ? "," : "") << CsvField(columns[i].header);
  }
  out << "\r\n";
  for (const ordered_json& row : results.rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const CsvColumn& column = columns[i];
      const ordered_json& cell = Cell(row, column.column);
      if (i > 0) out << ",";
      if (!column.spread) {
        out << CsvCell(cell);
      } else if (cell.is_object()) {
        out << CsvCell(Cell(cell, column.key));
      }
    }
    out << "\r\n";
  }
}

void WriteJson(const ResultSet& results, std::ostream& out) {
  ordered_json array = ordered_json::array();
  for (const ordered_json& row : results.rows) array.push_back(row);
  out << Dump(array, 2) << "\n";
}

void WriteJson(const ordered_json& document, std::ostream& out) {
  out << Dump(document, 2) << "\n";
}

void WriteResults(const ResultSet& results, OutputFormat format,
                  std::ostream& out) {
  switch (format) {
    case OutputFormat::kTable:
      WriteTable(results, out);
      return;
    case OutputFormat::kCsv:
      WriteCsv(results, out);
      return;
    case OutputFormat::kJson:
      WriteJson(results, out);
      return;
  }
}

}  // namespace hpo
