#!/usr/bin/env bash
# Persisted epoch reports per second: hpo's coordinator against Optuna 3.1's
# RDB storage on SQLite, the same work in one run of this script, and the
# ratio it prints. Neither side trains (hpo: 32 workers emulated by
# coordinator_bench, on synthetic learning curves; Optuna: an analytic
# curve), so the figure is storage, protocol and pruner work alone.
#
# The same work on both sides: TRIALS random-search trials x 27 epochs, one
# report per epoch and a pruning decision after it (hpo: the coordinator's
# scheduler; Optuna: trial.report() + trial.should_prune(), NopPruner), on a
# SQLite file in a temporary directory.
#   hpo     build/bench/coordinator_bench --trials TRIALS --epochs 27
#           (32 emulated workers; durability as shipped: a batch commit every
#           20 ms, WAL, synchronous=NORMAL, so a power cut can lose the last
#           batches but never corrupts the file), and again with
#           --db-sync full (synchronous=FULL: every batch commit fsyncs);
#   Optuna  bench/optuna_store_bench.py --trials TRIALS --epochs 27
#           --workers 2 --pruner none (two processes, one per core; a
#           SQLAlchemy commit per call on a rollback journal with
#           synchronous=FULL, SQLite's defaults:
#           every report is durable once report() returns).
# REPEATS runs of each, alternating; medians and ranges.
#
# Builds nothing: cmake --build build --target coordinator_bench hpo-coordinator
# Usage: bash bench/persist_bench.sh [BUILD_DIR (build)] [TRIALS (1000)] [REPEATS (3)]
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build}
TRIALS=${2:-1000}
REPEATS=${3:-3}
PYTHON=/usr/bin/python3
BENCH="$BUILD/bench/coordinator_bench"
if [ ! -x "$BENCH" ]; then
  echo "persist_bench.sh: $BENCH not found; build it first:" >&2
  echo "  cmake --build $BUILD --target coordinator_bench hpo-coordinator" >&2
  exit 2
fi
for n in "$TRIALS" "$REPEATS"; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
    echo "persist_bench.sh: TRIALS and REPEATS must be positive integers" >&2
    exit 2
  fi
done
if ! "$PYTHON" -c 'import optuna' 2>/dev/null; then
  echo "persist_bench.sh: needs python3-optuna (scripts/install-deps.sh --tests)" >&2
  exit 2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/persist_bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "persist_bench.sh: $TRIALS trials x 27 epochs, $REPEATS runs per side"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "reproduce: bash bench/persist_bench.sh $BUILD $TRIALS $REPEATS"
for r in $(seq "$REPEATS"); do
  hpo() {
    local sync=$1
    echo "-- run $r: $BENCH --trials $TRIALS --epochs 27 --db-sync $sync"
    "$BENCH" --trials "$TRIALS" --epochs 27 --db-sync "$sync" > "$TMP/hpo_${sync}_$r.txt"
    grep -E "^(persisted reports per second|epoch reports persisted|wall)" "$TMP/hpo_${sync}_$r.txt"
  }
  optuna() {
    echo "-- run $r: $PYTHON bench/optuna_store_bench.py --trials $TRIALS --epochs 27 --workers 2 --pruner none --json"
    "$PYTHON" bench/optuna_store_bench.py --trials "$TRIALS" --epochs 27 \
      --workers 2 --pruner none --max-seconds 1200 --json > "$TMP/optuna_$r.json"
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("persisted %d reports in %.1f s: %.1f/s, report+should_prune p50 %s ms p99 %s ms, %d locked errors" % (d["epoch_reports_persisted"], d["wall_s"], d["reports_per_s"], d["dispatch_p50_ms"], d["dispatch_p99_ms"], d["locked_errors_total"]))' "$TMP/optuna_$r.json"
  }
  if [ $((r % 2)) -eq 1 ]; then
    hpo normal; hpo full; optuna
  else
    optuna; hpo full; hpo normal
  fi
done

echo
"$PYTHON" - "$TMP" "$REPEATS" "$TRIALS" <<'PY'
import json, re, statistics, sys
tmp, repeats, trials = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def hpo(sync):
    out = []
    for r in range(1, repeats + 1):
        text = open("%s/hpo_%s_%d.txt" % (tmp, sync, r)).read()
        out.append(float(re.search(r"^persisted reports per second\s+(\S+)", text, re.M).group(1)))
    return out
normal, full = hpo("normal"), hpo("full")
optuna = [json.load(open("%s/optuna_%d.json" % (tmp, r)))["reports_per_s"] for r in range(1, repeats + 1)]
def row(name, v, durability):
    print("%-32s %10.0f  (%s)  %s" % (name, statistics.median(v),
          " / ".join("%.0f" % x for x in v), durability))
print("persisted epoch reports per second, %d trials x 27 epochs, median (runs):" % trials)
row("hpo, as shipped", normal, "20 ms batches, WAL, synchronous=NORMAL")
row("hpo, --db-sync full", full, "20 ms batches, WAL, synchronous=FULL")
row("Optuna 3.1 RDB/SQLite, 2 procs", optuna, "a commit per call, rollback journal, synchronous=FULL")
o = statistics.median(optuna)
print("\nhpo / Optuna: %.0fx as shipped, %.0fx with --db-sync full"
      % (statistics.median(normal) / o, statistics.median(full) / o))
PY
