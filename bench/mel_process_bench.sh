#!/usr/bin/env bash
# Whole-process time of `hpo-prep mel` on one 30 s clip (start-up, decoding,
# FFT planning, mel, dB and the .npy write included) against the same work
# done by a librosa user's one-clip Python script (bench/mel_process.py:
# librosa 0.10's algorithm in numpy, soundfile decoding), in one run of this
# script. Goal: hpo at least 4x faster end to end.
#
#   1. BUILD/bench/features_bench decodes and resamples the FMA clip
#      tests/data/fma/000/000002.mp3 to 22,050 Hz mono; the signal becomes a
#      float WAV, so that neither side resamples (librosa.load does not at
#      the file's own rate). features_bench also measures the FFT (FFTW
#      wisdom for n_fft 2048 into a cache of its own, as hpo-prep fma does).
#   2. Each command RUNS times, alternating, timed from fork to exit:
#        hpo-prep mel on the WAV, empty FFTW wisdom cache (a first run: the
#          FFT is estimated, not measured);
#        hpo-prep mel on the WAV with the cache of step 1;
#        hpo-prep mel on the MP3 (decoding and soxr resampling too);
#        python3 bench/mel_process.py on the WAV.
#      Medians of wall and CPU time (user + system) per process.
#   3. The outputs agree (dB, above the -80 dB floor, within 0.01 dB).
#
# Builds nothing: build first with
#   cmake --build build --target features_bench hpo-prep
# Usage: bash bench/mel_process_bench.sh [BUILD_DIR (default build)] [RUNS (default 20)]
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${2:-20}
PYTHON=/usr/bin/python3
CLIP=tests/data/fma/000/000002.mp3
PREP="$BUILD/features/hpo-prep"
BENCH="$BUILD/bench/features_bench"
for f in "$PREP" "$BENCH"; do
  if [ ! -x "$f" ]; then
    echo "mel_process_bench.sh: $f not found; build it first:" >&2
    echo "  cmake --build $BUILD --target features_bench hpo-prep" >&2
    exit 2
  fi
done
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 3 ]; then
  echo "mel_process_bench.sh: RUNS must be an integer >= 3, got $RUNS" >&2
  exit 2
fi
if ! "$PYTHON" -c 'import numpy, soundfile' 2>/dev/null; then
  echo "mel_process_bench.sh: needs python3-numpy and python3-soundfile" \
    "(scripts/install-deps.sh --tests installs them)" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mel_process_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/cache-empty" "$TMP/cache-measured"

echo "mel_process_bench.sh: $RUNS runs per command"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "reproduce: bash bench/mel_process_bench.sh $BUILD $RUNS"
echo
echo "== 1. the clip at 22,050 Hz mono: $BENCH --audio $CLIP --runs 1 --out $TMP/fb"
XDG_CACHE_HOME="$TMP/cache-measured" "$BENCH" --audio "$CLIP" --runs 1 \
  --out "$TMP/fb" > "$TMP/fb.txt"
"$PYTHON" - "$TMP/fb/signal_22050.npy" "$TMP/clip.wav" <<'PY'
import sys
import numpy as np
import soundfile as sf
y = np.load(sys.argv[1])
sf.write(sys.argv[2], y, 22050, subtype="FLOAT")
print("wrote %s: %d samples (%.2f s) at 22050 Hz, mono float32" % (sys.argv[2], y.size, y.size / 22050))
PY
[ -s "$TMP/cache-measured/hpo/fftw-wisdom" ] ||
  { echo "mel_process_bench.sh: features_bench wrote no FFTW wisdom" >&2; exit 1; }

echo
echo "== 2. whole processes, $RUNS runs each, alternating"
"$PYTHON" - "$RUNS" "$TMP" "$PREP" "$CLIP" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, tmp, prep, clip = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
wav = tmp + "/clip.wav"
def env(cache):
    e = dict(os.environ)
    e["XDG_CACHE_HOME"] = tmp + "/" + cache
    return e
sides = [
    ("hpo-prep mel, WAV, no FFTW wisdom (first run)",
     [prep, "mel", "--input", wav, "--out", tmp + "/hpo_wav.npy"], env("cache-empty")),
    ("hpo-prep mel, WAV, FFTW wisdom cached",
     [prep, "mel", "--input", wav, "--out", tmp + "/hpo_wav_w.npy"], env("cache-measured")),
    ("hpo-prep mel, MP3 (decode + resample), wisdom",
     [prep, "mel", "--input", clip, "--out", tmp + "/hpo_mp3.npy"], env("cache-measured")),
    ("python3 mel_process.py (librosa in numpy), WAV",
     ["/usr/bin/python3", "bench/mel_process.py", "--wav", wav, "--out", tmp + "/py.npy"],
     env("cache-empty")),
]
wall = {s[0]: [] for s in sides}
cpu = {s[0]: [] for s in sides}
compute = []
for r in range(runs + 1):  # The first round warms the page cache; not counted.
    order = sides if r % 2 == 0 else list(reversed(sides))
    for name, argv, e in order:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
        if r == 0:
            continue
        wall[name].append(t)
        cpu[name].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if argv[0].endswith("python3"):
            compute.append(float(p.stdout.split()[-1]))
if os.path.exists(tmp + "/cache-empty/hpo/fftw-wisdom"):
    sys.exit("hpo-prep mel wrote FFTW wisdom: it should only estimate")
med = {k: statistics.median(v) for k, v in wall.items()}
print("%-50s %10s %10s %10s" % ("command (one 30 s clip, whole process)", "wall ms", "min ms", "CPU ms"))
for name, _, _ in sides:
    print("%-50s %10.1f %10.1f %10.1f" % (name, med[name] * 1e3, min(wall[name]) * 1e3,
                                         statistics.median(cpu[name]) * 1e3))
py = sides[3][0]
print("  of which python's decode-to-save, in-process: %.1f ms (median)" % statistics.median(compute))
for name, _, _ in sides[:3]:
    print("python / %s: %.1fx wall" % (name, med[py] / med[name]))
ratio = med[py] / med[sides[0][0]]
print("\nend to end, WAV, no wisdom: hpo-prep mel is %.1fx faster than the librosa "
      "script (goal >= 4x): %s" % (ratio, "met" if ratio >= 4 else "NOT met"))
PY

echo
echo "== 3. the outputs agree"
"$PYTHON" - "$TMP" <<'PY'
import sys
import numpy as np
tmp = sys.argv[1]
py = np.load(tmp + "/py.npy").astype(np.float64)
for f in ("hpo_wav.npy", "hpo_wav_w.npy"):
    ours = np.load(tmp + "/" + f).astype(np.float64)
    if ours.shape != py.shape:
        sys.exit("%s: shape %s, python %s" % (f, ours.shape, py.shape))
    above = (ours > -80 + 1e-3) & (py > -80 + 1e-3)
    d = np.abs(ours - py)[above].max()
    print("%s vs python: shape %s, max |dB difference| above the floor %.6f dB (%s)"
          % (f, ours.shape, d, "ok" if d < 0.01 else "DIFFERS"))
    if d >= 0.01:
        sys.exit(1)
PY
