#!/usr/bin/env bash
# Installs every build and test dependency of hpo from Debian 12 packages.
# Idempotent: packages already present are skipped, so a second run is quick.
# Usage: scripts/install-deps.sh [--tests]  (as root, or with sudo available)
#   --tests  also what only the test suite and the benchmarks need: headless
#            Chromium (renders hpo-report's HTML), Slurm with munge (a real
#            single-node cluster runs scripts/slurm/hpo.sbatch; the test
#            starts its own daemons), iproute2 (network namespaces), and the
#            python3 packages the reference scripts and peers import.
#            scripts/test.sh passes it; scripts/demo.sh does not.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # common/, coordinator/, results/
  nlohmann-json3-dev libsqlite3-dev sqlite3 libzmq3-dev cppzmq-dev
  libboost-program-options-dev
  # features/
  libfftw3-dev libsndfile1-dev libsoxr-dev libsox-dev
  # results/: hpo-report --serve's HTTP server
  libcpp-httplib-dev
  # worker/
  libtorch-dev
  # tests and benchmarks: GoogleTest; python3 for the report's rendering
  # check, the deployment checks and the PyTorch baselines
  libgtest-dev libgmock-dev python3
)
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=(
    # the report rendered in a real browser (render_report_test), and the
    # live page driven over the DevTools protocol (live_report_test)
    chromium fonts-dejavu-core python3-websocket
    # a real one-node Slurm cluster (slurm_test)
    slurmctld slurmd slurm-client munge
    # network namespaces, veth/TAP links and routes (netns_test)
    iproute2
    # PyYAML cross-checks the Kubernetes manifests' reader (k8s_manifests_test)
    python3-yaml
    # what the reference scripts, baselines and peers under tests/ and bench/
    # import: numpy and soundfile (the librosa-in-numpy mel baselines), torch
    # (PyTorch models, LR schedules, optimizer steps) and optuna (the
    # head-to-head peer, the storage bench); torch also runs
    # examples/pytorch_script under the command trainer (command_trainer_test,
    # torch_trainer_test's trainer suite); sklearn, for Optuna's fANOVA
    # importance evaluator that search_test checks hpo's importances against
    python3-numpy python3-soundfile python3-torch python3-optuna
    python3-sklearn
    # Rubber Band, which bench/augment_bench compares with the SoX tempo
    # effect hpo-prep renders augmented copies with
    librubberband-dev
  )
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
