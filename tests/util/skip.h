// Skipping a test whose parts cannot start on this machine, in the one way
// that CI can forbid: with HPO_REQUIRE_ALL=1 in the environment (.ci/run sets
// it) every such skip is a failure instead, so a green CI has run every test.
// Without it (a developer's laptop) the test skips with its reason.
#ifndef HPO_TESTS_UTIL_SKIP_H_
#define HPO_TESTS_UTIL_SKIP_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <string>

namespace hpo::testutil {

// True when HPO_REQUIRE_ALL is set to anything but "" or "0".
inline bool RequireAll() {
  const char* v = getenv("HPO_REQUIRE_ALL");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace hpo::testutil

// Skips the current test with `why` (a std::string expression), or fails it
// under HPO_REQUIRE_ALL. Returns from the enclosing void function like
// GTEST_SKIP() and FAIL(), so use it in a test body or SetUp().
#define HPO_SKIP_UNLESS_REQUIRED(why)                                       \
  do {                                                                      \
    const std::string hpo_skip_why_ = (why);                                \
    if (::hpo::testutil::RequireAll()) {                                    \
      FAIL() << "cannot run here, and HPO_REQUIRE_ALL=1 forbids skipping: " \
             << hpo_skip_why_;                                              \
    }                                                                       \
    GTEST_SKIP() << hpo_skip_why_;                                          \
  } while (0)

#endif  // HPO_TESTS_UTIL_SKIP_H_
