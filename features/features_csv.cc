#include "features/features_csv.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <unordered_map>

#include "common/error.h"
#include "features/csv.h"

namespace hpo::features {
namespace {

// The first field of each of the three header rows.
constexpr const char* kHeaderNames[3] = {"feature", "statistics", "number"};

// Bytes per value in FMA's file ("7.180653e+00,"), to size the table up
// front instead of growing it by copies.
constexpr int64_t kBytesPerValue = 13;

std::string Where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line) + ": ";
}

// Parses a whole field as a number that is finite as a float. Values too
// small for a double read as 0 (strtod rounds them; from_chars refuses them).
bool ParseValue(const std::string& text, float* value) {
  const char* end = text.data() + text.size();
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  if (ptr != end || text.empty()) return false;
  if (ec == std::errc::result_out_of_range) {
    number = std::strtod(text.c_str(), nullptr);
  } else if (ec != std::errc()) {
    return false;
  }
  *value = static_cast<float>(number);
  return std::isfinite(*value);
}

bool ParseTrackId(const std::string& text, int64_t* id) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *id);
  return ec == std::errc() && ptr == end && *id >= 0;
}

}  // namespace

FeatureTable ReadFeatureTable(const std::string& path) {
  struct stat info;
  const bool exists = stat(path.c_str(), &info) == 0;
  if (exists && S_ISDIR(info.st_mode)) {
    throw BadInput(path +
                   ": is a directory; give the path of FMA's "
                   "fma_metadata/features.csv");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw BadInput(path + ": cannot open (" + std::strerror(errno) +
                   "); give the path of FMA's fma_metadata/features.csv");
  }
  CsvReader reader(in, path);

  // Three header rows: feature, statistics, number.
  std::vector<std::string> header[3];
  for (int row = 0; row < 3; ++row) {
    if (!reader.Next(&header[row])) {
      throw BadInput(path +
                     ": ends before the three header rows of FMA's "
                     "features.csv (feature, statistics, number)");
    }
    const int64_t line = reader.record_line();
    if (header[row][0] != kHeaderNames[row]) {
      throw BadInput(Where(path, line) + "header row " +
                     std::to_string(row + 1) + " must start with '" +
                     kHeaderNames[row] + "', not '" + header[row][0] +
                     "'; give FMA's features.csv with its three header rows "
                     "(feature, statistics, number)");
    }
    if (header[row].size() < 2 || header[row].size() != header[0].size()) {
      throw BadInput(Where(path, line) + std::to_string(header[row].size()) +
                     " fields in header row " + std::to_string(row + 1) +
                     ", expected " +
                     std::to_string(std::max<size_t>(header[0].size(), 2)) +
                     "; the header rows need the same number of fields and "
                     "at least one feature column");
    }
  }

  FeatureTable table;
  const size_t width = header[0].size();
  table.columns.reserve(width - 1);
  for (size_t i = 1; i < width; ++i) {
    table.columns.push_back(header[0][i] + "/" + header[1][i] + "/" +
                            header[2][i]);
  }
  if (exists && info.st_size > 0) {
    table.values.reserve(static_cast<size_t>(info.st_size / kBytesPerValue));
  }

  std::unordered_map<int64_t, int64_t> id_lines;  // Track id -> its line.
  std::vector<std::string> fields;
  bool first = true;
  while (reader.Next(&fields)) {
    if (fields.size() == 1 && fields[0].empty()) continue;  // A blank line.
    const int64_t line = reader.record_line();
    // pandas writes the index name on a row of its own.
    if (first && fields[0] == "track_id") {
      first = false;
      continue;
    }
    first = false;
    if (fields.size() != width) {
      throw BadInput(Where(path, line) + std::to_string(fields.size()) +
                     " fields, expected " + std::to_string(width) +
                     " (the track id and one value per feature column of the "
                     "header); fix or drop the row");
    }
    int64_t id = 0;
    if (!ParseTrackId(fields[0], &id)) {
      throw BadInput(Where(path, line) + "track id '" + fields[0] +
                     "' is not a non-negative integer; the first column of "
                     "features.csv is the track id");
    }
    auto [it, inserted] = id_lines.emplace(id, line);
    if (!inserted) {
      throw BadInput(Where(path, line) + "track id " + std::to_string(id) +
                     " repeats (first on line " + std::to_string(it->second) +
                     "); every track must appear once");
    }
    for (size_t i = 1; i < width; ++i) {
      float value;
      if (!ParseValue(fields[i], &value)) {
        throw BadInput(Where(path, line) + "track " + std::to_string(id) +
                       " has '" + fields[i] + "' in column " +
                       table.columns[i - 1] +
                       ", not a finite number; a feature shard must be "
                       "finite, so fix the value or drop the track");
      }
      table.values.push_back(value);
    }
    table.track_ids.push_back(id);
  }
  return table;
}

}  // namespace hpo::features
