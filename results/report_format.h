// hpo-report: text for HTML and SVG (escaping, numbers, times, labels).
#ifndef HPO_RESULTS_REPORT_FORMAT_H_
#define HPO_RESULTS_REPORT_FORMAT_H_

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace hpo {
// The pieces of hpo-report's page (results/report.cc puts them together).
namespace report_html {

using nlohmann::json;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// `text` made safe for HTML text and attribute values, and so for SVG inside
// HTML: markup characters become entities, and the control characters that
// XML forbids become U+FFFD.
std::string Escape(const std::string& text);

// `text` cut to at most `max_chars` characters (UTF-8 code points), with an
// ellipsis when cut.
std::string Shorten(const std::string& text, size_t max_chars);

std::string Printf(const char* format, double value);

// A value for people: 4 significant digits.
std::string Number(double value, int digits = 4);

std::string Number(const std::optional<double>& value);

// A coordinate in SVG user units.
std::string Coord(double value);

// h:mm:ss, as the coordinator prints elapsed time.
std::string HoursMinutesSeconds(double seconds);

// A time offset for an axis: m:ss below an hour, h:mm:ss above.
std::string ShortClock(double seconds);

std::string UtcTime(double unix_seconds);

// A parameter value as a short label: strings bare, numbers with 4
// significant digits, anything else as compact JSON.
std::string ValueLabel(const json& value);

// A name usable in an id attribute: letters, digits, '-' and '_'.
std::string IdPart(const std::string& name);

std::string Plural(int64_t n, const std::string& one, const std::string& many);

}  // namespace report_html
}  // namespace hpo

#endif  // HPO_RESULTS_REPORT_FORMAT_H_
