// A temporary directory for one test, removed with everything in it when the
// test ends.
#ifndef HPO_TESTS_UTIL_SCRATCH_DIR_H_
#define HPO_TESTS_UTIL_SCRATCH_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace hpo::testutil {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "hpo") {
    std::string pattern = ::testing::TempDir() + "/" + prefix + "_XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty() && !keep_) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Leaves the directory in place (to look at a failed test's files).
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_SCRATCH_DIR_H_
