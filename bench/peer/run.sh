#!/usr/bin/env bash
# Head to head (issue 8): hpo against the Optuna + PyTorch script a user
# would otherwise write, on the same study, data and number of workers; then
# random search, Hyperband and ASHA inside hpo on about the same epoch budget.
#
#   1. installs the Debian packages (scripts/install-deps.sh, plus
#      python3-optuna, python3-torch and python3-numpy for the peer; only
#      what is missing, so no network is needed when all are there),
#   2. builds hpo-prep, hpo-coordinator, hpo-worker and hpo-query (Release;
#      BUILD_DIR, default build/),
#   3. makes the dataset once (cached under OUT/data): hpo-prep synth, then
#      hpo-prep fma (the commands are in bench/peer/study.json's description),
#   4. per repeat, in alternating order (hpo first on odd repeats):
#      - hpo: hpo-coordinator on loopback and N `hpo-worker --device cpu
#        --threads 1`, as scripts/demo.sh runs them;
#      - Optuna: bench/peer/optuna_peer.py (N processes on one SQLite RDB
#        storage, HyperbandPruner, RandomSampler, the same study file), with
#        as many trials as hpo's Hyperband plans (hpo-coordinator --plan);
#   5. hpo with random search and with ASHA, budget.max_trials chosen so that
#      their planned epochs are closest to Hyperband's;
#   6. prints the tables (bench/peer/summarise.py): wall time, CPU time,
#      epochs, best validation accuracy, time to 95% of the better best,
#      test accuracy of the best trial, where the time goes; and the ratios.
#
# Usage: bench/peer/run.sh [--quick] [--repeats R] [--workers N]
#                          [--only hpo|optuna|algos|samplers|round2|pbt]
#                          [--seeds S] [--iterations I] [--resume]
#                          [--out DIR]
#   --quick     a tiny dataset and a 1..9-epoch study: a minute or two, to
#               check that everything works
#   --repeats   head-to-head repeats (default 1), alternating the order
#   --workers   hpo workers = Optuna processes (default 2)
#   --only      run only hpo, only the Optuna peer, only the algorithm
#               comparison (hpo: Hyperband, random, ASHA), or only the
#               sampler comparison: random, Hyperband, ASHA, BOHB
#               (Hyperband + bohb) and ASHA + TPE inside hpo on the same
#               budgets, --seeds seeds each (study seeds 1..S, the order
#               rotating), best validation accuracy against wall time
#               (bench/peer/samplers.py: a table and OUT/samplers.svg)
#               or only round two of the head to head (issue 17): the
#               study with min_epochs 1 and --iterations Hyperband
#               iterations, four sides per seed, the order rotating:
#               hpo's default (Hyperband, random sampler, as demo.json),
#               hpo's best (ASHA + TPE, 1.5x Hyperband's trials), and the
#               Optuna user's defaults, TPESampler() with
#               HyperbandPruner(1, max, eta) and with
#               SuccessiveHalvingPruner(), as many trials as hpo's
#               Hyperband plans (bench/peer/round2.py: a table, the time
#               each side needs to reach Optuna's median final best, where
#               the time goes, and OUT/round2.svg)
#               or only population-based training (issue 20): PBT (a
#               population as large as random search's trials, to
#               max_epochs, interval 3, mutating lr) against ASHA and BOHB
#               on the sampler comparison's budgets, --seeds seeds each
#               (bench/peer/samplers.py OUT pbt: a table and OUT/pbt.svg)
#   --seeds     seeds of the sampler comparison, round two and pbt (default 3)
#   --iterations  Hyperband iterations of round two (default 2)
#   --resume    keep OUT/runs.jsonl and skip the runs it already records
#               (after an interruption: the same options and --out)
#   --out       output directory (default bench/peer/out, ignored by git)
# Environment: BUILD_DIR (build), JOBS (nproc, for building and hpo-prep).
# Every process it starts is stopped when it ends, fails, or gets Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
PYTHON=/usr/bin/python3
QUICK=0 REPEATS=1 WORKERS=2 ONLY="" OUT=bench/peer/out SEEDS=3 ITERATIONS=2
RESUME=0

