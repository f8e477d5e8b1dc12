// Errors that hpo reports to users.
//
// Every failure that reaches a user is an hpo::Error: a one-line message that
// says what is wrong, where, and how to fix it, plus a kind that decides the
// process exit code. Exceptions from third-party libraries are caught at module
// boundaries and rethrown as hpo::Error with context.
#ifndef HPO_COMMON_ERROR_H_
#define HPO_COMMON_ERROR_H_

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpo {

enum class ErrorKind {
  kBadInput,  // Bad usage, bad study file, bad data on disk: exit code 2.
  kRuntime,   // Anything else that stops a command: exit code 1.
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  ErrorKind kind() const { return kind_; }

  // The process exit code that README.md ("The user's path") assigns to this
  // kind of error.
  int exit_code() const { return kind_ == ErrorKind::kBadInput ? 2 : 1; }

 private:
  ErrorKind kind_;
};

inline Error BadInput(const std::string& message) {
  return Error(ErrorKind::kBadInput, message);
}
inline Error RuntimeFailure(const std::string& message) {
  return Error(ErrorKind::kRuntime, message);
}

// A bad-input error that carries several problems found at once (for example
// every invalid value of a study file). what() joins them with newlines, one
// problem per line.
class ValidationError : public Error {
 public:
  explicit ValidationError(std::vector<std::string> problems);

  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Runs a command's Main() and turns what escapes it into one line on stderr
// and the exit status: bad input as it is (its message says what, where and
// how to fix), other hpo::Errors after "PROGRAM: " (exit 1), anything else
// as "PROGRAM: internal error: ..." (exit 1).
int RunMain(const std::string& program, const std::function<int()>& main);

}  // namespace hpo

#endif  // HPO_COMMON_ERROR_H_
