// A synthetic, music-like labelled dataset for demos, tests and benchmarks:
// audio files plus a tracks.csv in FMA's layout, so that `hpo-prep fma` on it
// exercises the same path as the real dataset.
#ifndef HPO_FEATURES_SYNTH_H_
#define HPO_FEATURES_SYNTH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hpo::features {

struct SynthOptions {
  std::string out_dir;  // Receives tracks.csv and audio/ddd/dddddd.EXT.
  int classes = 8;      // 2..64. The first 8 are named like FMA's genres.
  int tracks_per_class = 100;
  double seconds = 30;  // Length of every track.
  uint64_t seed = 1;
  int sample_rate = 22050;
  std::string format = "wav";  // wav (16-bit PCM), flac, ogg or mp3.
  int jobs = 1;                // Threads rendering and writing tracks.
};

// The name of class `index` out of `classes`: FMA's 8 top-level genres of
// fma_small in alphabetical order for the first 8 (Electronic, Experimental,
// Folk, Hip-Hop, Instrumental, International, Pop, Rock), "class_NN" (two
// digits, the index) after that. Throws hpo::Error (bad input) unless
// 2 <= classes <= 64 and 0 <= index < classes.
std::string SynthClassName(int index, int classes);

// Renders one track of class `class_index` as round(seconds * sample_rate)
// mono samples in [-1, 1]: drums, a bass line, a monophonic melody, sometimes
// chords, and coloured background noise, normalised to a random peak in
// [0.3, 0.97].
//
// Each class has a profile of 13 traits (tempo, melody and bass register,
// brightness, odd/even harmonics, envelope, note density, noise colour and
// level, drum style, scale, chords, vibrato) that depends only on
// (class_index, classes); for each trait the classes are spread evenly in a
// fixed pseudo-random order. Every track jitters each trait around its class
// value and takes about a quarter of its traits from other classes, and
// varies in key, instrument mix and loudness, so the classes overlap: with 8
// classes, a linear model on global spectral statistics is right for about
// half the tracks.
//
// The samples depend only on the arguments (the same arguments give
// bit-identical samples on the same build; no global state), so tracks may be
// rendered on any number of threads. Takes about 10 ms for 30 s at 22050 Hz
// and needs 4 bytes per sample. Throws hpo::Error (bad input) for arguments
// outside 2 <= classes <= 64, 0 <= class_index < classes, 0 < seconds <= 600,
// 8000 <= sample_rate <= 192000.
std::vector<float> RenderSynthTrack(int class_index, int classes,
                                    uint64_t track_seed, double seconds,
                                    int sample_rate);

// Writes the dataset: classes x tracks_per_class tracks with ids 1..N, track
// `id` of class (id - 1) % classes (so every prefix of the ids is balanced)
// rendered with a seed mixed from (options.seed, id) with splitmix64, so the
// files do not depend on `jobs`. Audio goes to OUT/audio/ddd/dddddd.EXT (EXT
// = the format name; 2 -> audio/000/000002.wav), mono at sample_rate, each
// written as dddddd.EXT.part in the same directory and renamed when complete.
// Then OUT/tracks.csv (WriteFmaTracks, also through a .part file, so its
// presence means the audio is complete): subset "small", genre_top
// SynthClassName, duration = frames / sample_rate, and a split drawn per
// class by a seeded shuffle: round(10%) validation and round(10%) test, at
// least one of each from 3 tracks per class up, the rest training (1 track:
// training; 2: training and validation).
//
// A rerun finishes an interrupted one: an audio file that libsndfile opens as
// mono, of the chosen container, at sample_rate and with the expected number
// of frames (MP3: within 4 MPEG frames) is kept as it is, without checking
// its content, so rerun with other options (seed, classes) into a fresh
// directory. Leftover .part files are overwritten.
//
// `jobs` threads render and write tracks in parallel. `progress` (may be
// empty) is called after every track, written or kept, with (done, total);
// calls are serialised by a mutex but may come from any of the threads. An
// exception from `progress` stops the work and is rethrown.
//
// Throws hpo::Error (bad input), before writing anything, with a one-line
// message naming the option (--out, --classes, --tracks-per-class,
// --seconds, --sample-rate, --format, --jobs) when it is out of range: out_dir
// empty, classes outside 2..64, tracks_per_class < 1 or more than 999999
// tracks in all, seconds outside (0, 600], sample_rate outside 8000..192000
// (for mp3 one of the MPEG rates 8000..48000), format not wav, flac, ogg or
// mp3, jobs < 1. Throws hpo::Error (runtime) naming the file and libsndfile's
// or the system's error when a directory or file cannot be written; files
// completed before the error are kept.
void WriteSynthDataset(const SynthOptions& options,
                       const std::function<void(int64_t, int64_t)>& progress);

}  // namespace hpo::features

#endif  // HPO_FEATURES_SYNTH_H_