usage() { sed -n '/^# Usage:/,/^# Every process/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --repeats) REPEATS=${2:-}; shift ;;
    --workers) WORKERS=${2:-}; shift ;;
    --only) ONLY=${2:-}; shift ;;
    --seeds) SEEDS=${2:-}; shift ;;
    --iterations) ITERATIONS=${2:-}; shift ;;
    --resume) RESUME=1 ;;
    --out) OUT=${2:-}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "--repeats must be an integer >= 1, got '$REPEATS'"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "--workers must be an integer >= 1, got '$WORKERS'"
[[ "$SEEDS" =~ ^[1-9][0-9]*$ ]] || die "--seeds must be an integer >= 1, got '$SEEDS'"
[[ "$ITERATIONS" =~ ^[1-9][0-9]*$ ]] || die "--iterations must be an integer >= 1, got '$ITERATIONS'"
case $ONLY in ""|hpo|optuna|algos|samplers|round2|pbt) ;; *) die "--only takes hpo, optuna, algos, samplers, round2 or pbt, got '$ONLY'" ;; esac
[ -n "$OUT" ] || die "--out needs a directory"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

. "$ROOT/scripts/lib/stop_children.sh"
STOPPED_HINT="logs are under $OUT/runs/"

step() { echo; echo "== run.sh: $* ($(date +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"; }
now() { date +%s.%N; }
# User + system CPU seconds of this shell's waited-for children so far, in
# CPU_NOW. `times` must run in this shell (not in a $(...) subshell, whose
# children are its own), so it writes to a file.
children_cpu() {
  times >"$OUT/.times"
  CPU_NOW=$(tail -1 "$OUT/.times" | awk '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
    printf "%.2f", s }')
}

START_ALL=$(date +%s)
step "dependencies"
scripts/install-deps.sh
PEER_PACKAGES=(python3-optuna python3-torch python3-numpy)
missing=()
for p in "${PEER_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "run.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "run.sh: ${PEER_PACKAGES[*]} already installed"
fi
"$PYTHON" -c 'import optuna, torch, numpy' ||
  die "$PYTHON cannot import optuna, torch and numpy"

step "build ($BUILD_DIR, Release, $JOBS jobs)"
GENERATOR=()
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] && command -v ninja >/dev/null; then
  GENERATOR=(-G Ninja)
fi
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target \
  hpo-prep hpo-coordinator hpo-worker hpo-query
