#!/usr/bin/env bash
# Epoch time of the head to head's model (issue 17): hpo's trainer with
# trainer.memory_format "contiguous" (the default) and "channels_last",
# against PyTorch running the same model (bench/train_torch_baseline.py),
# with the same allocator on both sides; then threads: one trial on two
# threads against two one-thread trials at once (what two hpo-worker
# --threads 1 processes do on two cores).
#
#   1. The data: bench/peer/run.sh's shards (8 classes x 40 tracks of 6 s,
#      64 x 64 log-mel segments: 1,024 training and 128 validation
#      samples), made with hpo-prep synth + hpo-prep fma under OUT/data
#      unless there already.
#   2. For the cnn of bench/peer/study.json (3 x 3 kernels, padding same,
#      dropout 0.2) with channels [8, 16, 32] and [16, 32, 64], batch 16
#      and 32: REPEATS times, the three sides in an order rotating per
#      repeat, each `train_bench --epochs EPOCHS --threads 1` (or the
#      Python baseline with the same flags), under
#      GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=16G
#      (glibc keeps freed memory on both sides).
#   3. Prints epoch samples/s (training + validation) per side, medians
#      over the repeats, and the ratios.
#
# Builds nothing: cmake --build build --target train_bench hpo-prep.
# Usage: bash bench/epoch_bench.sh [BUILD_DIR (build)]
#   Environment: REPEATS (3), EPOCHS (3), OUT (bench/peer/out: the data).
#   About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEATS=${REPEATS:-3}
EPOCHS=${EPOCHS:-3}
OUT=${OUT:-bench/peer/out}
PYTHON=/usr/bin/python3
BENCH=$BUILD/bench/train_bench
PREP=$BUILD/features/hpo-prep
for b in "$BENCH" "$PREP"; do
  [ -x "$b" ] || { echo "epoch_bench.sh: $b is missing; build it: cmake --build $BUILD --target train_bench hpo-prep" >&2; exit 2; }
done
for v in REPEATS EPOCHS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "epoch_bench.sh: $v must be a positive integer, got ${!v}" >&2; exit 2; }
done
START=$(date +%s)
DATA=$OUT/data/shards/peer
if [ ! -f "$DATA/manifest.json" ]; then
  echo "== the data ($DATA)"
  "$PREP" synth --out "$OUT/data/synth_peer" --classes 8 --tracks-per-class 40 --seconds 6 --seed 8
  "$PREP" fma --metadata "$OUT/data/synth_peer/tracks.csv" --audio "$OUT/data/synth_peer/audio" \
    --out "$DATA" --n-mels 64 --frames 64 --segments 4 --min-seconds 1
fi
RETAIN=(env "GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184")
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); hpo $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "reproduce: bash bench/epoch_bench.sh $BUILD  (REPEATS=$REPEATS EPOCHS=$EPOCHS)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/epoch_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
sps() { awk '/^result epoch_sps /{print $3}'; }
for channels in "8, 16, 32" "16, 32, 64"; do
  model="\"channels\": [$channels], \"kernel_size\": 3, \"padding\": \"same\", \"dropout\": 0.2"
  for batch in 16 32; do
    args=(--model cnn --shards "$DATA" --batch-size "$batch" --threads 1 --epochs "$EPOCHS")
    key="[$channels] $batch"
    sides=(contiguous channels_last torch)
    for rep in $(seq 1 "$REPEATS"); do
      for k in 0 1 2; do
        side=${sides[$(( (k + rep - 1) % 3 ))]}
        case $side in
          torch) v=$("${RETAIN[@]}" "$PYTHON" bench/train_torch_baseline.py "${args[@]}" --trainer "{$model}" | sps) ;;
          *) v=$("${RETAIN[@]}" "$BENCH" "${args[@]}" --trainer "{$model, \"memory_format\": \"$side\"}" | sps) ;;
        esac
        echo "$key|$side|$v" >>"$TMP/runs"
        echo "  [channels, batch $key, repeat $rep] $side: $v samples/s"
      done
    done
  done
done
echo
echo "== threads: one trial on 2 threads against two 1-thread trials at once"
for channels in "8, 16, 32" "16, 32, 64"; do
  model="{\"channels\": [$channels], \"kernel_size\": 3, \"padding\": \"same\", \"dropout\": 0.2}"
  args=(--model cnn --shards "$DATA" --batch-size 32 --epochs "$EPOCHS" --trainer "$model")
  for rep in $(seq 1 "$REPEATS"); do
    one=$("${RETAIN[@]}" "$BENCH" "${args[@]}" --threads 2 | sps)
    "${RETAIN[@]}" "$BENCH" "${args[@]}" --threads 1 | sps >"$TMP/a" &
    "${RETAIN[@]}" "$BENCH" "${args[@]}" --threads 1 | sps >"$TMP/b" &
    wait
    echo "[$channels] 32|threads|$one|$(cat "$TMP/a")|$(cat "$TMP/b")" >>"$TMP/threads"
    echo "  [[$channels] 32, repeat $rep] one trial x 2 threads: $one; two trials x 1 thread: $(cat "$TMP/a") + $(cat "$TMP/b") samples/s"
  done
done
echo
echo "== results: medians over $REPEATS repeats, epoch samples/s (training + validation); whole script $(( $(date +%s) - START )) s"
"$PYTHON" - "$TMP/runs" "$TMP/threads" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    key, side, v = line.strip().split("|")
    runs.setdefault(key, {}).setdefault(side, []).append(float(v))
print()
print("| channels, batch | hpo contiguous | hpo channels_last | PyTorch | hpo / PyTorch | channels_last / contiguous: median (per repeat) |")
print("|---|---|---|---|---|---|")
for key, s in runs.items():
    c, l, t = (statistics.median(s[k]) for k in ("contiguous", "channels_last", "torch"))
    # Paired: the two layouts of one repeat ran next to each other.
    per = [a / b for a, b in zip(s["channels_last"], s["contiguous"])]
    print("| %s | %.0f | %.0f | %.0f | %.2f | **%.2f** (%s) |" % (
        key, c, l, t, c / t, statistics.median(per),
        ", ".join("%.2f" % x for x in per)))
print()
print("| channels, batch | one trial x 2 threads | two trials x 1 thread (sum) | two trials / one |")
print("|---|---|---|---|")
rows = {}
for line in open(sys.argv[2]):
    key, _, one, a, b = line.strip().split("|")
    rows.setdefault(key, []).append((float(one), float(a) + float(b)))
for key, r in rows.items():
    one = statistics.median(x for x, _ in r)
    two = statistics.median(y for _, y in r)
    print("| %s | %.0f | %.0f | **%.2f** |" % (key, one, two, two / one))
PY
