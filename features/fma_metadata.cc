#include "features/fma_metadata.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>
#include <unordered_map>

#include "common/error.h"
#include "features/csv.h"

namespace hpo::features {
namespace {

// The 52 data columns of FMA's fma_metadata/tracks.csv, in file order
// (sorted by group, then name), after the track id in column 0.
struct Column {
  const char* group;
  const char* name;
};
constexpr Column kColumns[] = {
    {"album", "comments"},
    {"album", "date_created"},
    {"album", "date_released"},
    {"album", "engineer"},
    {"album", "favorites"},
    {"album", "id"},
    {"album", "information"},
    {"album", "listens"},
    {"album", "producer"},
    {"album", "tags"},
    {"album", "title"},
    {"album", "tracks"},
    {"album", "type"},
    {"artist", "active_year_begin"},
    {"artist", "active_year_end"},
    {"artist", "associated_labels"},
    {"artist", "bio"},
    {"artist", "comments"},
    {"artist", "date_created"},
    {"artist", "favorites"},
    {"artist", "id"},
    {"artist", "latitude"},
    {"artist", "location"},
    {"artist", "longitude"},
    {"artist", "members"},
    {"artist", "name"},
    {"artist", "related_projects"},
    {"artist", "tags"},
    {"artist", "website"},
    {"artist", "wikipedia_page"},
    {"set", "split"},
    {"set", "subset"},
    {"track", "bit_rate"},
    {"track", "comments"},
    {"track", "composer"},
    {"track", "date_created"},
    {"track", "date_recorded"},
    {"track", "duration"},
    {"track", "favorites"},
    {"track", "genre_top"},
    {"track", "genres"},
    {"track", "genres_all"},
    {"track", "information"},
    {"track", "interest"},
    {"track", "language_code"},
    {"track", "license"},
    {"track", "listens"},
    {"track", "lyricist"},
    {"track", "number"},
    {"track", "publisher"},
    {"track", "tags"},
    {"track", "title"},
};
constexpr size_t kNumColumns = sizeof(kColumns) / sizeof(kColumns[0]);
static_assert(kNumColumns == 52, "FMA's tracks.csv has 52 data columns");

// The columns ReadFmaTracks needs, in the order of Needed below.
enum Needed { kSplit, kSubset, kGenreTop, kTitle, kArtist, kDuration, kCount };
constexpr Column kNeeded[kCount] = {
    {"set", "split"},   {"set", "subset"},  {"track", "genre_top"},
    {"track", "title"}, {"artist", "name"}, {"track", "duration"},
};

// 0 for small, 1 for medium, 2 for large, -1 for anything else. A track of
// rank r belongs to every subset of rank >= r.
int SubsetRank(const std::string& subset) {
  if (subset == "small") return 0;
  if (subset == "medium") return 1;
  if (subset == "large") return 2;
  return -1;
}

bool IsSplit(const std::string& split) {
  return split == "training" || split == "validation" || split == "test";
}

std::string Where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line) + ": ";
}

std::string ColumnName(const std::string& group, const std::string& name) {
  return "('" + group + "', '" + name + "')";
}

// Parses a whole field as a non-negative integer.
bool ParseTrackId(const std::string& text, int64_t* id) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *id);
  return ec == std::errc() && ptr == end && *id >= 0;
}

// Parses a whole field as a finite, non-negative number of seconds; an empty
// field is 0.
bool ParseDuration(const std::string& text, double* seconds) {
  *seconds = 0;
  if (text.empty()) return true;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *seconds);
  return ec == std::errc() && ptr == end && std::isfinite(*seconds) &&
         *seconds >= 0;
}

std::ifstream OpenForReading(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    throw BadInput(path +
                   ": is a directory; give the path of FMA's "
                   "fma_metadata/tracks.csv");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw BadInput(path + ": cannot open (" + std::strerror(errno) +
                   "); give the path of FMA's fma_metadata/tracks.csv");
  }
  return in;
}

// Formats a duration the shortest way that reads back exactly ("30", not
// "30.0", as in FMA's file).
std::string FormatDuration(double seconds) {
  char text[32];
  auto [ptr, ec] = std::to_chars(text, text + sizeof(text), seconds);
  return ec == std::errc() ? std::string(text, ptr) : std::string();
}

bool FileExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

bool IsFmaSubset(const std::string& subset) { return SubsetRank(subset) >= 0; }

