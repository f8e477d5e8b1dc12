#!/usr/bin/env bash
# hpo on a GPU, in one short run for a session that is lent one (the device
# tool's 15 minutes): builds hpo against the machine's own LibTorch and the
# .deb files of bench/gpu/fetch-debs.sh, then measures, printing each figure
# with the command that produced it.
#
# The machine: Linux x86-64 with an NVIDIA GPU and its driver, a C++
# compiler, CMake >= 3.22, ninja and a python3 whose torch is a CUDA build
# (PyTorch's bundled LibTorch: torch.utils.cmake_prefix_path), but none of
# Debian's -dev packages and no apt. Nothing is installed: the .deb files
# are unpacked into a prefix (dpkg-deb, or ar and tar), their pkg-config
# files pointed at it, and LD_LIBRARY_PATH set to it.
#
#   1. the machine: GPU, driver, compiler, CMake, torch;
#   2. the prefix from the .deb files, then hpo-worker, hpo-coordinator,
#      hpo-prep and train_bench built against that LibTorch (Release; C++17,
#      or C++20 if the LibTorch needs it);
#   3. hpo-worker --device auto: which device it picks and says it picked;
#   4. datasets made with hpo-prep (synth, fma, features-csv);
#   5. train_bench on the device for every model at batch 32 and 128
#      (samples/s of a warm epoch through the real trainer, of the model on
#      a constant tensor, and whether the features were resident on the GPU);
#   6. GPU-resident features against the pinned-memory stream
#      (trainer.data_on_device "auto" against "never");
#   7. bf16 autocast (trainer.amp) against fp32;
#   8. a small LibTorch study with one worker at --slots 1, 2 and 4: trials
#      per hour, and GPU utilisation and memory sampled by nvidia-smi every
#      0.5 s during the run.
# About 2.5 minutes on one H200 with 16 cores (the build is 1 of them);
# --quick makes the datasets and the study smaller (about 100 s).
#
# Usage: bench/gpu/run.sh [--debs DIR (.gpu-debs)] [--prefix DIR]
#          [--build DIR] [--torch CMAKE_PREFIX] [--device auto|cuda:N|cpu]
#          [--quick] [--out DIR ($OUT, else /tmp/hpo-gpu-out)]
#          [--models "cnn ..."] [--batches "32 128"] [--tracks N per class]
#          [--trials N] [--hide-system-dev]
#   --torch         the directory holding Torch's CMake package (default:
#                   python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
#   --hide-system-dev  the rehearsal on a Debian machine that has hpo's
#                   -dev packages installed: runs in a private mount
#                   namespace (root) where their headers, libraries,
#                   pkg-config and CMake files are hidden under empty
#                   mounts, so that only the prefix can satisfy the build
#                   (with --device cpu and --torch of Debian's libtorch-dev:
#                   /usr/lib/x86_64-linux-gnu/cmake).
# Writes the whole log to OUT/gpu_run.log and the figures to
# OUT/gpu_figures.md (for BENCHMARKS.md).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ORIG_ARGS=("$@")
DEBS=.gpu-debs
PREFIX=/tmp/hpo-gpu-prefix
BUILD=/tmp/hpo-gpu-build
TORCH_DIR=""
DEVICE=auto
QUICK=0
OUT_DIR=${OUT:-/tmp/hpo-gpu-out}
HIDE=0
MODELS="cnn unet_encoder crnn dcnn dcrnn resnet mlp"
BATCHES="32 128"
MEL_TRACKS=""
TRIALS=""
die() {
  echo "gpu/run.sh: $*" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --debs) DEBS=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --torch) TORCH_DIR=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --out) OUT_DIR=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --models) MODELS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --tracks) MEL_TRACKS=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --hide-system-dev) HIDE=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case $DEVICE in auto | cpu | cuda | cuda:[0-9]*) ;; *) die "--device $DEVICE: expected auto, cpu, cuda or cuda:N" ;; esac
