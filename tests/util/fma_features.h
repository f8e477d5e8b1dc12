// The 518 columns of FMA's features.csv, for tests that write one.
#ifndef HPO_TESTS_UTIL_FMA_FEATURES_H_
#define HPO_TESTS_UTIL_FMA_FEATURES_H_

#include <cstdio>
#include <string>
#include <vector>

namespace hpo::testutil {

// One column: its three header rows (feature, statistics, number).
struct FmaFeatureColumn {
  std::string feature, statistics, number;
};

// Per feature, the number of coefficients; every coefficient has seven
// statistics, giving 518 columns in FMA's order.
inline std::vector<FmaFeatureColumn> FmaFeatureColumns() {
  struct Feature {
    const char* name;
    int count;
  };
  static constexpr Feature kFeatures[] = {
      {"chroma_cens", 12},
      {"chroma_cqt", 12},
      {"chroma_stft", 12},
      {"mfcc", 20},
      {"rmse", 1},
      {"spectral_bandwidth", 1},
      {"spectral_centroid", 1},
      {"spectral_contrast", 7},
      {"spectral_rolloff", 1},
      {"tonnetz", 6},
      {"zcr", 1},
  };
  static constexpr const char* kStatistics[] = {
      "kurtosis", "max", "mean", "median", "min", "skew", "std"};
  std::vector<FmaFeatureColumn> columns;
  for (const Feature& feature : kFeatures) {
    for (const char* statistics : kStatistics) {
      for (int n = 1; n <= feature.count; ++n) {
        char number[12];
        std::snprintf(number, sizeof(number), "%02d", n);
        columns.push_back({feature.name, statistics, number});
      }
    }
  }
  return columns;
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_FMA_FEATURES_H_