BIN=$ROOT/$BUILD_DIR
case "$BUILD_DIR" in /*) BIN=$BUILD_DIR ;; esac
PREP=$BIN/features/hpo-prep
COORDINATOR=$BIN/coordinator/hpo-coordinator
WORKER=$BIN/worker/hpo-worker

# The dataset and the study variants. The full study is bench/peer/study.json
# (its description names the hpo-prep commands); --quick shrinks both.
DATA=$OUT/data
STUDIES=$OUT/studies
mkdir -p "$DATA" "$STUDIES"
if [ "$QUICK" = 1 ]; then
  SHARDS=peer_quick
  SYNTH=(--classes 4 --tracks-per-class 12 --seconds 3 --seed 8)
else
  SHARDS=peer
  SYNTH=(--classes 8 --tracks-per-class 40 --seconds 6 --seed 8)
fi
step "dataset $DATA/shards/$SHARDS (hpo-prep synth ${SYNTH[*]}, then hpo-prep fma)"
if [ -f "$DATA/shards/$SHARDS/manifest.json" ]; then
  echo "reusing it (delete it to make it again)"
else
  rm -rf "$DATA/synth_$SHARDS"
  "$PREP" synth --out "$DATA/synth_$SHARDS" "${SYNTH[@]}" --jobs "$JOBS"
  "$PREP" fma --metadata "$DATA/synth_$SHARDS/tracks.csv" \
    --audio "$DATA/synth_$SHARDS/audio" --out "$DATA/shards/$SHARDS" \
    --n-mels 64 --frames 64 --segments 4 --min-seconds 1 --jobs "$JOBS"
fi
"$PREP" verify --shards "$DATA/shards/$SHARDS"

# study VARIANT [KEY=JSON ...]: writes STUDIES/VARIANT.json from study.json
# with data.shards, the name and the given algorithm/budget keys replaced.
study() {
  local variant=$1; shift
  "$PYTHON" - "$ROOT/bench/peer/study.json" "$STUDIES/$variant.json" \
    "$variant" "shards/$SHARDS" "$QUICK" "$@" <<'EOF'
import json, sys
src, dst, name, shards, quick = sys.argv[1:6]
spec = json.load(open(src))
spec["name"] = name
spec["data"]["shards"] = shards
if quick == "1":
    spec["algorithm"].update({"min_epochs": 1, "max_epochs": 9})
for kv in sys.argv[6:]:
    key, value = kv.split("=", 1)
    obj = spec
    parts = key.split(".")
    for p in parts[:-1]:
        obj = obj.setdefault(p, {})
    obj[parts[-1]] = json.loads(value)
json.dump(spec, open(dst, "w"), indent=1)
EOF
}
plan_epochs() {  # STUDY: the epochs hpo-coordinator --plan expects
  "$COORDINATOR" --study "$STUDIES/$1.json" --plan 2>/dev/null | "$PYTHON" -c '
import json, sys
p = json.load(sys.stdin)
print(p["total_epochs"] if "total_epochs" in p else p["expected_total_epochs"])'
}
plan_trials() {  # STUDY: the number of trials the plan starts
  "$COORDINATOR" --study "$STUDIES/$1.json" --plan 2>/dev/null | "$PYTHON" -c '
import json, sys
p = json.load(sys.stdin)
if "brackets" in p:
    # The plan lists one iteration'"'"'s brackets and says how many run.
    print(sum(b["rungs"][0]["trials"] for b in p["brackets"]) *
          p.get("iterations", 1))
else:
    print(p.get("trials", p.get("max_trials")))'
}

step "studies under $STUDIES"
study peer
HB_TRIALS=$(plan_trials peer)
HB_EPOCHS=$(plan_epochs peer)
MAX_EPOCHS=$("$PYTHON" -c "import json; print(json.load(open('$STUDIES/peer.json'))['algorithm']['max_epochs'])")
echo "hyperband: $HB_TRIALS trials, $HB_EPOCHS epochs planned (hpo-coordinator --plan)"
RANDOM_TRIALS=$(( (HB_EPOCHS + MAX_EPOCHS / 2) / MAX_EPOCHS ))
study peer_random "algorithm={\"type\": \"random\", \"max_epochs\": $MAX_EPOCHS}" \
  "budget={\"max_trials\": $RANDOM_TRIALS}"
echo "random: $RANDOM_TRIALS trials x $MAX_EPOCHS epochs = $(plan_epochs peer_random) epochs"
# ASHA: the max_trials whose planned epochs are closest to Hyperband's.
best_n=1 best_d=-1
for n in $(seq 1 $(( HB_TRIALS * 3 ))); do
  study peer_asha "algorithm.type=\"asha\"" "budget={\"max_trials\": $n}"
  e=$(plan_epochs peer_asha)
  d=$(( e > HB_EPOCHS ? e - HB_EPOCHS : HB_EPOCHS - e ))
  if [ "$best_d" -lt 0 ] || [ "$d" -lt "$best_d" ]; then best_n=$n best_d=$d; fi
  [ "$e" -gt "$HB_EPOCHS" ] && break
done
study peer_asha "algorithm.type=\"asha\"" "budget={\"max_trials\": $best_n}"
echo "asha: $best_n trials, $(plan_epochs peer_asha) epochs planned"

RUNS=$OUT/runs
mkdir -p "$RUNS"
if [ "$RESUME" = 1 ] && [ -f "$OUT/runs.jsonl" ]; then
  echo "resuming: $(wc -l <"$OUT/runs.jsonl") run(s) already in $OUT/runs.jsonl are not run again"
else
  : >"$OUT/runs.jsonl"
fi
# recorded NAME: the run is in runs.jsonl already (--resume).
recorded() { grep -q "^{\"run\": \"$1\"," "$OUT/runs.jsonl"; }
record() {  # NAME SIDE GROUP REPEAT ORDER STUDY START END CPU DB DIR
  printf '{"run": "%s", "side": "%s", "group": "%s", "repeat": %s, "order": %s, "study": "%s", "start": %s, "end": %s, "cpu_s": %s, "db": "%s", "out": "%s", "workers": %s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "${11}" "$WORKERS" >>"$OUT/runs.jsonl"
}

# finish_run NAME WHAT LOG STATUS START END CPU0 SIDE GROUP REPEAT ORDER
#   STUDY DB: stops the script if WHAT (the run's main process) failed;
#   otherwise records the run and prints its wall and CPU time.
finish_run() {
  local name=$1 what=$2 log=$3 status=$4 t0=$5 t1=$6 cpu0=$7 cpu
  shift 7
  if [ "$status" -ne 0 ]; then
    echo "run.sh: $what of $name exited with $status; last lines of $log:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  children_cpu
  cpu=$(echo "$CPU_NOW $cpu0" | awk '{printf "%.2f", $1 - $2}')
  record "$name" "$1" "$2" "$3" "$4" "$5" "$t0" "$t1" "$cpu" "$6" "$RUNS/$name"
  echo "  [$name] $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s wall, $cpu s CPU"
}

# run_hpo NAME STUDY GROUP REPEAT ORDER: a coordinator and WORKERS workers.
run_hpo() {
  local name=$1 variant=$2 group=$3 rep=$4 order=$5
  local dir=$RUNS/$name
  rm -rf "$dir"; mkdir -p "$dir"
  step "$name: hpo-coordinator + $WORKERS x hpo-worker --device cpu --threads 1 ($variant)"
  local cpu0 t0 t1 endpoint="" status
  children_cpu; cpu0=$CPU_NOW
  t0=$(now)
  "$COORDINATOR" --study "$STUDIES/$variant.json" --db "$dir/results.db" \
    --bind 'tcp://127.0.0.1:*' 2>"$dir/coordinator.log" \
    > >(sed -u "s/^/  [$name] /") &
  local cpid=$!
  PIDS+=("$cpid")
  for _ in $(seq 1 300); do
    endpoint=$(sed -n 's/.*listening on \(tcp:[^,]*\),.*/\1/p' "$dir/coordinator.log" | head -1)
    [ -n "$endpoint" ] && break
    if ! kill -0 "$cpid" 2>/dev/null; then
      cat "$dir/coordinator.log" >&2
      echo "run.sh: the coordinator of $name exited at start" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ -n "$endpoint" ] || { echo "run.sh: the coordinator of $name did not start; see $dir/coordinator.log" >&2; exit 1; }
  local wpids=()
  for w in $(seq 1 "$WORKERS"); do
    "$WORKER" --connect "$endpoint" --name "w$w" --data "$DATA" \
      --checkpoints "$dir/checkpoints" --device cpu --threads 1 \
      --exit-when-done 2>"$dir/w$w.log" &
    wpids+=("$!")
    PIDS+=("$!")
  done
  set +e
  wait "$cpid"
  status=$?
  for p in "${wpids[@]}"; do wait "$p"; done
  set -e
  t1=$(now)
  rm -rf "$dir/checkpoints"
  finish_run "$name" "the coordinator" "$dir/coordinator.log" "$status" "$t0" \
    "$t1" "$cpu0" hpo "$group" "$rep" "$order" "$variant" "$dir/results.db"
}