ls "$DEBS"/*.deb >/dev/null 2>&1 ||
  die "no .deb files in $DEBS: run bench/gpu/fetch-debs.sh on a Debian 12 machine first and carry $DEBS"

# The Debian packages whose files the rehearsal hides (fetch-debs.sh's
# list, less pkgconf and the libraries other programs here load).
HIDDEN_PACKAGES=(nlohmann-json3-dev cppzmq-dev libzmq3-dev libsqlite3-dev
  libboost1.74-dev libboost-program-options1.74-dev libfftw3-dev
  libsndfile1-dev libsoxr-dev libzmq5 libsodium23 libpgm-5.3-0 libnorm1
  libsqlite3-0 libboost-program-options1.74.0 libfftw3-double3
  libfftw3-single3 libfftw3-long3 libfftw3-quad3 libsndfile1 libsoxr0
  libsoxr-lsr0)
if [ "$HIDE" = 1 ] && [ -z "${HPO_GPU_HIDDEN:-}" ]; then
  [ "$(id -u)" = 0 ] || die "--hide-system-dev needs root (a private mount namespace)"
  command -v unshare >/dev/null || die "--hide-system-dev needs unshare (util-linux)"
  exec unshare --mount --propagation private env HPO_GPU_HIDDEN=1 bash "$0" "${ORIG_ARGS[@]}"
fi

mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_run.log
FIGURES=$OUT_DIR/gpu_figures.md
exec > >(tee "$LOG") 2>&1
: >"$FIGURES"
T0=$SECONDS
stage() { echo; echo "== $1 [$((SECONDS - T0)) s]"; }
fig() { echo "$*" | tee -a "$FIGURES" >/dev/null; echo "$*"; }
run() { echo "+ $*"; "$@"; }

if [ -n "${HPO_GPU_HIDDEN:-}" ]; then
  stage "0. hiding the Debian packages that the prefix replaces"
  empty_dir=$(mktemp -d /tmp/hpo-hidden-dir.XXXXXX)
  empty_file=$(mktemp /tmp/hpo-hidden-file.XXXXXX)
  hidden=0
  covered=""
  for pkg in "${HIDDEN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || continue
    while read -r path; do
      case $path in
        /usr/include/x86_64-linux-gnu | /usr/include | /usr/lib/x86_64-linux-gnu | \
          /usr/lib/x86_64-linux-gnu/cmake | /usr/lib/x86_64-linux-gnu/pkgconfig | \
          /usr/share/cmake | /usr/share/pkgconfig | /usr/share/doc* | /usr/share/man*) continue ;;
      esac
      case $path in
        /usr/include/* | /usr/lib/x86_64-linux-gnu/* | /usr/share/cmake/* | /usr/share/pkgconfig/*) ;;
        *) continue ;;
      esac
      # A directory a package owns whole (boost/, cmake/Boost-1.74.0/, ...)
      # is covered once; what is under it (listed right after it: the list
      # is sorted) then needs nothing more.
      if [ -n "$covered" ] && [[ $path == "$covered"/* ]]; then continue; fi
      if [ -d "$path" ] && [ ! -L "$path" ]; then
        mount --bind "$empty_dir" "$path" && hidden=$((hidden + 1))
        covered=$path
      elif [ -e "$path" ]; then
        mount --bind "$empty_file" "$path" && hidden=$((hidden + 1))
      fi
    done < <(dpkg -L "$pkg" | awk 'length($0) > 1' | sort)
  done
  echo "hid $hidden files and directories of ${#HIDDEN_PACKAGES[@]} packages"
  for f in /usr/include/zmq.h /usr/include/sqlite3.h /usr/include/fftw3.h /usr/include/sndfile.h; do
    [ ! -s "$f" ] || die "rehearsal: $f is still visible"
  done
  [ -z "$(ls -A /usr/include/boost 2>/dev/null)" ] || die "rehearsal: /usr/include/boost is still visible"
fi

stage "1. the machine"
echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/GPU: /'
  HAVE_SMI=1
else
  echo "GPU: no nvidia-smi here"
  HAVE_SMI=0
fi
CXX=${CXX:-$(command -v g++ || command -v c++ || true)}
[ -n "$CXX" ] || die "no C++ compiler (g++ or c++) on PATH"
echo "compiler: $("$CXX" --version | head -1); $(cmake --version | head -1); ninja $(ninja --version)"
PYTHON=${PYTHON:-python3}
if [ -z "$TORCH_DIR" ]; then
  TORCH_DIR=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) ||
    die "no --torch given and $PYTHON has no torch (give --torch DIR: where TorchConfig.cmake's Torch/ lies)"
fi
echo "torch: $("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "sees", torch.cuda.device_count(), "GPU(s)")' 2>&1 | tail -1); CMake package under $TORCH_DIR"
JOBS=$(nproc)

stage "2. the prefix ($PREFIX) and the build ($BUILD)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
for deb in "$DEBS"/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$PREFIX"
  else
    scratch=$(mktemp -d)
    (cd "$scratch" && ar x "$ROOT/$deb" && tar -xf data.tar.* -C "$PREFIX")
    rm -rf "$scratch"
  fi
done
# Absolute symbolic links in the packages point into /usr: into the prefix.
while read -r link; do
  target=$(readlink "$link")
  case $target in /*) ln -sfn "$PREFIX$target" "$link" ;; esac
done < <(find "$PREFIX" -type l)
# pkg-config files: their paths into the prefix; Requires.private only
# matters for static linking and names packages that are not carried.
for pc in "$PREFIX"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$PREFIX"/usr/share/pkgconfig/*.pc; do
  [ -f "$pc" ] || continue
  sed -i -e "s|^\([A-Za-z_]*\)=/usr|\1=$PREFIX/usr|" -e "s|\([ :]-[LI]\)/usr/|\1$PREFIX/usr/|g" \
    -e '/^Requires.private:/d' "$pc"
done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig:$PREFIX/usr/share/pkgconfig
PKG_CONFIG=$(command -v pkg-config || true)
[ -n "$PKG_CONFIG" ] || PKG_CONFIG=$PREFIX/usr/bin/pkgconf
echo "$(ls "$DEBS"/*.deb | wc -l) packages unpacked; pkg-config: $PKG_CONFIG $("$PKG_CONFIG" --version)"
"$PKG_CONFIG" --cflags --libs libzmq sndfile soxr fftw3 sqlite3 >/dev/null ||
  die "pkg-config cannot resolve the carried packages (see above)"

configure() {  # CXX_STANDARD
  local cuda=()
  if command -v nvcc >/dev/null; then
    cuda=(-DCUDAToolkit_ROOT="$(dirname "$(dirname "$(command -v nvcc)")")"
          -DCMAKE_CUDA_COMPILER="$(command -v nvcc)")
  fi
  rm -rf "$BUILD"
  run cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_STANDARD="$1" \
    -DHPO_BUILD_TESTS=OFF -DHPO_BUILD_BENCH=ON \
    -DCMAKE_PREFIX_PATH="$PREFIX/usr;$TORCH_DIR" \
    -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    "${cuda[@]}" >"$OUT_DIR/cmake.log" 2>&1 &&
    run cmake --build "$BUILD" --parallel "$JOBS" \
      --target hpo-worker hpo-coordinator hpo-prep train_bench -- -k 0 >"$OUT_DIR/build.log" 2>&1
}
built=0
for std in 17 20; do
  if configure "$std"; then
    built=1
    echo "built with C++$std in $((SECONDS - T0)) s"
    break
  fi
  echo "the C++$std build failed; its last lines:"
  tail -n 25 "$OUT_DIR/cmake.log" 2>/dev/null
  # Every failing file (ninja -k 0 went on past the first), first lines of each.
  grep -E -A4 'FAILED:|error:' "$OUT_DIR/build.log" 2>/dev/null | head -n 120 || true
  # Only a LibTorch that needs a newer standard is worth a second build.
  grep -qiE 'c\+\+ ?2[0-9]|std=c\+\+2|requires.*C\+\+' "$OUT_DIR/cmake.log" "$OUT_DIR/build.log" 2>/dev/null ||
    break
done
[ "$built" = 1 ] || { echo "gpu/run.sh: hpo did not build (logs in $OUT_DIR)" >&2; exit 1; }
grep -E "Found Torch|Found CUDA|CUDA" "$OUT_DIR/cmake.log" | head -5 || true
BIN=$BUILD
PREP=$BIN/features/hpo-prep
WORKER=$BIN/worker/hpo-worker
COORD=$BIN/coordinator/hpo-coordinator
BENCH=$BIN/bench/train_bench
for lib in libtorch libzmq libsndfile libsoxr libfftw3 libsqlite3 libboost_program_options; do
  ldd "$WORKER" "$COORD" "$PREP" 2>/dev/null | grep -m1 "$lib" | sed 's/^\s*/  links /' || true
