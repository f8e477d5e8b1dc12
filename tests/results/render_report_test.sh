#!/usr/bin/env bash
# hpo-report's page in a real browser: runs a real study (hpo-coordinator
# and two hpo-worker processes with the synthetic trainer, on loopback),
# writes its report with hpo-report, and has headless Chromium
#   1. parse it and dump the DOM, with a script (added to a copy of the page)
#      that measures every plot after layout: each plot must be there, in
#      the SVG namespace, with as many curves, lines and bars as the
#      database has trials and attempts, and a drawing of non-zero size;
#   2. take a screenshot of the page: each plot's region must hold ink, in
#      the plot's own colours.
# The synthetic trainer evaluates nothing, so before the report an
# evaluation of the best trial is recorded in the database, as a LibTorch
# trainer's would be, so that the confusion matrix is drawn too.
#
# Usage: render_report_test.sh HPO_COORDINATOR HPO_WORKER HPO_REPORT SOURCE_DIR
# Exits 0 when every check passes, 1 when one fails, 77 (skipped) when no
# Chromium is installed (Debian: apt-get install chromium; a failure instead
# under HPO_REQUIRE_ALL=1, see tests/util/skip.sh). Set
# HPO_KEEP_RENDER=1 to keep the files (database, page, DOM, screenshot).
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 HPO_COORDINATOR HPO_WORKER HPO_REPORT SOURCE_DIR" >&2
  exit 2
fi
coordinator=$1
worker=$2
report=$3
source_dir=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../util/skip.sh
. "$here/../util/skip.sh"
check="$here/render_report_check.py"
study=synthetic_hyperband
width=1100

find_chromium
command -v python3 > /dev/null 2>&1 || skip "python3 is needed to check the rendering"

work=$(mktemp -d "${TMPDIR:-/tmp}/hpo_render_XXXXXX")
pids=()
finish() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2> /dev/null || true
  done
  wait 2> /dev/null || true
  if [ "$status" -ne 0 ] || [ -n "${HPO_KEEP_RENDER:-}" ]; then
    echo "files kept in $work"
  else
    rm -rf "$work"
  fi
}
trap finish EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

started=$SECONDS
step() {
  echo "[$((SECONDS - started)) s] $*"
}

# Runs Chromium headless on the page $2 with a window $1 pixels high (the
# width is fixed, so that the layout measured and the one shot are the
# same), with the extra arguments that follow.
run_browser() {
  local height=$1 page=$2
  shift 2
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
    --hide-scrollbars --force-device-scale-factor=1 --no-first-run \
    --no-default-browser-check --disable-extensions --mute-audio \
    --user-data-dir="$work/profile" --window-size="$width,$height" \
    "$@" "file://$page" 2>> "$work/chromium.log"
}

# --- 1. A real study --------------------------------------------------------
step "running study $study with 2 workers"
: > "$work/coordinator.log"
"$coordinator" --study "$source_dir/studies/$study.json" \
  --db "$work/results.db" --bind 'tcp://127.0.0.1:*' \
  > "$work/coordinator.out" 2> "$work/coordinator.log" &
coordinator_pid=$!
pids+=("$coordinator_pid")
endpoint=""
for _ in $(seq 300); do
  endpoint=$(sed -n 's/.*listening on \([^ ,]*\).*/\1/p' "$work/coordinator.log" |
    head -n 1 || true)
  [ -n "$endpoint" ] && break
  kill -0 "$coordinator_pid" 2> /dev/null || fail "hpo-coordinator exited: $(cat "$work/coordinator.log")"
  sleep 0.1
done
[ -n "$endpoint" ] || fail "hpo-coordinator did not say where it listens"
for name in node-a node-b; do
  "$worker" --connect "$endpoint" --name "$name" --slots 2 --exit-when-done \
    > "$work/$name.log" 2>&1 &
  pids+=($!)
done
status=0
timeout 300 tail --pid="$coordinator_pid" -f /dev/null || fail "the study took over 300 s"
wait "$coordinator_pid" || status=$?
[ "$status" -eq 0 ] || fail "hpo-coordinator exited $status: $(tail -n 5 "$work/coordinator.log")"
for pid in "${pids[@]:1}"; do  # The workers leave when the study is done.
  timeout 30 tail --pid="$pid" -f /dev/null || fail "a worker did not exit"
done
tail -n 1 "$work/coordinator.out"

# --- 2. Its report ----------------------------------------------------------
python3 "$check" add-evaluation "$work/results.db" "$study"
step "writing the report"
"$report" --db "$work/results.db" --study "$study" --out "$work/report.html"

# --- 3. Parsed and laid out by Chromium -------------------------------------
python3 "$check" instrument "$work/report.html" "$work/measure.html"
step "Chromium: DOM and layout"
run_browser 900 "$work/measure.html" --dump-dom > "$work/dom.html" ||
  fail "chromium --dump-dom failed: $(tail -n 3 "$work/chromium.log")"
python3 "$check" check-dom "$work/dom.html" "$work/results.db" "$study" \
  > "$work/check-dom.txt" || status=$?
cat "$work/check-dom.txt"
[ "$status" -eq 0 ] || fail "the page as Chromium parsed it"
height=$(sed -n 's/^page-height //p' "$work/check-dom.txt")

# --- 4. Rendered by Chromium ------------------------------------------------
step "Chromium: screenshot ${width}x$height"
run_browser "$height" "$work/report.html" --screenshot="$work/report.png" ||
  fail "chromium --screenshot failed: $(tail -n 3 "$work/chromium.log")"
[ -s "$work/report.png" ] || fail "chromium wrote no screenshot"
python3 "$check" check-pixels "$work/report.png" "$work/dom.html" ||
  fail "the page as Chromium drew it"
step "the report renders: every plot present and drawn"
