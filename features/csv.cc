#include "features/csv.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/error.h"

namespace hpo::features {
namespace {

constexpr size_t kBufferSize = size_t{1} << 20;
constexpr int kEof = -1;

// The bytes that end an unquoted field, as a table: one load per byte in the
// hot loop instead of three comparisons.
constexpr std::array<bool, 256> MakeFieldStops() {
  std::array<bool, 256> stops{};
  stops[static_cast<unsigned char>(',')] = true;
  stops[static_cast<unsigned char>('\n')] = true;
  stops[static_cast<unsigned char>('\r')] = true;
  return stops;
}
constexpr std::array<bool, 256> kFieldStops = MakeFieldStops();

// A byte for an error message: itself when printable, else \xNN.
std::string Printable(int c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, static_cast<char>(c));
  char hex[8];
  std::snprintf(hex, sizeof(hex), "\\x%02X", c & 0xff);
  return hex;
}

}  // namespace

CsvReader::CsvReader(std::istream& in, std::string name)
    : in_(in), name_(std::move(name)) {}

bool CsvReader::Refill() {
  if (pos_ < end_) return true;
  pos_ = 0;
  end_ = 0;
  if (buffer_.empty()) buffer_.resize(kBufferSize);
  if (in_.good()) {
    in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    end_ = static_cast<size_t>(in_.gcount());
  }
  if (in_.bad()) {
    throw BadInput(name_ + ":" + std::to_string(line_) +
                   ": read error; check that the file is readable");
  }
  return end_ > 0;
}

int CsvReader::Get() {
  if (pos_ == end_ && !Refill()) return kEof;
  const unsigned char c = static_cast<unsigned char>(buffer_[pos_++]);
  if (c == '\n') ++line_;
  return c;
}

int CsvReader::Peek() {
  if (pos_ == end_ && !Refill()) return kEof;
  return static_cast<unsigned char>(buffer_[pos_]);
}

void CsvReader::ReadUnquoted(std::string* field) {
  for (;;) {
    const char* begin = buffer_.data() + pos_;
    const char* end = buffer_.data() + end_;
    const char* p = begin;
    while (p != end && !kFieldStops[static_cast<unsigned char>(*p)]) ++p;
    field->append(begin, p);
    pos_ += static_cast<size_t>(p - begin);
    if (p != end || !Refill()) return;
  }
}

void CsvReader::ReadQuoted(std::string* field) {
  const int64_t start_line = line_;
  Get();  // The opening quote.
  for (;;) {
    if (pos_ == end_ && !Refill()) {
      throw BadInput(name_ + ":" + std::to_string(start_line) +
                     ": quoted field starting on this line is never closed; "
                     "add the closing double quote (a quote inside a quoted "
                     "field is written as two) or check for a truncated file");
    }
    const char* begin = buffer_.data() + pos_;
    const size_t available = end_ - pos_;
    const char* quote =
        static_cast<const char*>(std::memchr(begin, '"', available));
    const char* stop = quote != nullptr ? quote : begin + available;
    line_ += std::count(begin, stop, '\n');
    field->append(begin, stop);
    pos_ += static_cast<size_t>(stop - begin);
    if (quote == nullptr) continue;
    ++pos_;  // The quote: either closing, or the first of a doubled one.
    if (Peek() != '"') return;
    field->push_back('"');
    ++pos_;
  }
}

bool CsvReader::Next(std::vector<std::string>* fields) {
  if (!started_) {
    started_ = true;
    Refill();
    if (end_ - pos_ >= 3 &&
        std::memcmp(buffer_.data() + pos_, "\xEF\xBB\xBF", 3) == 0) {
      pos_ += 3;
    }
  }
  if (Peek() == kEof) return false;
  record_line_ = line_;
  size_t count = 0;
  for (;;) {
    if (count == fields->size()) fields->emplace_back();
    std::string* field = &(*fields)[count++];
    field->clear();
    int c;
    if (Peek() == '"') {
      ReadQuoted(field);
      c = Get();
      if (c != ',' && c != '\n' && c != '\r' && c != kEof) {
        throw BadInput(name_ + ":" + std::to_string(line_) + ": '" +
                       Printable(c) +
                       "' after the closing quote of a field; a quote inside "
                       "a quoted field must be doubled (\"\"), and a field "
                       "that contains quotes must be quoted as a whole");
      }
    } else {
      ReadUnquoted(field);
      c = Get();
    }
    if (c == ',') continue;
    if (c == '\r') {
      if (Peek() == '\n') {
        Get();
      } else {
        ++line_;  // A lone CR ends the line too.
      }
    }
    break;
  }
  fields->resize(count);
  return true;
}

std::string CsvEscape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out;
  out.reserve(field.size() + 2);
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    line += CsvEscape(fields[i]);
  }
  return line;
}

}  // namespace hpo::features
