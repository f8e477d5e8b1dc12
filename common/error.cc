#include "common/error.h"

namespace hpo {
namespace {

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  return out;
}

}  // namespace

ValidationError::ValidationError(std::vector<std::string> problems)
    : Error(ErrorKind::kBadInput, JoinLines(problems)),
      problems_(std::move(problems)) {}

}  // namespace hpo
