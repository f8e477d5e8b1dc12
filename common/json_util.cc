#include "common/json_util.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"

namespace hpo {
namespace {

using nlohmann::json;

// Converts a 1-based byte offset into a 1-based line and column.
void LineAndColumn(const std::string& text, size_t byte, size_t* line,
                   size_t* column) {
  size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  *line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++*line;
      line_start = i + 1;
    }
  }
  *column = end - line_start + 1;
}

// nlohmann's messages look like "[json.exception.parse_error.101] parse error
// at line 3, column 5: syntax error while parsing ...". Keeps the part after
// the position, which says what was expected.
std::string ParseErrorReason(const std::string& what) {
  size_t pos = what.find("column ");
  if (pos != std::string::npos) {
    pos = what.find(": ", pos);
    if (pos != std::string::npos) return what.substr(pos + 2);
  }
  pos = what.find("] ");
  return pos == std::string::npos ? what : what.substr(pos + 2);
}

// Tracks where the parser is, so that a duplicate key can be reported with
// its JSON path. Frames hold only their own key or index; the path is built
// when a duplicate is found.
struct Frame {
  bool is_array = false;
  size_t count = 0;            // Elements seen so far (arrays).
  std::string key;             // Last key seen (objects).
  std::set<std::string> keys;  // Keys seen (objects).
};

// Deeper nesting than this is not a study file (and would cost memory).
constexpr size_t kMaxDepth = 256;

std::string PathOf(const std::vector<Frame>& stack) {
  std::string path;
  for (const Frame& frame : stack) {
    if (frame.is_array) {
      path += "[" + std::to_string(frame.count) + "]";
    } else {
      path += (path.empty() ? "" : ".") + frame.key;
    }
  }
  return path;
}

// Builds the document with nlohmann's own DOM builder and, on the way,
// checks the nesting depth and finds duplicate keys. (nlohmann's
// parser_callback_t would do the same, but its parser takes time quadratic
// in the number of values: 30 s for a 4.7 MB array where this takes 0.1 s.)
class CheckingSax {
 public:
  CheckingSax(json* result, const std::string& source)
      : dom_(*result, /*allow_exceptions=*/true), source_(source) {}

  const std::vector<std::string>& duplicates() const { return duplicates_; }

  bool null() { return Value() && dom_.null(); }
  bool boolean(bool v) { return Value() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) {
    return Value() && dom_.number_integer(v);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return Value() && dom_.number_unsigned(v);
  }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return Value() && dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return Value() && dom_.string(v); }
  bool binary(json::binary_t& v) { return Value() && dom_.binary(v); }
  bool start_object(std::size_t n) {
    return Open(false) && dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    Frame& top = stack_.back();
    top.key = k;
    if (!top.keys.insert(top.key).second) {
      duplicates_.push_back(source_ + ": " + PathOf(stack_) +
                            ": duplicate key (JSON would keep only the "
                            "last value); remove one of them");
    }
    return dom_.key(k);
  }
  bool end_object() { return Close() && dom_.end_object(); }
  bool start_array(std::size_t n) { return Open(true) && dom_.start_array(n); }
  bool end_array() { return Close() && dom_.end_array(); }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token,
                   const Exception& e) {
    return dom_.parse_error(position, token, e);  // Throws `e`.
  }

 private:
  // A scalar value, or the start of a container, in the current frame.
  bool Value() {
    if (!stack_.empty() && stack_.back().is_array) ++stack_.back().count;
    return true;
  }
  bool Open(bool is_array) {
    if (stack_.size() >= kMaxDepth) {
      throw BadInput(source_ + ": " + PathOf(stack_) + ": nested more than " +
                     std::to_string(kMaxDepth) +
                     " levels deep; this is not a study file");
    }
    Frame frame;
    frame.is_array = is_array;
    stack_.push_back(std::move(frame));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return Value();
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::string& source_;
  std::vector<Frame> stack_;
  std::vector<std::string> duplicates_;
};

}  // namespace

std::string ReadTextFile(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    throw BadInput(path + ": is a directory; give a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw BadInput(path + ": cannot open (" + std::strerror(errno) +
                   "); check the path");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    throw BadInput(path + ": cannot read (" + std::strerror(errno) + ")");
  }
  return buffer.str();
}

json ParseJsonText(const std::string& text, const std::string& source) {
  json result;
  CheckingSax sax(&result, source);
  try {
    json::sax_parse(text, &sax, json::input_format_t::json, /*strict=*/true,
                    /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    size_t line = 0;
    size_t column = 0;
    LineAndColumn(text, e.byte, &line, &column);
    throw BadInput(source + ":" + std::to_string(line) + ":" +
                   std::to_string(column) +
                   ": not valid JSON: " + ParseErrorReason(e.what()));
  } catch (const json::exception& e) {
    // For example a number too large for a double (1e400).
    throw BadInput(source + ": not usable JSON: " + ParseErrorReason(e.what()));
  }
  if (!sax.duplicates().empty()) throw ValidationError(sax.duplicates());
  return result;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions.
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string ClosestMatch(const std::string& word,
                         const std::vector<std::string>& candidates) {
  size_t limit = std::max<size_t>(1, word.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (!best.empty()) return best;
  // A shortened or lengthened name ("sched" for "scheduler").
  for (const std::string& candidate : candidates) {
    const std::string& shorter =
        word.size() < candidate.size() ? word : candidate;
    const std::string& longer =
        word.size() < candidate.size() ? candidate : word;
    if (shorter.size() >= 3 &&
        longer.compare(0, shorter.size(), shorter) == 0) {
      return candidate;
    }
  }
  return "";
}

std::string Brief(const json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string TypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    default:
      return "a binary value";
  }
}

std::vector<std::string> DescribeChanges(const nlohmann::json& before,
                                         const nlohmann::json& after,
                                         const std::string& path) {
  std::vector<std::string> out;
  const std::string here = path.empty() ? "(whole file)" : path;
  auto child = [&path](const std::string& key) {
    return path.empty() ? key : path + "." + key;
  };
  if (before.is_object() && after.is_object()) {
    for (const auto& [key, value] : before.items()) {
      auto it = after.find(key);
      if (it == after.end()) {
        out.push_back(child(key) + ": removed");
      } else {
        auto sub = DescribeChanges(value, *it, child(key));
        out.insert(out.end(), sub.begin(), sub.end());
      }
    }
    for (const auto& [key, value] : after.items()) {
      if (!before.contains(key)) {
        out.push_back(child(key) + ": added = " + Brief(value));
      }
    }
    return out;
  }
  if (before.is_array() && after.is_array() && before.size() == after.size()) {
    for (size_t i = 0; i < before.size(); ++i) {
      auto sub = DescribeChanges(before[i], after[i],
                                 path + "[" + std::to_string(i) + "]");
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  if (before != after) {
    out.push_back(here + ": " + Brief(before) + " -> " + Brief(after));
  }
  return out;
}

}  // namespace hpo
