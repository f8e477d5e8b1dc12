# Sourced by the scripts that start background processes (scripts/demo.sh,
# bench/peer/run.sh). They add each process they start to PIDS; when the
# script ends, fails, or gets Ctrl-C or SIGTERM, each is stopped (its whole
# process group when it leads one, as after setsid) and waited for, and a
# script that failed says where to look (STOPPED_HINT, set by the script).
PIDS=()
STOPPED_HINT=""
stop_children() {
  local code=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$code" -ne 0 ]; then
    echo "$(basename "$0"): stopped (exit $code)${STOPPED_HINT:+; $STOPPED_HINT}" >&2
  fi
  exit "$code"
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
