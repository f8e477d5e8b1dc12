// FMA's precomputed features (fma_metadata/features.csv): 518 statistics of
// librosa features per track, for the vector (MLP) studies.
#ifndef HPO_FEATURES_FEATURES_CSV_H_
#define HPO_FEATURES_FEATURES_CSV_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hpo::features {

// The whole table, row-major.
struct FeatureTable {
  // One name per feature column, "feature/statistics/number" from the three
  // header rows, e.g. "chroma_cens/kurtosis/01".
  std::vector<std::string> columns;
  std::vector<int64_t> track_ids;  // One per row, in file order.
  std::vector<float> values;       // track_ids.size() x columns.size().
};

// Reads features.csv: three header rows (feature, statistics, number), then
// an optional row that starts with "track_id" (pandas writes it), then one row
// per track: the id and one number per column. Any number of feature columns
// is accepted (FMA's file has 518); every row must have as many. Values are
// stored as float (ones too small for a float read as 0); blank lines are
// skipped.
//
// Throws hpo::Error (bad input) naming the file and line for a missing header,
// a row with the wrong number of fields, a value that is not a number
// (empty, "nan" and "inf" are refused too: a feature shard must be finite),
// or a repeated track id.
FeatureTable ReadFeatureTable(const std::string& path);

}  // namespace hpo::features

#endif  // HPO_FEATURES_FEATURES_CSV_H_