std::vector<FmaTrack> ReadFmaTracks(const std::string& path,
                                    const std::string& subset,
                                    FmaReadStats* stats) {
  const int rank = SubsetRank(subset);
  if (rank < 0) {
    throw BadInput("unknown FMA subset '" + subset +
                   "'; use small, medium or large");
  }
  std::ifstream in = OpenForReading(path);
  CsvReader reader(in, path);

  // Header: groups, column names, then the index name ("track_id").
  std::vector<std::string> groups, names, index_row;
  const std::string too_short =
      ": ends before the three header rows of FMA's tracks.csv (groups, "
      "column names, track_id); give the real fma_metadata/tracks.csv";
  if (!reader.Next(&groups)) throw BadInput(path + too_short);
  if (!reader.Next(&names)) throw BadInput(path + too_short);
  const int64_t names_line = reader.record_line();
  if (!reader.Next(&index_row)) throw BadInput(path + too_short);
  if (names.size() != groups.size()) {
    throw BadInput(Where(path, names_line) + std::to_string(names.size()) +
                   " column names but " + std::to_string(groups.size()) +
                   " groups on the line before; the first two header rows "
                   "of tracks.csv must have the same number of fields");
  }
  if (index_row.empty() || index_row[0] != "track_id") {
    throw BadInput(Where(path, reader.record_line()) +
                   "the third header row must start with 'track_id', not '" +
                   (index_row.empty() ? std::string() : index_row[0]) +
                   "'; give FMA's tracks.csv as pandas writes it (three "
                   "header rows)");
  }
  // pandas repeats the group over its columns; tolerate a file that leaves
  // the repeats empty.
  for (size_t i = 2; i < groups.size(); ++i) {
    if (groups[i].empty()) groups[i] = groups[i - 1];
  }
  size_t index[kCount];
  std::string missing;
  for (int n = 0; n < kCount; ++n) {
    index[n] = 0;
    for (size_t i = 1; i < names.size(); ++i) {
      if (groups[i] == kNeeded[n].group && names[i] == kNeeded[n].name) {
        index[n] = i;
        break;
      }
    }
    if (index[n] == 0) {
      missing += (missing.empty() ? "" : ", ") +
                 ColumnName(kNeeded[n].group, kNeeded[n].name);
    }
  }
  if (!missing.empty()) {
    std::string found;
    for (size_t i = 1; i < names.size(); ++i) {
      found += (i > 1 ? ", " : "") + ColumnName(groups[i], names[i]);
    }
    throw BadInput(Where(path, names_line) + "no column " + missing +
                   " in the first two header rows (found " +
                   (found.empty() ? std::string("none") : found) +
                   "); give FMA's fma_metadata/tracks.csv");
  }

  FmaReadStats counts;
  std::vector<FmaTrack> tracks;
  std::unordered_map<int64_t, int64_t> id_lines;  // Track id -> its line.
  std::vector<std::string> fields;
  while (reader.Next(&fields)) {
    if (fields.size() == 1 && fields[0].empty()) continue;  // A blank line.
    const int64_t line = reader.record_line();
    if (fields.size() != names.size()) {
      throw BadInput(Where(path, line) + std::to_string(fields.size()) +
                     " fields, expected " + std::to_string(names.size()) +
                     " as in the header; quote fields that contain commas, "
                     "quotes or newlines");
    }
    FmaTrack track;
    if (!ParseTrackId(fields[0], &track.id)) {
      throw BadInput(Where(path, line) + "track id '" + fields[0] +
                     "' is not a non-negative integer; the first column of "
                     "tracks.csv is the track id");
    }
    auto [it, inserted] = id_lines.emplace(track.id, line);
    if (!inserted) {
      throw BadInput(Where(path, line) + "track id " +
                     std::to_string(track.id) + " repeats (first on line " +
                     std::to_string(it->second) +
                     "); every track must appear once");
    }
    ++counts.rows;
    const std::string& split = fields[index[kSplit]];
    const std::string& track_subset = fields[index[kSubset]];
    if (!IsSplit(split)) {
      throw BadInput(Where(path, line) + "track " + std::to_string(track.id) +
                     " has split '" + split +
                     "'; ('set', 'split') must be training, validation or "
                     "test");
    }
    const int track_rank = SubsetRank(track_subset);
    if (track_rank < 0) {
      throw BadInput(Where(path, line) + "track " + std::to_string(track.id) +
                     " has subset '" + track_subset +
                     "'; ('set', 'subset') must be small, medium or large");
    }
    if (!ParseDuration(fields[index[kDuration]], &track.duration)) {
      throw BadInput(Where(path, line) + "track " + std::to_string(track.id) +
                     " has duration '" + fields[index[kDuration]] +
                     "'; ('track', 'duration') must be a non-negative number "
                     "of seconds or empty");
    }
    if (track_rank > rank) {
      ++counts.outside_subset;
      continue;
    }
    if (fields[index[kGenreTop]].empty()) {
      ++counts.without_genre;
      continue;
    }
    track.split = split;
    track.subset = track_subset;
    track.genre_top = std::move(fields[index[kGenreTop]]);
    track.title = std::move(fields[index[kTitle]]);
    track.artist = std::move(fields[index[kArtist]]);
    tracks.push_back(std::move(track));
  }
  if (stats != nullptr) *stats = counts;
  return tracks;
}

