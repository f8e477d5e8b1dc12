#!/usr/bin/env bash
# Training throughput on CPU: hpo's LibTorch trainer against PyTorch running
# the same model, optimizer and batch on the same shards, and each against
# the same model fed a constant tensor (no data path).
#
#   1. Datasets, made with hpo's own tools in a temporary directory:
#      - mel_small: `hpo-prep synth` (8 classes x SMALL_TRACKS tracks of
#        10 s, seed 1), its tracks.csv split 80/10/10 by position, then
#        `hpo-prep fma` with its defaults (128 mels x 128 frames, 3 segments
#        per track, float16): 96 training samples (3 batches of 32) and 12
#        validation samples; for cnn, unet_encoder, crnn, dcnn and dcrnn,
#        whose steps cost 40-90 ms of CPU per sample, so an epoch is a few
#        batches.
#      - mel_large: the same with 8 x LARGE_TRACKS tracks (seed 2): 924
#        training samples of 128 x 128; for resnet (about 6 ms per sample).
#      - vectors: a tracks.csv in FMA's layout and a features.csv of
#        VECTOR_TRACKS tracks x 518 features (random values, class-dependent
#        means), written here, then `hpo-prep features-csv`: float32
#        [N, 518] shards, 3,200 training samples; for mlp.
#   2. For each model, REPEATS times, alternating which side goes first (C++
#      first on odd repeats, Python first on even ones):
#        BUILD/bench/train_bench --model M --shards D --batch-size BATCH
#            --threads THREADS
#        /usr/bin/python3 bench/train_torch_baseline.py (same flags)
#      Each prints its parameter count, the data path alone, samples/s on a
#      constant tensor (after WARMUP untimed steps) and samples/s of one full
#      epoch end to end (shuffle, gather, normalise, train; then validation).
#   3. A table of the medians over the repeats: model, parameters (the
#      script fails if the two sides' counts differ), batch, input shape,
#      hpo end to end, hpo constant, data-path efficiency (end to end /
#      constant), the same for PyTorch, and hpo / PyTorch; then a second
#      table with the data path alone, whole epochs with validation and
#      samples per CPU-second.
#
# Settings are PyTorch's and hpo's defaults on both sides: Adam (lr 1e-3),
# no LR scheduler, no SpecAugment, no label smoothing, no gradient clipping,
# dropout 0, train mode; the model's default architecture.
#
# Builds nothing: build first with
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target train_bench hpo-prep
#
# Usage: bash bench/train_bench.sh [BUILD_DIR (default build)]
#   Environment: THREADS (1), BATCH (32), REPEATS (2), WARMUP (2),
#   MODELS ("cnn unet_encoder crnn dcnn dcrnn resnet mlp"),
#   SMALL_TRACKS (5), LARGE_TRACKS (48), VECTOR_TRACKS (4000),
#   LOADER (gather; or dataloader, for the PyTorch side), MALLOC (hpo: hpo
#   keeps freed memory as hpo-worker does, PyTorch runs with glibc's
#   defaults; system: glibc's defaults on both sides; or retain: both sides
#   run with GLIBC_TUNABLES=glibc.malloc.mmap_max=0:
#   glibc.malloc.trim_threshold=16G, so that glibc keeps freed memory
#   instead of unmapping it: no page faults on the large activation buffers
#   of every step), KEEP=1 (keep the temporary directory). 8-9 minutes on
#   2 cores shared with other work (load average 2-4), 17 at load 6; less
#   on idle cores. Figures and their reading: BENCHMARKS.md, "Training
#   throughput (CPU)".
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${THREADS:-1}
BATCH=${BATCH:-32}
REPEATS=${REPEATS:-2}
WARMUP=${WARMUP:-2}
MODELS=${MODELS:-"cnn unet_encoder crnn dcnn dcrnn resnet mlp"}
SMALL_TRACKS=${SMALL_TRACKS:-5}
LARGE_TRACKS=${LARGE_TRACKS:-48}
VECTOR_TRACKS=${VECTOR_TRACKS:-4000}
LOADER=${LOADER:-gather}
MALLOC=${MALLOC:-hpo}
PYTHON=/usr/bin/python3
BENCH="$BUILD/bench/train_bench"
PREP="$BUILD/features/hpo-prep"
JOBS=$(nproc)