# run_optuna NAME REPEAT ORDER [STUDY GROUP TRIALS PEER-OPTION...]: the
# peer on the Hyperband study (default: peer, head, HB_TRIALS).
run_optuna() {
  local name=$1 rep=$2 order=$3 variant=${4:-peer} group=${5:-head}
  local trials=${6:-$HB_TRIALS}
  shift $(( $# < 6 ? $# : 6 ))
  local dir=$RUNS/$name
  rm -rf "$dir"; mkdir -p "$dir"
  step "$name: bench/peer/optuna_peer.py $*, $WORKERS processes, $trials trials ($variant)"
  local cpu0 t0 t1 status
  children_cpu; cpu0=$CPU_NOW
  t0=$(now)
  setsid "$PYTHON" bench/peer/optuna_peer.py --study "$STUDIES/$variant.json" \
    --data "$DATA" --db "$dir/optuna.db" --out "$dir" --workers "$WORKERS" \
    --trials "$trials" --threads 1 "$@" \
    > >(sed -u "s/^/  [$name] /") 2>"$dir/peer.log" &
  local pid=$!
  PIDS+=("$pid")
  set +e
  wait "$pid"
  status=$?
  set -e
  t1=$(now)
  finish_run "$name" "the Optuna peer" "$dir/peer.log" "$status" "$t0" "$t1" \
    "$cpu0" optuna "$group" "$rep" "$order" "$variant" "$dir/optuna.db"
}

echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); uptime: $(uptime)"
echo "versions: $("$PYTHON" -c 'import optuna, torch, numpy, sqlalchemy, sqlite3; print("optuna", optuna.__version__, "torch", torch.__version__, "numpy", numpy.__version__, "sqlalchemy", sqlalchemy.__version__, "sqlite", sqlite3.sqlite_version)'); hpo $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "reproduce: bench/peer/run.sh$([ "$QUICK" = 1 ] && echo " --quick") --repeats $REPEATS --workers $WORKERS${ONLY:+ --only $ONLY}$(case $ONLY in samplers|pbt) echo " --seeds $SEEDS" ;; round2) echo " --seeds $SEEDS --iterations $ITERATIONS" ;; esac)"

