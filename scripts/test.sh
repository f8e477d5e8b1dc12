#!/usr/bin/env bash
# Sets everything up and runs the whole test suite:
# installs dependencies (Debian packages), configures and builds hpo
# (Release, all cores) and runs every test with CTest.
# Exits non-zero if any step or any test fails.
#
# Usage: scripts/test.sh            (BUILD_DIR=build by default)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=$(nproc)

echo "== test.sh: dependencies"
scripts/install-deps.sh --tests

echo "== test.sh: configure ($BUILD_DIR, Release)"
GENERATOR=()
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] && command -v ninja >/dev/null; then
  GENERATOR=(-G Ninja)  # An existing build directory keeps its generator.
fi
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DHPO_BUILD_TESTS=ON -DHPO_BUILD_BENCH=ON

echo "== test.sh: build ($JOBS jobs)"
cmake --build "$BUILD_DIR" --parallel "$JOBS"

echo "== test.sh: tests"
cd "$BUILD_DIR"
ctest --output-on-failure --parallel "$JOBS" --timeout 600
