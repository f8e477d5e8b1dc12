#!/usr/bin/env bash
# hpo-report --serve in a real browser, while a real study runs: a
# coordinator and a worker (the synthetic trainer, on loopback), the live
# page served from the results database, and headless Chromium driven over
# the DevTools protocol (live_report_check.py) watching the page: new
# trials and curve points must appear as the worker reports them, without
# a reload, and the page must end showing the finished study.
#
# Usage: live_report_test.sh HPO_COORDINATOR HPO_WORKER HPO_REPORT
# Exits 0 when every check passes, 1 when one fails, 77 (skipped) when
# Chromium or python3-websocket is missing (a failure instead under
# HPO_REQUIRE_ALL=1, see tests/util/skip.sh). HPO_KEEP_LIVE=1 keeps the
# files.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 HPO_COORDINATOR HPO_WORKER HPO_REPORT" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../util/skip.sh
. "$here/../util/skip.sh"

find_chromium
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
[ -n "$python" ] || skip "python3 is needed to drive the browser"
"$python" -c "import websocket" 2> /dev/null ||
  skip "python3-websocket is needed to drive the browser over the DevTools" \
    "protocol: apt-get install -y python3-websocket"
exec "$python" "$here/live_report_check.py" "$1" "$2" "$3" "$browser"
