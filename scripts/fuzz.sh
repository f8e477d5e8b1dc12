#!/usr/bin/env bash
# Builds hpo's libFuzzer targets (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for SECONDS on a copy of its seed
# corpus; the three run at once. Exits non-zero if any target crashed, hung
# (-timeout), ran out of memory (-rss_limit_mb) or leaked, and prints the
# input that did it and the command that reproduces it.
#
# Usage: scripts/fuzz.sh [SECONDS]     (per target, default 60)
#   FUZZ_BUILD_DIR=DIR                 (build-fuzz by default)
# In DIR: fuzz/TARGET (the binaries), corpus/TARGET (the seeds plus what
# earlier runs found, kept between runs), crashes/ (reproducers), logs/.
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(protocol_fuzz study_fuzz plan_fuzz)

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (whole seconds per target, >= 1)" >&2
  exit 2
fi

# clang with its libFuzzer and sanitizer runtimes, and what configuring the
# project needs (no LibTorch: the fuzz build leaves it out). The same
# idempotent check as scripts/install-deps.sh.
PACKAGES=(clang libclang-rt-dev cmake ninja-build nlohmann-json3-dev
          libsqlite3-dev libboost-program-options-dev libzmq3-dev cppzmq-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      SUDO="sudo"
    else
      echo "fuzz.sh: need root to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "== fuzz.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== fuzz.sh: configure ($BUILD_DIR, clang, -fsanitize=fuzzer,address,undefined)"
GENERATOR=()
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  GENERATOR=(-G Ninja)  # An existing build directory keeps its generator.
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" \
  -DHPO_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 >/dev/null

echo "== fuzz.sh: build ${TARGETS[*]}"
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target "${TARGETS[@]}"

mkdir -p "$BUILD_DIR/crashes" "$BUILD_DIR/logs"
seeds() {
  case "$1" in
    protocol_fuzz) echo fuzz/corpus/protocol ;;
    *) echo fuzz/corpus/study ;;
  esac
}
dict() {
  case "$1" in
    protocol_fuzz) echo fuzz/protocol.dict ;;
    *) echo fuzz/study.dict ;;
  esac
}

echo "== fuzz.sh: run ${TARGETS[*]} for ${SECONDS_PER_TARGET} s each, at once"
pids=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  for f in "$(seeds "$t")"/*; do  # Copies: the committed seeds stay as they are.
    [ -e "$corpus/${f##*/}" ] || cp "$f" "$corpus/"
  done
  "$BUILD_DIR/fuzz/$t" "$corpus" -dict="$(dict "$t")" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$BUILD_DIR/crashes/$t-" \
    >"$BUILD_DIR/logs/$t.log" 2>&1 &
  pids+=($!)
done

failed=0
for i in "${!TARGETS[@]}"; do
  t=${TARGETS[$i]}
  log="$BUILD_DIR/logs/$t.log"
  if wait "${pids[$i]}"; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz.sh: $t: ok, $execs runs ($rate/s), $cov, corpus $(ls "$BUILD_DIR/corpus/$t" | wc -l) files"
  else
    failed=1
    echo "fuzz.sh: $t FAILED; the end of $log:" >&2
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|RELOAD)' "$log" | tail -40 >&2
    for f in $(sed -n 's/.*Test unit written to //p' "$log"); do
      echo "fuzz.sh: $t: reproducer $f; run it again with: $BUILD_DIR/fuzz/$t $f" >&2
    done
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a target failed; add the reproducer as a regression test (README, Fuzzing)" >&2
  exit 1
fi
echo "fuzz.sh: no crashes"
