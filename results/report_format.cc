#include "results/report_format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace hpo {
namespace report_html {

// Text

// `text` made safe for HTML text and attribute values, and so for SVG inside
// HTML: markup characters become entities, and the control characters that
// XML forbids become U+FFFD.
std::string Escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

// `text` cut to at most `max_chars` characters (UTF-8 code points), with an
// ellipsis when cut.
std::string Shorten(const std::string& text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars - 1) {
      size_t rest = 0;
      for (size_t j = i; j < text.size(); ++j) {
        rest += (static_cast<unsigned char>(text[j]) & 0xC0) != 0x80;
      }
      if (rest > 1) return text.substr(0, i) + "\xE2\x80\xA6";
      return text;
    }
    ++chars;
  }
  return text;
}

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// A value for people: 4 significant digits.
std::string Number(double value, int digits) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

std::string Number(const std::optional<double>& value) {
  return value ? Number(*value) : "\xE2\x80\x94";  // An em dash.
}

// A coordinate in SVG user units.
std::string Coord(double value) {
  if (!std::isfinite(value)) value = 0;
  std::string text = Printf("%.1f", value);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) {
    text.resize(text.size() - 2);
  }
  return text == "-0" ? "0" : text;
}

// h:mm:ss, as the coordinator prints elapsed time.
std::string HoursMinutesSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = std::llround(seconds);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600,
                s / 60 % 60, s % 60);
  return buffer;
}

// A time offset for an axis: m:ss below an hour, h:mm:ss above.
std::string ShortClock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = std::llround(seconds);
  char buffer[48];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600,
                  s / 60 % 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
  }
  return buffer;
}

std::string UtcTime(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds <= 0) return "unknown";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "unknown";
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// A parameter value as a short label: strings bare, numbers with 4
// significant digits, anything else as compact JSON.
std::string ValueLabel(const json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_float()) {
    text = Number(value.get<double>());
  } else {
    text = value.dump();
  }
  return Shorten(text, 40);
}

// A name usable in an id attribute: letters, digits, '-' and '_'.
std::string IdPart(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace report_html
}  // namespace hpo
