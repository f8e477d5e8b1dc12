#!/usr/bin/env bash
# The command trainer's cost (issue 19): examples/pytorch_script/train.py
# run by hand against the same script run by hpo, and the example's whole
# Hyperband study.
#
#   1. The data: the demo's shards (4 classes x 30 tracks of 6 s, 64 x 64
#      log-mel segments: 384 training and 48 validation samples), made with
#      hpo-prep synth + hpo-prep fma under OUT/data unless there already.
#   2. REPEATS times, in turn: `python3 train.py --epochs EPOCHS` by hand
#      (wall time of the process), and hpo running the same command for one
#      trial of EPOCHS epochs (a coordinator and one worker started, the
#      worker exiting when the study is done), timed two ways: the job
#      (its attempt's start to end in the results database: the worker
#      starting the program, reading its lines, waiting for its exit, and
#      reporting) and the whole run (the coordinator's start to the
#      worker's end, with both programs' start-up). Prints the medians,
#      the ratios, and hpo's overhead per epoch ((hpo - by hand) / EPOCHS).
#   3. examples/pytorch_script/study.json as written (Hyperband 1..9 epochs,
#      17 trials) on two one-thread workers: wall time, trials, best
#      val_accuracy.
#
# Builds nothing: cmake --build build --target hpo-coordinator hpo-worker
# hpo-query hpo-prep. Debian's /usr/bin/python3 with python3-torch.
# Usage: bash bench/command_bench.sh [BUILD_DIR (build)]
#   Environment: REPEATS (3), EPOCHS (9), OUT (bench/command_out).
#   About 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$(cd "${1:-build}" && pwd)
REPEATS=${REPEATS:-3}
EPOCHS=${EPOCHS:-9}
OUT=${OUT:-bench/command_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
COORDINATOR=$BUILD/coordinator/hpo-coordinator
WORKER=$BUILD/worker/hpo-worker
QUERY=$BUILD/results/hpo-query
PREP=$BUILD/features/hpo-prep
command -v sqlite3 > /dev/null || { echo "command_bench.sh: the sqlite3 command is missing (scripts/install-deps.sh)" >&2; exit 2; }
for b in "$COORDINATOR" "$WORKER" "$QUERY" "$PREP"; do
  [ -x "$b" ] || { echo "command_bench.sh: $b is missing; build it: cmake --build ${1:-build} --target hpo-coordinator hpo-worker hpo-query hpo-prep" >&2; exit 2; }
done
for v in REPEATS EPOCHS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "command_bench.sh: $v must be a positive integer, got ${!v}" >&2; exit 2; }
done
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "command_bench.sh: Debian's python3-torch is missing (scripts/install-deps.sh --tests)" >&2; exit 2; }
export PATH=/usr/bin:$PATH  # "python3" in the study: Debian's, with torch.

DATA=$OUT/data
if [ ! -f "$DATA/shards/demo/manifest.json" ]; then
  echo "making the demo's shards in $DATA"
  "$PREP" synth --out "$OUT/synth" --classes 4 --tracks-per-class 30 --seconds 6 --seed 1 > /dev/null
  "$PREP" fma --metadata "$OUT/synth/tracks.csv" --audio "$OUT/synth/audio" --n-mels 64 --frames 64 --segments 4 --min-seconds 1 --out "$DATA/shards/demo" > /dev/null
