#include "common/error.h"

#include <iostream>

namespace hpo {
namespace {

// Problems shown in the message; a file with thousands of mistakes (a
// generated one gone wrong) would bury the first, which usually explains the
// rest.
constexpr size_t kMaxShown = 20;

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < kMaxShown; ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  if (lines.size() > kMaxShown) {
    out += "\n... and " + std::to_string(lines.size() - kMaxShown) +
           " more problems like these; fix the ones above first";
  }
  return out;
}

}  // namespace

ValidationError::ValidationError(std::vector<std::string> problems)
    : Error(ErrorKind::kBadInput, JoinLines(problems)),
      problems_(std::move(problems)) {}

int RunMain(const std::string& program, const std::function<int()>& main) {
  try {
    return main();
  } catch (const Error& e) {
    std::cerr << (e.kind() == ErrorKind::kBadInput ? "" : program + ": ")
              << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace hpo
