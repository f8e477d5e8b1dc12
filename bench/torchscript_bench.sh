#!/usr/bin/env bash
# A TorchScript model against the same built-in model (issue 19): hpo's cnn
# trained by hpo's trainer as it ships, and the same network written in
# PyTorch (bench/hpo_torch_models.py, layer for layer), exported with
# torch.jit.script and trained by the same trainer as "model":
# "torchscript".
#
#   1. The data: the demo's shards (4 classes x 30 tracks of 6 s, 64 x 64
#      log-mel segments: 384 training and 48 validation samples), made with
#      hpo-prep synth + hpo-prep fma under OUT/data unless there already.
#   2. For the cnn with channels [8, 16, 32] and [16, 32, 64] (3 x 3
#      kernels, padding same, dropout 0.2), batch 32: the module exported
#      once, then REPEATS times, the two sides in an order alternating per
#      repeat, `train_bench --epochs EPOCHS --threads 1`.
#   3. Prints epoch samples/s (training + validation) per side, medians
#      over the repeats, and the ratio torchscript / built-in.
#
# Builds nothing: cmake --build build --target train_bench hpo-prep.
# Debian's /usr/bin/python3 with python3-torch exports the modules.
# Usage: bash bench/torchscript_bench.sh [BUILD_DIR (build)]
#   Environment: REPEATS (3), EPOCHS (3), OUT (bench/torchscript_out).
#   About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEATS=${REPEATS:-3}
EPOCHS=${EPOCHS:-3}
OUT=${OUT:-bench/torchscript_out}
PYTHON=/usr/bin/python3
BENCH=$BUILD/bench/train_bench
PREP=$BUILD/features/hpo-prep
for b in "$BENCH" "$PREP"; do
  [ -x "$b" ] || { echo "torchscript_bench.sh: $b is missing; build it: cmake --build $BUILD --target train_bench hpo-prep" >&2; exit 2; }
done
for v in REPEATS EPOCHS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "torchscript_bench.sh: $v must be a positive integer, got ${!v}" >&2; exit 2; }
done
"$PYTHON" -c "import torch" 2>/dev/null || { echo "torchscript_bench.sh: Debian's python3-torch is missing (scripts/install-deps.sh --tests)" >&2; exit 2; }
mkdir -p "$OUT"
DATA=$OUT/data/shards/demo
if [ ! -f "$DATA/manifest.json" ]; then
  echo "making the demo's shards in $DATA"
  "$PREP" synth --out "$OUT/synth" --classes 4 --tracks-per-class 30 --seconds 6 --seed 1 > /dev/null
  "$PREP" fma --metadata "$OUT/synth/tracks.csv" --audio "$OUT/synth/audio" --n-mels 64 --frames 64 --segments 4 --min-seconds 1 --out "$DATA" > /dev/null
fi
START=$(date +%s)
sps() { awk '/^result epoch_sps /{print $3}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "| channels, batch | built-in cnn | torchscript | torchscript / built-in: median (per repeat) |" > "$OUT/table"
echo "|---|---|---|---|" >> "$OUT/table"
for channels in "8, 16, 32" "16, 32, 64"; do
  module=$OUT/cnn_${channels//, /_}.pt
  PYTHONPATH=bench "$PYTHON" - "$DATA" "$module" "[$channels]" <<'EOF'
import json, sys, torch
import hpo_torch_models as m
manifest = json.load(open(sys.argv[1] + "/manifest.json"))
net = m.build_model("cnn", manifest["sample_shape"], len(manifest["classes"]),
                    channels=json.loads(sys.argv[3]), kernel_size=3,
                    padding="same", dropout=0.2)
torch.jit.script(net).save(sys.argv[2])
print(f"{sys.argv[2]}: hpo's cnn {sys.argv[3]} in PyTorch, "
      f"{m.count_parameters(net)} parameters")
EOF
  shape="\"channels\": [$channels], \"kernel_size\": 3, \"padding\": \"same\", \"dropout\": 0.2"
  args=(--shards "$DATA" --batch-size 32 --threads 1 --epochs "$EPOCHS")
  builtin=() script=() ratios=()
  for rep in $(seq 1 "$REPEATS"); do
    for k in 0 1; do
      if [ $(( (k + rep) % 2 )) -eq 1 ]; then
        builtin+=("$("$BENCH" --model cnn "${args[@]}" --trainer "{$shape}" | sps)")
      else
        script+=("$("$BENCH" --model torchscript "${args[@]}" --trainer "{\"module\": \"$module\"}" | sps)")
      fi
    done
    ratios+=("$(echo "${script[-1]} / ${builtin[-1]}" | bc -l)")
    printf '  [%s] 32, repeat %d: built-in %.0f, torchscript %.0f samples/s (%.3f)\n' "$channels" "$rep" "${builtin[-1]}" "${script[-1]}" "${ratios[-1]}"
  done
  B=$(printf '%s\n' "${builtin[@]}" | median)
  S=$(printf '%s\n' "${script[@]}" | median)
  per=$(printf '%.2f, ' "${ratios[@]}")
  printf '| [%s] 32 | %.0f | %.0f | **%.2f** (%s) |\n' "$channels" "$B" "$S" "$(echo "$S / $B" | bc -l)" "${per%, }" >> "$OUT/table"
done
echo "== results: medians over $REPEATS repeats, epoch samples/s (training + validation); whole script $(( $(date +%s) - START )) s"
cat "$OUT/table"