fi
EXAMPLE=$ROOT/examples/pytorch_script
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Runs STUDY_FILE with N workers to the end; prints the wall seconds.
run_study() {
  local study=$1 workers=$2 db=$3
  rm -f "$db" "$db"-*
  local start; start=$(now)
  "$COORDINATOR" --study "$study" --db "$db" --bind tcp://127.0.0.1:* > "$OUT/coordinator.out" 2> "$OUT/coordinator.log" &
  local coordinator=$! endpoint=""
  for _ in $(seq 200); do
    endpoint=$(grep -o 'listening on tcp://[0-9.:]*' "$OUT/coordinator.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$endpoint" ] && break
    sleep 0.05
  done
  [ -n "$endpoint" ] || { echo "command_bench.sh: the coordinator did not start:" >&2; cat "$OUT/coordinator.log" >&2; exit 1; }
  local pids=()
  for i in $(seq "$workers"); do
    (cd "$EXAMPLE" && exec "$WORKER" --connect "$endpoint" --data "$DATA" --checkpoints "$OUT/ck" --threads 1 --allow-commands --exit-when-done --name "w$i" 2> "$OUT/w$i.log") &
    pids+=($!)
  done
  wait "$coordinator"
  for p in "${pids[@]}"; do wait "$p"; done
  echo "$(now) - $start" | bc
}

# 2. One trial of EPOCHS epochs: by hand and under hpo.
ONE=$OUT/one_trial.json
/usr/bin/python3 - "$EXAMPLE/study.json" "$ONE" "$EPOCHS" <<'EOF'
import json, sys
study = json.load(open(sys.argv[1]))
study["name"] = "command_bench"
study["search_space"] = {"lr": {"type": "choice", "values": [0.003]},
                         "batch_size": {"type": "choice", "values": [32]},
                         "optimizer": {"type": "choice", "values": ["adam"]}}
study["algorithm"] = {"type": "random", "max_epochs": int(sys.argv[3])}
study["budget"] = {"max_trials": 1}
json.dump(study, open(sys.argv[2], "w"), indent=2)
EOF
echo "one trial of $EPOCHS epochs, $REPEATS repeats (by hand, then under hpo)"
hand=() hpo=() job=()
for r in $(seq "$REPEATS"); do
  rm -rf "$OUT/hand" && mkdir -p "$OUT/hand"
  start=$(now)
  (cd "$EXAMPLE" && HPO_THREADS=1 HPO_CHECKPOINT_DIR="$OUT/hand" /usr/bin/python3 train.py --lr 0.003 --batch-size 32 --optimizer adam --shards "$DATA/shards/demo" --epochs "$EPOCHS" > "$OUT/hand.out")
  hand+=("$(echo "$(now) - $start" | bc)")
  rm -rf "$OUT/ck"
  hpo+=("$(run_study "$ONE" 1 "$OUT/one.db")")
  job+=("$(sqlite3 "$OUT/one.db" "SELECT ended_at - started_at FROM attempts")")
  echo "  repeat $r: by hand ${hand[-1]} s; under hpo: the job ${job[-1]} s, the whole run ${hpo[-1]} s"
done
H=$(printf '%s\n' "${hand[@]}" | median)
P=$(printf '%s\n' "${hpo[@]}" | median)
J=$(printf '%s\n' "${job[@]}" | median)
printf 'median: by hand %.2f s; the job under hpo %.2f s (ratio %.3f, overhead %.3f s per epoch); the whole run %.2f s (ratio %.3f, %.3f s per epoch)\n' \
  "$H" "$J" "$(echo "$J / $H" | bc -l)" "$(echo "($J - $H) / $EPOCHS" | bc -l)" \
  "$P" "$(echo "$P / $H" | bc -l)" "$(echo "($P - $H) / $EPOCHS" | bc -l)"

# 3. The example study as written, two workers.
rm -rf "$OUT/ck"
W=$(run_study "$EXAMPLE/study.json" 2 "$OUT/example.db")
TRIALS=$("$QUERY" trials --db "$OUT/example.db" --format csv | tail -n +2 | wc -l)
BEST=$("$QUERY" best --db "$OUT/example.db" --format json | /usr/bin/python3 -c "import json,sys; print(round(json.load(sys.stdin)['value'], 4))")
printf 'examples/pytorch_script/study.json on 2 workers: %.1f s, %d trials, best val_accuracy %s\n' "$W" "$TRIALS" "$BEST"