done

WORK=$(mktemp -d /tmp/hpo-gpu-work.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a coordinator on STUDY with DB in the background: sets ENDPOINT
# (what it bound) and COORD_PID.
start_coordinator() {  # STUDY DB LOG
  "$COORD" --study "$1" --db "$2" --bind 'tcp://127.0.0.1:*' 2>"$3" >/dev/null &
  COORD_PID=$!
  PIDS+=("$COORD_PID")
  ENDPOINT=""
  for _ in $(seq 100); do
    ENDPOINT=$(sed -n 's/.*listening on \(tcp:[^,]*\),.*/\1/p' "$3" | head -1)
    [ -n "$ENDPOINT" ] && break
    sleep 0.1
  done
  [ -n "$ENDPOINT" ] || { cat "$3" >&2; die "the coordinator did not start"; }
}

stage "3. hpo-worker --device auto"
cat >"$WORK/auto.json" <<'EOF'
{"name": "device_auto", "seed": 1,
 "objective": {"metric": "val_accuracy", "mode": "max"},
 "trainer": {"model": "synthetic", "epoch_seconds": 0.01},
 "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
 "algorithm": {"type": "random", "max_epochs": 2},
 "budget": {"max_trials": 2}}
EOF
start_coordinator "$WORK/auto.json" "$WORK/auto.db" "$WORK/auto-coordinator.log"
run "$WORKER" --connect "$ENDPOINT" --device auto --name auto --exit-when-done 2>"$WORK/auto-worker.log"
chosen=$(sed -n 's/.*slot(s) on \([^ ]*\) (\(.*\))$/\1 (\2)/p' "$WORK/auto-worker.log" | head -1)
fig "- \`hpo-worker --device auto\` chose: $chosen; the coordinator recorded: $(grep -o 'devices \[[^]]*\]' "$WORK/auto-coordinator.log" | head -1)"
wait "$COORD_PID" || true
if [ "$DEVICE" = auto ]; then DEVICE=${chosen%% *}; fi
echo "the runs below use --device $DEVICE"

stage "4. datasets"
if [ "$QUICK" = 1 ]; then
  MEL_TRACKS=${MEL_TRACKS:-16} VECTOR_TRACKS=2000 TRIALS=${TRIALS:-4}
else
  MEL_TRACKS=${MEL_TRACKS:-96} VECTOR_TRACKS=8000 TRIALS=${TRIALS:-12}
fi
TMP=$WORK
# shellcheck source=../lib/datasets.sh
. bench/lib/datasets.sh
make_mel mel "$MEL_TRACKS" 1
case " $MODELS " in *" mlp "*) make_vectors vectors "$VECTOR_TRACKS" ;; esac

