// Files of the source tree that tests read (tests/data: the FMA clip, a
// tracks.csv sample, librosa goldens). CTest sets HPO_SOURCE_DIR for every
// test; run by hand from the source root it defaults to ".".
#ifndef HPO_TESTS_UTIL_TEST_DATA_H_
#define HPO_TESTS_UTIL_TEST_DATA_H_

#include <cstdlib>
#include <string>

namespace hpo::testutil {

// SOURCE_DIR/relative, e.g. SourcePath("tests/data/fma/tracks_sample.csv").
inline std::string SourcePath(const std::string& relative) {
  const char* root = std::getenv("HPO_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/" + relative;
}

// The real FMA clip: 1,321,967 frames at 44.1 kHz, stereo MP3.
inline std::string FmaClipPath() {
  return SourcePath("tests/data/fma/000/000002.mp3");
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_TEST_DATA_H_
