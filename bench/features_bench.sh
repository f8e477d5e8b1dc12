#!/usr/bin/env bash
# Feature-extraction benchmark: hpo-prep's stages against a librosa-equivalent
# numpy baseline, then a whole hpo-prep run on an FMA-layout dataset.
#
#   1. BUILD/bench/features_bench: ms per 30 s track for decode, resample,
#      mel and hpo-prep's default per-track work (ExtractClip) on the real
#      FMA clip tests/data/fma/000/000002.mp3; writes the resampled signal
#      and hpo's dB mel matrix for step 2.
#   2. bench/mel_numpy_baseline.py: librosa 0.10's melspectrogram +
#      power_to_db in numpy on the same signal; checks it agrees with hpo's.
#   3. The ratio numpy mel ms / hpo mel ms (goal: at least 10x).
#   4. A temporary FMA-layout dataset of TRACKS copies (hard links, or
#      symlinks across file systems) of the clip as AUDIO/ddd/dddddd.mp3 with
#      a tracks.csv in FMA's layout; `hpo-prep fma --jobs $(nproc)` on it,
#      timed: tracks/s and the extrapolated time for fma_small's 8,000 tracks
#      (goal: under 10 minutes on 2 cores).
#
# Builds nothing: build first with
#   cmake -S . -B build -G Ninja && cmake --build build --target features_bench hpo-prep
#
# Usage: bash bench/features_bench.sh [BUILD_DIR (default build)] [TRACKS (default 400)]
#        RUNS=20 (timed runs per stage) and KEEP=1 (keep the temporary
#        directory) in the environment.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
TRACKS=${2:-400}
RUNS=${RUNS:-20}
PYTHON=/usr/bin/python3
CLIP=tests/data/fma/000/000002.mp3
HEADER=tests/data/fma/tracks_sample.csv
BENCH="$BUILD/bench/features_bench"
PREP="$BUILD/features/hpo-prep"
JOBS=$(nproc)

for f in "$BENCH" "$PREP"; do
  if [ ! -x "$f" ]; then
    echo "features_bench.sh: $f not found; build it first:" >&2
    echo "  cmake --build $BUILD --target features_bench hpo-prep" >&2
    exit 2
  fi
done
if ! [[ "$TRACKS" =~ ^[0-9]+$ ]] || [ "$TRACKS" -lt 10 ]; then
  echo "features_bench.sh: TRACKS must be an integer >= 10, got $TRACKS" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/features_bench.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
  echo "features_bench.sh: keeping $TMP"
else
  trap 'rm -rf "$TMP"' EXIT
fi

echo "features_bench.sh: build dir $BUILD, $TRACKS tracks, $RUNS runs per stage"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "reproduce: bash bench/features_bench.sh $BUILD $TRACKS"

echo
echo "== 1. hpo stages: $BENCH --audio $CLIP --runs $RUNS --out $TMP/bench"
"$BENCH" --audio "$CLIP" --runs "$RUNS" --out "$TMP/bench" | tee "$TMP/hpo.txt"

echo
echo "== 2. numpy baseline: $PYTHON bench/mel_numpy_baseline.py --dir $TMP/bench --runs $RUNS"
"$PYTHON" bench/mel_numpy_baseline.py --dir "$TMP/bench" --runs "$RUNS" |
  tee "$TMP/numpy.txt"

value() { sed -n "s/^$1 //p" "$2" | tail -1; }
HPO_MEL=$(value hpo_mel_ms "$TMP/hpo.txt")
NUMPY_MEL=$(value numpy_mel_ms "$TMP/numpy.txt")
NUMPY_NO_EINSUM=$(value numpy_mel_no_einsum_ms "$TMP/numpy.txt")

echo
echo "== 3. mel + power_to_db over a 30 s clip (1291 frames)"
"$PYTHON" - "$HPO_MEL" "$NUMPY_MEL" "$NUMPY_NO_EINSUM" <<'EOF'
import sys
hpo, numpy_ms, no_einsum = map(float, sys.argv[1:])
print("hpo %.2f ms, numpy (librosa 0.10 code) %.2f ms: ratio %.1fx (goal >= 10x)"
      % (hpo, numpy_ms, numpy_ms / hpo))
print("numpy without the einsum (BLAS-bound mel projection): %.2f ms: %.1fx"
      % (no_einsum, no_einsum / hpo))
EOF

echo
echo "== 4. whole pipeline: hpo-prep fma on $TRACKS copies of $CLIP"
"$PYTHON" - "$HEADER" "$CLIP" "$TMP/fma" "$TRACKS" <<'EOF'
import csv, io, os, sys
header_path, clip, root, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(header_path, "rb") as f:
    raw = f.read()
# The three header rows, byte for byte (CRLF as in FMA's file).
header = b"".join(raw.splitlines(keepends=True)[:3])
rows = list(csv.reader(io.StringIO(header.decode("utf-8"), newline="")))
groups, names = rows[0], rows[1]
width = len(groups)
def column(group, name):
    for i in range(width):
        if groups[i] == group and names[i] == name:
            return i
    sys.exit("%s: no column (%s, %s)" % (header_path, group, name))
c_split, c_subset = column("set", "split"), column("set", "subset")
c_genre, c_title = column("track", "genre_top"), column("track", "title")
c_duration = column("track", "duration")
genres = ["Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental",
          "International", "Pop", "Rock"]
audio = os.path.join(root, "audio")
clip = os.path.abspath(clip)
out = io.StringIO(newline="")
w = csv.writer(out, lineterminator="\r\n")
links = "hard links"
split = ("training",) * 8 + ("validation", "test")  # 80/10/10.
for k in range(n):
    track_id = 2 + k
    row = [""] * width
    row[0] = str(track_id)
    row[c_split] = split[k % 10]
    row[c_subset] = "small"
    row[c_genre] = genres[k % len(genres)]
    row[c_title] = "Copy %d of 000002" % k
    row[c_duration] = "30"
    w.writerow(row)
    d = os.path.join(audio, "%03d" % (track_id // 1000))  # ddd/dddddd.mp3
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "%06d.mp3" % track_id)
    try:
        os.link(clip, dst)
    except OSError:
        os.symlink(clip, dst)
        links = "symlinks"
with open(os.path.join(root, "tracks.csv"), "wb") as f:
    f.write(header + out.getvalue().encode("utf-8"))
print("wrote %s/tracks.csv (%d rows of %d fields) and %d %s under %s"
      % (root, n, width, n, links, audio))
EOF
PREP_CMD=("$PREP" fma --metadata "$TMP/fma/tracks.csv" --audio "$TMP/fma/audio"
          --subset small --out "$TMP/shards" --jobs "$JOBS")
echo "${PREP_CMD[*]}"
START=$(date +%s.%N)
"${PREP_CMD[@]}"
END=$(date +%s.%N)
"$PYTHON" - "$START" "$END" "$TRACKS" "$JOBS" <<'EOF'
import sys
start, end, n, jobs = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = end - start
rate = n / s
full = 8000 / rate
print("hpo-prep: %d tracks in %.2f s (whole process) = %.1f tracks/s with %d jobs"
      % (n, s, rate, jobs))
print("fma_small (8,000 tracks) extrapolated: %.0f s = %.1f min on %d cores "
      "(goal < 10 min on 2 cores)" % (full, full / 60, jobs))
EOF