if [ "$ONLY" = round2 ]; then
  # Round two: hpo's default and best against an Optuna user's defaults,
  # on a study large enough for learning to matter.
  study r2 "algorithm.min_epochs=1" "algorithm.iterations=$ITERATIONS"
  R2_TRIALS=$(plan_trials r2)
  R2_EPOCHS=$(plan_epochs r2)
  echo "round two: Hyperband 1..$MAX_EPOCHS epochs, $ITERATIONS iteration(s): $R2_TRIALS trials, $R2_EPOCHS epochs planned"
  # hpo's best: ASHA + TPE starting 1.5x Hyperband's trials. Matching
  # Hyperband's planned epochs instead (about 2.5x its trials) makes this
  # run about 14 minutes here, over the issue's 10; with 1.5x it trains
  # about 0.8x Hyperband's epochs (ASHA + TPE promotes more than ASHA's
  # expected rate, so more than its plan's expected_total_epochs).
  r2_n=$(( R2_TRIALS * 3 / 2 ))
  echo "hpo best (ASHA + TPE): $r2_n trials of 1..$MAX_EPOCHS epochs"
  SIDES=(hpo_default hpo_best optuna_hb optuna_sh)
  for seed in $(seq 1 "$SEEDS"); do
    study "r2_s${seed}_hpo_default" "seed=$seed" "algorithm.min_epochs=1" \
      "algorithm.iterations=$ITERATIONS"
    study "r2_s${seed}_hpo_best" "seed=$seed" \
      "algorithm={\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": $MAX_EPOCHS, \"eta\": 3, \"sampler\": {\"type\": \"tpe\"}}" \
      "budget={\"max_trials\": $r2_n}"
  done
  for seed in $(seq 1 "$SEEDS"); do
    for k in $(seq 0 $(( ${#SIDES[@]} - 1 ))); do
      side=${SIDES[$(( (k + seed - 1) % ${#SIDES[@]} ))]}
      name="r2_s${seed}_$side"
      if [ "$RESUME" = 1 ] && recorded "$name"; then
        echo "run.sh: $name is recorded already (--resume)"
        continue
      fi
      case $side in
        hpo_*) run_hpo "$name" "$name" round2 "$seed" "$((k + 1))" ;;
        optuna_hb) run_optuna "$name" "$seed" "$((k + 1))" "r2_s${seed}_hpo_default" \
                     round2 "$R2_TRIALS" --sampler tpe ;;
        optuna_sh) run_optuna "$name" "$seed" "$((k + 1))" "r2_s${seed}_hpo_default" \
                     round2 "$R2_TRIALS" --sampler tpe --pruner sh ;;
      esac
    done
  done
  step "results ($OUT/runs.jsonl; whole script $(( $(date +%s) - START_ALL )) s)"
  echo "uptime after: $(uptime)"
  "$PYTHON" bench/peer/round2.py "$OUT" | tee "$OUT/round2.md"
  echo
  echo "run.sh: done; tables in $OUT/round2.md, plot $OUT/round2.svg"
  exit 0
fi

if [ "$ONLY" = pbt ]; then
  # PBT on about the epochs random search trains (population x max_epochs),
  # against ASHA and BOHB on the sampler comparison's budgets.
  METHODS=(pbt asha bohb)
  for seed in $(seq 1 "$SEEDS"); do
    study "p${seed}_pbt" "seed=$seed" \
      "algorithm={\"type\": \"pbt\", \"population\": $RANDOM_TRIALS, \"max_epochs\": $MAX_EPOCHS, \"interval\": 3, \"mutable\": [\"lr\"]}"
    study "p${seed}_asha" "seed=$seed" "algorithm.type=\"asha\"" \
      "budget={\"max_trials\": $best_n}"
    study "p${seed}_bohb" "seed=$seed" "algorithm.sampler={\"type\": \"bohb\"}"
  done
  for seed in $(seq 1 "$SEEDS"); do
    for k in $(seq 0 $(( ${#METHODS[@]} - 1 ))); do
      m=${METHODS[$(( (k + seed - 1) % ${#METHODS[@]} ))]}
      if [ "$RESUME" = 1 ] && recorded "p${seed}_$m"; then
        echo "run.sh: p${seed}_$m is recorded already (--resume)"
        continue
      fi
      run_hpo "p${seed}_$m" "p${seed}_$m" pbt "$seed" "$((k + 1))"
    done
  done
  step "results ($OUT/runs.jsonl; whole script $(( $(date +%s) - START_ALL )) s)"
  echo "uptime after: $(uptime)"
  "$PYTHON" bench/peer/samplers.py "$OUT" pbt | tee "$OUT/pbt.md"
  echo
  echo "run.sh: done; table in $OUT/pbt.md, plot $OUT/pbt.svg"
  exit 0
fi

if [ "$ONLY" = samplers ]; then
  METHODS=(random hyperband asha bohb asha_tpe)
  for seed in $(seq 1 "$SEEDS"); do
    study "s${seed}_random" "seed=$seed" \
      "algorithm={\"type\": \"random\", \"max_epochs\": $MAX_EPOCHS}" \
      "budget={\"max_trials\": $RANDOM_TRIALS}"
    study "s${seed}_hyperband" "seed=$seed"
    study "s${seed}_asha" "seed=$seed" "algorithm.type=\"asha\"" \
      "budget={\"max_trials\": $best_n}"
    study "s${seed}_bohb" "seed=$seed" "algorithm.sampler={\"type\": \"bohb\"}"
    study "s${seed}_asha_tpe" "seed=$seed" "algorithm.type=\"asha\"" \
      "algorithm.sampler={\"type\": \"tpe\"}" "budget={\"max_trials\": $best_n}"
  done
  for seed in $(seq 1 "$SEEDS"); do
    for k in $(seq 0 $(( ${#METHODS[@]} - 1 ))); do
      m=${METHODS[$(( (k + seed - 1) % ${#METHODS[@]} ))]}
      run_hpo "s${seed}_$m" "s${seed}_$m" samplers "$seed" "$((k + 1))"
    done
  done
  step "results ($OUT/runs.jsonl; whole script $(( $(date +%s) - START_ALL )) s)"
  echo "uptime after: $(uptime)"
  "$PYTHON" bench/peer/samplers.py "$OUT" | tee "$OUT/samplers.md"
  echo
  echo "run.sh: done; table in $OUT/samplers.md, plot $OUT/samplers.svg"
  exit 0
fi

if [ "$ONLY" != algos ]; then
  for rep in $(seq 1 "$REPEATS"); do
    if [ $((rep % 2)) = 1 ]; then sides="hpo optuna"; else sides="optuna hpo"; fi
    order=1
    for side in $sides; do
      if [ "$side" = hpo ] && [ "$ONLY" != optuna ]; then
        run_hpo "hpo-$rep" peer head "$rep" "$order"
        order=$((order + 1))
      elif [ "$side" = optuna ] && [ "$ONLY" != hpo ]; then
        run_optuna "optuna-$rep" "$rep" "$order"
        order=$((order + 1))
      fi
    done
  done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = algos ]; then
  if [ "$ONLY" = algos ]; then run_hpo hpo-1 peer head 1 1; fi
  run_hpo hpo-random peer_random algos 1 1
  run_hpo hpo-asha peer_asha algos 1 1
fi

step "results ($OUT/runs.jsonl; whole script $(( $(date +%s) - START_ALL )) s)"
echo "uptime after: $(uptime)"
"$PYTHON" bench/peer/summarise.py "$OUT" | tee "$OUT/summary.md"
echo
echo "run.sh: done; tables in $OUT/summary.md"