for f in "$BENCH" "$PREP"; do
  if [ ! -x "$f" ]; then
    echo "train_bench.sh: $f not found; build it first:" >&2
    echo "  cmake --build $BUILD --target train_bench hpo-prep" >&2
    exit 2
  fi
done
for v in THREADS BATCH REPEATS SMALL_TRACKS LARGE_TRACKS VECTOR_TRACKS; do
  if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
    echo "train_bench.sh: $v must be a positive integer, got ${!v}" >&2
    exit 2
  fi
done
case $MALLOC in
  # hpo as hpo-worker runs (it keeps freed memory itself: mallopt in
  # worker/malloc_tuning.h), PyTorch with glibc's defaults.
  hpo) RUN_ENV=() ;;
  # glibc's defaults on both sides.
  system) RUN_ENV=(env HPO_MALLOC=system) ;;
  retain)
    RUN_ENV=(env "GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184")
    ;;
  *)
    echo "train_bench.sh: MALLOC must be hpo, system or retain, got $MALLOC" >&2
    exit 2
    ;;
esac
if ! [[ "$WARMUP" =~ ^[0-9]+$ ]]; then
  echo "train_bench.sh: WARMUP must be an integer >= 0, got $WARMUP" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/train_bench.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
  echo "train_bench.sh: keeping $TMP"
else
  trap 'rm -rf "$TMP"' EXIT
fi

START_ALL=$(date +%s)
echo "train_bench.sh: build dir $BUILD; threads $THREADS, batch $BATCH," \
  "$REPEATS repeats, $WARMUP warm-up steps, PyTorch loader $LOADER," \
  "malloc $MALLOC ${RUN_ENV[*]:1}"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1);" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch: hpo links $(readlink -f /usr/lib/x86_64-linux-gnu/libtorch_cpu.so);" \
  "python3-torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
echo "reproduce: THREADS=$THREADS BATCH=$BATCH REPEATS=$REPEATS MALLOC=$MALLOC" \
  "LOADER=$LOADER MODELS=\"$MODELS\"" \
  "bash bench/train_bench.sh $BUILD"

echo
echo "== 1. datasets under $TMP"
# shellcheck source=lib/datasets.sh
. bench/lib/datasets.sh
need_small=0 need_large=0 need_vectors=0
for m in $MODELS; do
  case $m in
    resnet) need_large=1 ;;
    mlp) need_vectors=1 ;;
    *) need_small=1 ;;
  esac
done
[ $need_small = 1 ] && make_mel mel_small "$SMALL_TRACKS" 1
[ $need_large = 1 ] && make_mel mel_large "$LARGE_TRACKS" 2
[ $need_vectors = 1 ] && make_vectors vectors "$VECTOR_TRACKS"

dataset_for() {
  case $1 in
    resnet) echo "$TMP/mel_large" ;;
    mlp) echo "$TMP/vectors" ;;
    *) echo "$TMP/mel_small" ;;
  esac
}

echo
echo "== 2. runs (C++ first on odd repeats, Python first on even ones)"
mkdir -p "$TMP/out"
run_side() {  # SIDE MODEL REPEAT
  local side=$1 model=$2 rep=$3 data
  data=$(dataset_for "$model")
  local args=(--model "$model" --shards "$data" --batch-size "$BATCH"
              --threads "$THREADS" --warmup-steps "$WARMUP")
  local out="$TMP/out/$model.$rep.$side.txt"
  if [ "$side" = hpo ]; then
    "${RUN_ENV[@]}" "$BENCH" "${args[@]}" >"$out"
  else
    "${RUN_ENV[@]}" "$PYTHON" bench/train_torch_baseline.py "${args[@]}" \
      --loader "$LOADER" \
      >"$out"
  fi
  grep -v '^result \|^reproduce' "$out" | sed "s/^/  [$side $rep] /"
}
for model in $MODELS; do
  echo "-- $model ($(dataset_for "$model"))"
  for rep in $(seq 1 "$REPEATS"); do
    if [ $((rep % 2)) = 1 ]; then
      run_side hpo "$model" "$rep"
      run_side torch "$model" "$rep"
    else
      run_side torch "$model" "$rep"
      run_side hpo "$model" "$rep"
    fi
  done
