#!/usr/bin/env bash
# The demo: a real study end to end on this machine.
#
#   1. installs the Debian packages hpo needs (scripts/install-deps.sh),
#   2. builds the five commands (Release; BUILD_DIR, default build/),
#   3. makes a small synthetic dataset: hpo-prep synth writes music-like
#      audio in FMA's layout, hpo-prep fma turns it into log-mel shards,
#   4. runs studies/demo.json (Hyperband over learning rate, batch size, LR
#      scheduler and channel counts of a small cnn) with a coordinator and
#      two CPU workers on loopback,
#   5. prints the leaderboard and the best trial (with its test-split
#      accuracy and confusion matrix) and writes demo/report.html.
#
# Everything goes under demo/ (ignored by git). Re-running reuses the build
# and the dataset and runs the study again from scratch (the previous
# results.db is kept as results.db.previous). Every process it starts is
# stopped when it ends, fails, or gets Ctrl-C.
#
# Usage: scripts/demo.sh [--study FILE]   (BUILD_DIR=build, DEMO_DIR=demo,
#                                          JOBS=nproc)
#   --study  another study on the demo's data instead of studies/demo.json,
#            e.g. studies/demo_pbt.json (population-based training)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
DEMO_DIR=${DEMO_DIR:-demo}
JOBS=${JOBS:-$(nproc)}
STUDY=studies/demo.json
while [ $# -gt 0 ]; do
  case $1 in
    --study)
      [ $# -ge 2 ] || { echo "demo.sh: --study needs a file" >&2; exit 2; }
      STUDY=$2
      shift
      ;;
    -h|--help) sed -n '/^# Usage:/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option '$1' (use --study FILE)" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$STUDY" ] || { echo "demo.sh: --study $STUDY: no such file" >&2; exit 2; }
NAME=$(sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p' "$STUDY" | head -1)
[ -n "$NAME" ] || { echo "demo.sh: $STUDY has no \"name\" line" >&2; exit 2; }

. "$ROOT/scripts/lib/stop_children.sh"
STOPPED_HINT="logs are in $DEMO_DIR/*.log"

step() { echo; echo "== demo.sh: $*"; }

step "dependencies"
scripts/install-deps.sh

step "build ($BUILD_DIR, Release, $JOBS jobs)"
GENERATOR=()
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] && command -v ninja >/dev/null; then
  GENERATOR=(-G Ninja)
fi
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target \
  hpo-prep hpo-coordinator hpo-worker hpo-query hpo-report
BIN=$ROOT/$BUILD_DIR
case "$BUILD_DIR" in /*) BIN=$BUILD_DIR ;; esac
PREP=$BIN/features/hpo-prep
COORDINATOR=$BIN/coordinator/hpo-coordinator
WORKER=$BIN/worker/hpo-worker
QUERY=$BIN/results/hpo-query
REPORT=$BIN/results/hpo-report

mkdir -p "$DEMO_DIR"
cd "$DEMO_DIR"

# The dataset studies/demo.json expects: 4 classes x 30 tracks of 6 s,
# 4 segments of 64 mel bins x 64 frames per track.
step "dataset (hpo-prep synth, then hpo-prep fma)"
if [ -f data/shards/demo/manifest.json ]; then
  echo "reusing $DEMO_DIR/data/shards/demo (delete it to make it again)"
else
  "$PREP" synth --out synth --classes 4 --tracks-per-class 30 --seconds 6 \
    --seed 1
  "$PREP" fma --metadata synth/tracks.csv --audio synth/audio \
    --out data/shards/demo --n-mels 64 --frames 64 --segments 4 \
    --min-seconds 1
fi
"$PREP" verify --shards data/shards/demo

step "study $STUDY: a coordinator and two CPU workers on loopback"
if [ -f results.db ]; then
  mv -f results.db results.db.previous
  rm -f results.db-wal results.db-shm
fi
rm -rf "data/checkpoints/$NAME"
"$COORDINATOR" --study "$ROOT/$STUDY" --db results.db \
  --bind 'tcp://127.0.0.1:*' 2>coordinator.log &
COORDINATOR_PID=$!
PIDS+=("$COORDINATOR_PID")
ENDPOINT=""
for _ in $(seq 1 200); do
  ENDPOINT=$(sed -n 's/.*listening on \(tcp:[^,]*\),.*/\1/p' coordinator.log |
    head -1)
  [ -n "$ENDPOINT" ] && break
  if ! kill -0 "$COORDINATOR_PID" 2>/dev/null; then
    cat coordinator.log >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$ENDPOINT" ]; then
  echo "demo.sh: the coordinator did not start; see $DEMO_DIR/coordinator.log" >&2
  exit 1
fi
THREADS=$(( JOBS / 2 > 0 ? JOBS / 2 : 1 ))
for name in w1 w2; do
  "$WORKER" --connect "$ENDPOINT" --name "$name" --data data --device cpu \
    --threads "$THREADS" --exit-when-done 2>"$name.log" &
  PIDS+=("$!")
done
set +e
wait "$COORDINATOR_PID"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "demo.sh: the coordinator exited with $status" >&2
  tail -20 coordinator.log >&2
  exit "$status"
fi

step "leaderboard (hpo-query --db $DEMO_DIR/results.db leaderboard --study $NAME)"
"$QUERY" --db results.db leaderboard --study "$NAME" --state complete
step "the best trial (hpo-query --db $DEMO_DIR/results.db best --study $NAME)"
"$QUERY" --db results.db best --study "$NAME"
if grep -q '"type": *"pbt"' "$STUDY"; then
  step "exploits (hpo-query --db $DEMO_DIR/results.db lineage --study $NAME)"
  "$QUERY" --db results.db lineage --study "$NAME"
fi

step "report"
"$REPORT" --db results.db --study "$NAME" --out report.html
echo "wrote $DEMO_DIR/report.html (open it in a browser)"
echo
echo "demo.sh: done. Try: $QUERY --db $DEMO_DIR/results.db export --study $NAME --format csv"
