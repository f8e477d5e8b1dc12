// A command-line value read as a whole decimal integer: "12" is 12, "12x",
// "" and "1e3" are not numbers. Header-only.
#ifndef HPO_COMMON_PARSE_INT_H_
#define HPO_COMMON_PARSE_INT_H_

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace hpo {

inline std::optional<int64_t> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size() || text.front() == ' ' ||
      text.front() == '+') {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

}  // namespace hpo

#endif  // HPO_COMMON_PARSE_INT_H_
