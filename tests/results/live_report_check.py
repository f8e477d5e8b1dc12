"""Watches hpo-report --serve's page in headless Chromium while a study runs.

Usage: live_report_check.py HPO_COORDINATOR HPO_WORKER HPO_REPORT CHROMIUM
(see live_report_test.sh). Exits 0 when every check passes, 1 otherwise.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket (websocket-client)

TRIALS, EPOCHS = 6, 6


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_line_matching(stream, pattern, deadline, what):
    while time.time() < deadline:
        line = stream.readline()
        if not line:
            time.sleep(0.05)
            continue
        m = re.search(pattern, line)
        if m:
            return m
    raise SystemExit("FAIL: no %s within the time allowed" % what)


class Page:
    """One browser tab over the DevTools protocol."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                 "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit("FAIL: %s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise SystemExit("FAIL: script error: %s" % r["exceptionDetails"])
        return r["result"].get("value")


STATE = """JSON.stringify({
  marker: window.hpoMarker || null,
  updates: window.hpoLive ? window.hpoLive.updates : -1,
  failures: window.hpoLive ? window.hpoLive.failures : -1,
  progress: (document.getElementById('progress') || {}).textContent || '',
  state: (document.getElementById('study-state') || {}).textContent || '',
  rows: document.querySelectorAll('#leaderboard tbody tr').length,
  curves: document.querySelectorAll('#curves path.curve[data-trial]').length,
  points: Array.prototype.reduce.call(
      document.querySelectorAll('#curves path.curve[data-trial]'),
      function (a, p) { return a + (+p.getAttribute('data-points') || 0); }, 0)
})"""


def main():
    coordinator, worker, report, chromium = sys.argv[1:5]
    work = tempfile.mkdtemp(prefix="hpo_live_")
    procs = []
    ok = False
    try:
        study = {
            "name": "live", "seed": 4,
            "objective": {"metric": "val_accuracy", "mode": "max"},
            "trainer": {"model": "synthetic", "epoch_seconds": 0.4},
            "search_space": {
                "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
            "algorithm": {"type": "random", "max_epochs": EPOCHS},
            "budget": {"max_trials": TRIALS},
            "execution": {"heartbeat_s": 0.5, "lease_timeout_s": 10}}
        with open(os.path.join(work, "study.json"), "w") as f:
            json.dump(study, f)
        db = os.path.join(work, "results.db")
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        log = lambda name: open(os.path.join(work, name), "w")
        procs.append(subprocess.Popen(
            [coordinator, "--study", os.path.join(work, "study.json"), "--db",
             db, "--bind", endpoint], stdout=log("coordinator.log"),
            stderr=subprocess.STDOUT))
        deadline = time.time() + 30
        while not os.path.exists(db) and time.time() < deadline:
            time.sleep(0.05)

        server = subprocess.Popen(
            [report, "--db", db, "--serve", "127.0.0.1:0", "--interval",
             "0.3"], stdout=subprocess.PIPE, stderr=log("serve.err"),
            text=True)
        procs.append(server)
        url = read_line_matching(server.stdout, r"(http://127\.0\.0\.1:\d+/)",
                                 time.time() + 20, "serving line").group(1)

        browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-port=0",
             "--user-data-dir=" + os.path.join(work, "profile"),
             "about:blank"], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        procs.append(browser)
        devtools = read_line_matching(
            browser.stderr, r"DevTools listening on ws://([\d.]+:\d+)/",
            time.time() + 60, "DevTools line").group(1)
        targets = json.load(urllib.request.urlopen(
            "http://%s/json/list" % devtools, timeout=10))
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise SystemExit("FAIL: Chromium has no page to drive")
        page = Page(pages[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=url)
        deadline = time.time() + 30
        while page.eval("document.readyState") != "complete":
            if time.time() > deadline:
                raise SystemExit("FAIL: the page did not load")
            time.sleep(0.05)
        page.eval("window.hpoMarker = 'first load'")
        first = json.loads(page.eval(STATE))
        print("before any worker:", first)
        if first["points"] != 0 or first["rows"] != 0:
            raise SystemExit("FAIL: the study has no worker yet, but the "
                             "page shows results: %s" % first)

        procs.append(subprocess.Popen(
            [worker, "--connect", endpoint, "--slots", "2", "--name", "w1"],
            stdout=log("worker.log"), stderr=subprocess.STDOUT))
        seen = []
        deadline = time.time() + 120
        while time.time() < deadline:
            s = json.loads(page.eval(STATE))
            if not seen or s != seen[-1]:
                seen.append(s)
            if s["state"] == "complete" and s["points"] == TRIALS * EPOCHS:
                break
            time.sleep(0.2)
        last = seen[-1]
        print("states seen: %d; last: %s" % (len(seen), last))
        problems = []
        if any(s["marker"] != "first load" for s in seen):
            problems.append("the page was reloaded (its marker is gone)")
        points = [s["points"] for s in seen]
        if points != sorted(points):
            problems.append("curve points went down: %s" % points)
        middle = sorted(set(p for p in points if 0 < p < TRIALS * EPOCHS))
        if len(middle) < 3:
            problems.append("fewer than 3 intermediate point counts seen "
                            "while the study ran: %s" % points)
        rows = [s["rows"] for s in seen]
        if len(set(r for r in rows if 0 < r < TRIALS)) < 1:
            problems.append("no leaderboard with part of the trials seen: %s"
                            % rows)
        if last["state"] != "complete":
            problems.append("the page never showed the study complete")
        if last["curves"] != TRIALS or last["points"] != TRIALS * EPOCHS:
            problems.append("final page: %d curves, %d points (want %d, %d)"
                            % (last["curves"], last["points"], TRIALS,
                               TRIALS * EPOCHS))
        if last["rows"] != TRIALS:
            problems.append("final leaderboard has %d rows" % last["rows"])
        if "complete" not in last["progress"]:
            problems.append("the progress line does not say complete: %r"
                            % last["progress"])
        if last["failures"] != 0 or last["updates"] < 3:
            problems.append("updates %d, failed fetches %d"
                            % (last["updates"], last["failures"]))
        # The static snapshot next to the live page has no script.
        static = urllib.request.urlopen(url + "report.html",
                                        timeout=10).read().decode()
        if "<script" in static or "Study live" not in static:
            problems.append("report.html is not the static report")
        for p in problems:
            print("FAIL:", p)
        ok = not problems
        if ok:
            print("PASS: the live page followed the study (%d states: "
                  "points %s) to the end without a reload"
                  % (len(seen), sorted(set(points))))
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if ok and not os.environ.get("HPO_KEEP_LIVE"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("files kept in", work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