void WriteFmaTracks(const std::string& path,
                    const std::vector<FmaTrack>& tracks) {
  size_t column_of[kCount];
  for (int n = 0; n < kCount; ++n) {
    for (size_t i = 0; i < kNumColumns; ++i) {
      if (std::strcmp(kColumns[i].group, kNeeded[n].group) == 0 &&
          std::strcmp(kColumns[i].name, kNeeded[n].name) == 0) {
        column_of[n] = i;
      }
    }
  }
  for (const FmaTrack& track : tracks) {
    if (track.id < 0 || !std::isfinite(track.duration) || track.duration < 0) {
      throw BadInput("track " + std::to_string(track.id) +
                     " has a negative id or a duration that is not a finite "
                     "non-negative number; cannot write it to " +
                     path);
    }
  }

  // Written to a temporary file renamed into place, so that an interrupted
  // run never leaves a truncated tracks.csv behind.
  const std::string temp_path = path + ".tmp";
  std::FILE* file = std::fopen(temp_path.c_str(), "wb");
  if (file == nullptr) {
    throw RuntimeFailure(temp_path + ": cannot create (" +
                         std::strerror(errno) +
                         "); check that the directory exists and is "
                         "writable");
  }
  std::string out;
  bool ok = true;
  auto flush = [&](size_t above) {
    if (out.size() <= above) return;
    if (std::fwrite(out.data(), 1, out.size(), file) != out.size()) ok = false;
    out.clear();
  };

  // Records end with CRLF, as in RFC 4180 and FMA's sample; a newline inside
  // a quoted field stays as it is.
  for (size_t i = 0; i < kNumColumns; ++i) {
    out += ',';
    out += kColumns[i].group;
  }
  out += "\r\n";
  for (size_t i = 0; i < kNumColumns; ++i) {
    out += ',';
    out += kColumns[i].name;
  }
  out += "\r\ntrack_id";
  out.append(kNumColumns, ',');
  out += "\r\n";

  std::vector<const std::string*> values(kNumColumns, nullptr);
  for (const FmaTrack& track : tracks) {
    const std::string duration = FormatDuration(track.duration);
    values[column_of[kSplit]] = &track.split;
    values[column_of[kSubset]] = &track.subset;
    values[column_of[kGenreTop]] = &track.genre_top;
    values[column_of[kTitle]] = &track.title;
    values[column_of[kArtist]] = &track.artist;
    values[column_of[kDuration]] = &duration;
    out += std::to_string(track.id);
    for (const std::string* value : values) {
      out += ',';
      if (value != nullptr) out += CsvEscape(*value);
    }
    out += "\r\n";
    flush(size_t{1} << 20);
  }
  flush(0);
  if (std::fclose(file) != 0) ok = false;
  if (!ok) {
    const std::string reason = std::strerror(errno);
    std::remove(temp_path.c_str());
    throw RuntimeFailure(path + ": write failed (" + reason +
                         "); check the free disk space");
  }
  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp_path.c_str());
    throw RuntimeFailure(path + ": cannot replace (" + reason +
                         "); check that the path is a writable file");
  }
}

std::string FmaAudioPath(const std::string& audio_dir, int64_t track_id) {
  char id[24];
  std::snprintf(id, sizeof(id), "%06lld", static_cast<long long>(track_id));
  std::string stem = audio_dir;
  if (!stem.empty() && stem.back() != '/') stem += '/';
  stem.append(id, 3);
  stem += '/';
  stem += id;
  const std::string mp3 = stem + ".mp3";
  if (FileExists(mp3)) return mp3;
  for (const char* extension : {".wav", ".flac", ".ogg"}) {
    std::string other = stem + extension;
    if (FileExists(other)) return other;
  }
  return mp3;
}

}  // namespace hpo::features
