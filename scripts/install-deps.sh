#!/usr/bin/env bash
# Installs every build and test dependency of hpo from Debian 12 packages.
# Idempotent: packages already present are skipped, so a second run is quick.
# Usage: scripts/install-deps.sh [--tests]  (as root, or with sudo available)
#   --tests  also what only the test suite needs: headless Chromium (renders
#            hpo-report's HTML) and Slurm with munge (a real single-node
#            cluster runs scripts/slurm/hpo.sbatch; the test starts its own
#            daemons). scripts/test.sh passes it; scripts/demo.sh does not.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # common/, coordinator/, results/
  nlohmann-json3-dev libsqlite3-dev sqlite3 libzmq3-dev cppzmq-dev
  libboost-program-options-dev
  # features/
  libfftw3-dev libsndfile1-dev libsoxr-dev
  # worker/
  libtorch-dev
  # tests and benchmarks: GoogleTest; python3 for the report's rendering
  # check, the deployment checks and the PyTorch baselines
  libgtest-dev libgmock-dev python3
)
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=(chromium fonts-dejavu-core slurmctld slurmd slurm-client munge)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "install-deps: need root to install: ${missing[*]} (run as root or install sudo)" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
