#!/usr/bin/env bash
# Downloads, here (Debian 12, apt), the .deb files that bench/gpu/run.sh
# unpacks on a GPU machine that has PyTorch's bundled LibTorch, a compiler,
# CMake and ninja, but none of hpo's other build dependencies and no apt:
# the headers, CMake/pkg-config files and shared libraries of nlohmann_json,
# ZeroMQ + cppzmq, SQLite, Boost.Program_options, FFTW3, libsndfile, libsoxr,
# and pkgconf, with the runtime libraries they load. The toolchain's own
# libraries (libc, libstdc++, libgcc, libgomp, ...) are left out on purpose:
# the GPU machine's are newer and must not be shadowed. About 14 MB.
#
# Usage: bench/gpu/fetch-debs.sh [DIR (default .gpu-debs, git-ignored)]
# Then carry DIR to the GPU machine with the working tree (the device tool:
# carry [".gpu-debs"]) and run bench/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-.gpu-debs}

PACKAGES=(
  # headers, CMake packages, pkg-config files
  nlohmann-json3-dev cppzmq-dev libzmq3-dev libsqlite3-dev
  libboost1.74-dev libboost-program-options1.74-dev
  libfftw3-dev libsndfile1-dev libsoxr-dev
  # the libraries hpo's binaries load, and theirs
  libzmq5 libsodium23 libpgm-5.3-0 libnorm1 libbsd0 libmd0
  libsqlite3-0 libboost-program-options1.74.0
  libfftw3-double3 libfftw3-single3 libfftw3-long3 libfftw3-quad3
  libsndfile1 libflac12 libogg0 libvorbis0a libvorbisenc2 libopus0
  libmpg123-0 libmp3lame0 libsoxr0 libsoxr-lsr0
  # pkg-config, for a machine without one
  pkgconf-bin libpkgconf3
)

command -v apt-get >/dev/null || {
  echo "fetch-debs.sh: needs apt-get (run it on Debian 12, where hpo is developed)" >&2
  exit 2
}
mkdir -p "$DIR"
cd "$DIR"
rm -f ./*.deb
echo "fetch-debs.sh: downloading ${#PACKAGES[@]} packages into $DIR"
apt-get download "${PACKAGES[@]}" >/dev/null
ls ./*.deb | wc -l | xargs echo "fetch-debs.sh: .deb files:"
du -sh . | cut -f1 | xargs echo "fetch-debs.sh: size:"
