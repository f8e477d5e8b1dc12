// FMA's metadata files (fma_metadata/tracks.csv): which tracks exist, their
// split, subset and top-level genre, and where their audio lives.
#ifndef HPO_FEATURES_FMA_METADATA_H_
#define HPO_FEATURES_FMA_METADATA_H_

#include <cstdint>
#include <string>
#include <vector>

namespace hpo::features {

// One track of tracks.csv, with the columns hpo uses.
struct FmaTrack {
  int64_t id = 0;
  std::string split;      // ('set', 'split'): training, validation or test.
  std::string subset;     // ('set', 'subset'): small, medium or large.
  std::string genre_top;  // ('track', 'genre_top'); may be empty.
  std::string title;      // ('track', 'title')
  std::string artist;     // ('artist', 'name')
  double duration = 0;    // ('track', 'duration'), seconds; 0 when empty.
};

// What ReadFmaTracks saw, for the report.
struct FmaReadStats {
  int64_t rows = 0;            // Data rows in the file.
  int64_t outside_subset = 0;  // Rows not in the chosen subset.
  int64_t without_genre = 0;   // Rows in the subset with an empty genre_top.
};

// True for "small", "medium" and "large".
bool IsFmaSubset(const std::string& subset);

// Reads FMA's tracks.csv: three header rows (top-level group, column name,
// then "track_id" and empty fields), the track id in column 0, columns looked
// up by (group, name) so their order does not matter. Returns the tracks of
// `subset` (small is contained in medium, medium in large, as in FMA) that
// have a genre_top, in file order. Tracks without a genre_top are counted in
// `stats` (may be null) and left out.
//
// Throws hpo::Error (bad input) naming the file and line when the file cannot
// be read, a needed column is missing (listing the columns found), a row has
// a different number of fields than the header, a track id is not a
// non-negative integer or repeats, a split or subset value is not one of the
// known ones, a duration is not a non-negative number, or `subset` itself is
// not a known subset. Blank lines are skipped.
std::vector<FmaTrack> ReadFmaTracks(const std::string& path,
                                    const std::string& subset,
                                    FmaReadStats* stats);

// Writes `tracks` as a tracks.csv in FMA's exact layout (the same 52 data
// columns as the real file, sorted by (group, column), three header rows),
// filling the columns of FmaTrack and leaving the others empty, so that
// ReadFmaTracks and pandas' read_csv(header=[0, 1], index_col=0) read it.
// Records end with CRLF, as in RFC 4180. The file is written to PATH.tmp and
// renamed into place, so an interrupted run leaves no truncated file. Throws
// hpo::Error (bad input) for a track with a negative id or a duration that is
// not a finite non-negative number, (runtime) when the file cannot be
// written.
void WriteFmaTracks(const std::string& path,
                    const std::vector<FmaTrack>& tracks);

// The audio path of a track: AUDIO_DIR/ddd/dddddd.mp3 from the zero-padded
// 6-digit id (2 -> AUDIO_DIR/000/000002.mp3). When that file does not exist
// but one with the same stem and extension .wav, .flac or .ogg does, returns
// that one (hpo-prep synth writes WAV files); otherwise the .mp3 path.
// `track_id` must be >= 0; ids above 999999 keep all their digits and use the
// first three as the directory, as FMA's utils.get_audio_path does.
std::string FmaAudioPath(const std::string& audio_dir, int64_t track_id);

}  // namespace hpo::features

#endif  // HPO_FEATURES_FMA_METADATA_H_
