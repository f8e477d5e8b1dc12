#!/bin/bash
# hpo's TPE against Optuna 3.1's TPESampler (and both against random search)
# on Branin, Hartmann-6 and a mixed space (Hartmann-6 plus a choice and a
# conditional parameter), SEEDS seeds x TRIALS trials each, in one run.
# Prints per function and sampler the median best value over seeds (with
# the quartiles), the median best after a quarter and half of the trials,
# and the wall time per study; then hpo's median best against Optuna's.
#
# Usage: bench/sampler_bench.sh [SEEDS [TRIALS]]     (defaults: 30 100)
# Needs a build (scripts/test.sh or cmake --build build) and Debian's
# python3-optuna. BUILD_DIR=build by default.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-30}
TRIALS=${2:-100}
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" --target sampler_bench >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for f in branin hartmann6 mixed; do
  for s in random tpe tpe_multivariate; do
    echo "sampler_bench: $f $s: hpo ..." >&2
    "$BUILD_DIR/bench/sampler_bench" --function "$f" --sampler "$s" \
      --seeds "$SEEDS" --trials "$TRIALS" >"$OUT/hpo-$f-$s.jsonl"
    echo "sampler_bench: $f $s: optuna ..." >&2
    /usr/bin/python3 bench/samplers/optuna_peer.py --function "$f" \
      --sampler "$s" --seeds "$SEEDS" --trials "$TRIALS" \
      >"$OUT/optuna-$f-$s.jsonl"
  done
done
/usr/bin/python3 - "$OUT" "$SEEDS" "$TRIALS" <<'PY'
import glob, json, os, sys
import numpy as np
out, seeds, trials = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for path in glob.glob(os.path.join(out, "*.jsonl")):
    side = os.path.basename(path).split("-")[0]
    for line in open(path):
        r = json.loads(line)
        runs.setdefault((r["function"], side, r["sampler"]), []).append(r)
print(f"{seeds} seeds x {trials} trials, minimising (lower is better); "
      "median over seeds [25th, 75th percentile]")
print()
print("| function | side | sampler | best after %d | after %d | final best | s per study |"
      % (trials // 4, trials // 2))
print("|---|---|---|---|---|---|---|")
summary = {}
for f in ["branin", "hartmann6", "mixed"]:
    for s in ["random", "tpe", "tpe_multivariate"]:
        for side in ["hpo", "optuna"]:
            rs = runs[(f, side, s)]
            best = np.array([r["best"] for r in rs])
            q = np.array([r["curve"][trials // 4 - 1] for r in rs])
            h = np.array([r["curve"][trials // 2 - 1] for r in rs])
            secs = np.median([r["seconds"] for r in rs])
            summary[(f, side, s)] = (np.median(best), secs)
            print("| %s | %s | %s | %.4f | %.4f | %.4f [%.4f, %.4f] | %.3f |" % (
                f, side, s, np.median(q), np.median(h), np.median(best),
                np.percentile(best, 25), np.percentile(best, 75), secs))
print()
print("| function | sampler | hpo median best | Optuna median best | hpo no worse | both beat random | Optuna time / hpo time |")
print("|---|---|---|---|---|---|---|")
for f in ["branin", "hartmann6", "mixed"]:
    for s in ["tpe", "tpe_multivariate"]:
        hb, ht = summary[(f, "hpo", s)]
        ob, ot = summary[(f, "optuna", s)]
        beat = hb < summary[(f, "hpo", "random")][0] and ob < summary[(f, "optuna", "random")][0]
        print("| %s | %s | %.4f | %.4f | %s | %s | %.0fx |" % (
            f, s, hb, ob, "yes" if hb <= ob else "no", "yes" if beat else "no", ot / ht))
PY