done

echo
echo "== 3. results: medians over $REPEATS repeats; samples/s, wall clock," \
  "$THREADS thread(s)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg);" \
  "whole script $(( $(date +%s) - START_ALL )) s"
"$PYTHON" - "$TMP/out" "$BATCH" "$REPEATS" "$MODELS" <<'EOF'
import statistics, sys
out, batch, repeats, models = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
def load(model, rep, side):
    r = {}
    with open("%s/%s.%d.%s.txt" % (out, model, rep, side)) as f:
        for line in f:
            if line.startswith("result "):
                _, key, value = line.split()
                r[key] = value
    return r
bad = []
rows = []
for m in models:
    runs = {s: [load(m, k, s) for k in range(1, repeats + 1)] for s in ("hpo", "torch")}
    def med(side, key):
        return statistics.median(float(r[key]) for r in runs[side])
    params = {s: runs[s][0]["params"] for s in runs}
    if params["hpo"] != params["torch"]:
        bad.append("%s: hpo has %s parameters, the PyTorch model %s" % (m, params["hpo"], params["torch"]))
    rows.append((m, params, runs, med))
print("| model | params | batch | input | train samples | hpo samples/s (end to end) | hpo constant tensor | hpo data-path efficiency | PyTorch samples/s (end to end) | PyTorch constant tensor | PyTorch data-path efficiency | hpo / PyTorch (end to end) | hpo / PyTorch (constant) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for m, params, runs, med in rows:
    h, t = med("hpo", "train_sps"), med("torch", "train_sps")
    hc, tc = med("hpo", "const_sps"), med("torch", "const_sps")
    print("| %s | %s | %s | %s | %d | %.1f | %.1f | %.3f | %.1f | %.1f | %.3f | **%.2f** | %.2f |" % (
        m, "{:,}".format(int(params["hpo"])) if params["hpo"] == params["torch"] else "%s vs %s" % (params["hpo"], params["torch"]),
        batch, runs["hpo"][0]["input"].replace("x", " x "), int(runs["hpo"][0]["train_samples"]),
        h, hc, med("hpo", "efficiency"), t, tc, med("torch", "efficiency"), h / t, hc / tc))
print()
print("| model | data path alone, ms per batch (hpo / PyTorch) | epoch with validation, samples/s (hpo / PyTorch) | epoch, samples per CPU-second (hpo / PyTorch) | constant, samples per CPU-second (hpo / PyTorch) | data-path efficiency by CPU time (hpo / PyTorch) | hpo / PyTorch by CPU time (epoch) | hpo / PyTorch by CPU time (constant) |")
print("|---|---|---|---|---|---|---|---|")
for m, params, runs, med in rows:
    def pair(key, fmt="%.1f"):
        return (fmt + " / " + fmt) % (med("hpo", key), med("torch", key))
    def ratio(key):
        return "%.2f" % (med("hpo", key) / med("torch", key))
    def cpu_eff(side):
        return statistics.median(float(r["epoch_cpu_sps"]) / float(r["const_cpu_sps"]) for r in runs[side])
    print("| %s | %s | %s | %s | %s | %.3f / %.3f | **%s** | %s |" % (
        m, pair("data_ms_per_batch", "%.3f"), pair("epoch_sps"), pair("epoch_cpu_sps"),
        pair("const_cpu_sps"), cpu_eff("hpo"), cpu_eff("torch"), ratio("epoch_cpu_sps"),
        ratio("const_cpu_sps")))
print()
print("per repeat (hpo, PyTorch): end to end samples/s; epoch samples per CPU-second:")
for m, params, runs, med in rows:
    print("  %-13s %s;  %s" % (m,
        "  ".join("%.1f, %.1f" % (float(runs["hpo"][k]["train_sps"]), float(runs["torch"][k]["train_sps"])) for k in range(repeats)),
        "  ".join("%.1f, %.1f" % (float(runs["hpo"][k]["epoch_cpu_sps"]), float(runs["torch"][k]["epoch_cpu_sps"])) for k in range(repeats))))
if bad:
    print("\n".join("train_bench.sh: parameter counts differ: " + b for b in bad), file=sys.stderr)
    sys.exit(1)
EOF