# One train_bench run; prints "train_sps const_sps resident" of its results.
bench() {  # MODEL BATCH TRAINER_JSON TAG
  local data=$WORK/mel out=$WORK/bench-$1-$2-$4.txt
  [ "$1" = mlp ] && data=$WORK/vectors
  echo "+ $BENCH --model $1 --shards $data --batch-size $2 --device $DEVICE --threads 4 --epochs 2 --warmup-steps 5 --trainer '$3'" >&2
  "$BENCH" --model "$1" --shards "$data" --batch-size "$2" --device "$DEVICE" \
    --threads 4 --epochs 2 --warmup-steps 5 --trainer "$3" >"$out" 2>&1 ||
    { tail -5 "$out" >&2; echo "failed failed -"; return 0; }
  awk '/^result last_train_sps/ {t=$3} /^result const_sps/ {c=$3} /^result resident/ {r=$3}
       END {printf "%.0f %.0f %s\n", t, c, (r == 1 ? "yes" : "no")}' "$out"
}

stage "5. train_bench on $DEVICE: $MODELS at batch $BATCHES"
fig ""
fig "### train_bench on $DEVICE ($(date -u +%Y-%m-%d), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
fig ""
fig "Command: \`bench/gpu/run.sh ${ORIG_ARGS[*]}\`; each row \`train_bench --model M --batch-size B --device $DEVICE --threads 4 --epochs 2 --warmup-steps 5\`; samples/s of the second (warm) epoch's training loop, and of the model on a constant tensor (fp32)."
fig ""
fig "| model | batch | trainer samples/s | constant tensor samples/s | data-path efficiency | features on the GPU |"
fig "|---|---|---|---|---|---|"
for model in $MODELS; do
  for batch in $BATCHES; do
    read -r t c r < <(bench "$model" "$batch" '{}' fp32)
    eff=$(awk -v t="$t" -v c="$c" 'BEGIN {if (c > 0 && t > 0) printf "%.2f", t / c; else print "-"}')
    fig "| $model | $batch | $t | $c | $eff | $r |"
  done
done

# A table of two trainer settings side by side at batch 128, for those of
# MODELS that match PATTERN, with the ratio of the second to the first.
compare() {  # PATTERN HEADER TRAINER_A TRAINER_B
  fig ""
  fig "$2"
  fig "|---|---|---|---|"
  local model a b ra rb
  for model in $(echo "$MODELS" | tr ' ' '\n' | grep -E "^($1)\$"); do
    read -r a _ ra < <(bench "$model" 128 "$3" a)
    read -r b _ rb < <(bench "$model" 128 "$4" b)
    fig "| $model | $a ($ra) | $b ($rb) | $(awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.2fx", b / a; else print "-"}') |"
  done
}

stage "6. GPU-resident features against the pinned-memory stream"
compare 'cnn|resnet' \
  "| model, batch 128 | resident (data_on_device auto) samples/s (on the GPU) | streamed (data_on_device never) samples/s | streamed / resident |" \
  '{}' '{"data_on_device": "never"}'

stage "7. bf16 autocast (trainer.amp) against fp32"
compare 'cnn|crnn|resnet' \
  "| model, batch 128 | fp32 samples/s (features on the GPU) | amp (bf16) samples/s | amp / fp32 |" \
  '{}' '{"amp": true}'

stage "8. a study on one worker at --slots 1, 2 and 4"
cat >"$WORK/slots.json" <<EOF
{"name": "slots", "seed": 3,
 "objective": {"metric": "val_accuracy", "mode": "max"},
 "data": {"shards": "$WORK/mel"},
 "trainer": {"model": "cnn", "optimizer": "adam", "batch_size": 64},
 "search_space": {"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
                  "channels": {"type": "choice", "values": [[32, 64, 128, 128], [64, 64, 128, 128]]}},
 "algorithm": {"type": "random", "max_epochs": 3},
 "budget": {"max_trials": $TRIALS},
 "execution": {"max_attempts": 2, "heartbeat_s": 1, "lease_timeout_s": 60}}
EOF
fig ""
fig "Study: cnn, batch 64, random search over lr and channels, $TRIALS trials x 3 epochs on the mel dataset of step 4 ($MEL_TRACKS tracks per class), one \`hpo-worker --device $DEVICE --slots S\`; GPU utilisation and memory from \`nvidia-smi --query-gpu=utilization.gpu,memory.used -lms 500\` during the run."
fig ""
fig "| slots | wall (s) | trials per hour | GPU utilisation mean / p90 (%) | GPU memory max (MiB) |"
fig "|---|---|---|---|---|"
for slots in 1 2 4; do
  db=$WORK/slots-$slots.db
  start_coordinator "$WORK/slots.json" "$db" "$WORK/slots-$slots-coordinator.log"
  smi_pid=""
  if [ "$HAVE_SMI" = 1 ]; then
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
      >"$WORK/smi-$slots.csv" 2>/dev/null &
    smi_pid=$!
    PIDS+=("$smi_pid")
  fi
  start=$(date +%s.%N)
  run "$WORKER" --connect "$ENDPOINT" --device "$DEVICE" --slots "$slots" --threads 2 \
    --checkpoints "$WORK/ckpt-$slots" --name "slots$slots" --exit-when-done 2>"$WORK/slots-$slots-worker.log" ||
    tail -5 "$WORK/slots-$slots-worker.log"
  wait "$COORD_PID" || tail -5 "$WORK/slots-$slots-coordinator.log"
  end=$(date +%s.%N)
  [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null || true
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
  rate=$(awk -v w="$wall" -v n="$TRIALS" 'BEGIN {printf "%.0f", n / w * 3600}')
  util="-" mem="-"
  if [ -s "$WORK/smi-$slots.csv" ]; then
    util=$(tr -d ' ' <"$WORK/smi-$slots.csv" | cut -d, -f1 | sort -n |
      awk '{v[NR] = $1; s += $1} END {i = int(NR * 0.9); if (i < 1) i = 1; printf "%.0f / %.0f", s / NR, v[i]}')
    mem=$(tr -d ' ' <"$WORK/smi-$slots.csv" | cut -d, -f2 | sort -n | tail -1)
  fi
  fig "| $slots | $wall | $rate | $util | $mem |"
done

stage "done"
echo "figures: $FIGURES; log: $LOG"
cat "$FIGURES"
