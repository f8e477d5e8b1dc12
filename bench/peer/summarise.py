#!/usr/bin/python3
"""Reads the runs of bench/peer/run.sh and prints the comparison tables.

Input: OUT/runs.jsonl, one line per run, written by run.sh:
  {"run": NAME, "side": "hpo"|"optuna", "algorithm": ..., "repeat": R,
   "order": 1|2, "workers": N, "start": T0, "end": T1, "cpu_s": S,
   "db": PATH, "out": DIR, "study": NAME}
hpo's figures come from its SQLite results (tables metrics, attempts,
evaluations: common/store.cc); Optuna's from the peer's logs (epochs.jsonl,
trials.jsonl, procs.jsonl, summary.json; bench/peer/optuna_peer.py) and its
RDB storage (trial states, intermediate values).

Columns, per run:
  wall s          from the launch of the first process to the exit of the
                  last, test-split evaluation of the best trial included;
  CPU s           user + system CPU of every process of that side;
  epochs          epochs trained (one metrics row / one report per epoch);
  trials          complete / pruned (and failed, if any);
  best val        the highest val_accuracy reported at any epoch;
  t(95%)          seconds from the launch until some epoch first reported
                  val_accuracy >= 95% of the better best val of the two sides
                  in that repeat (algorithms table: of the best of the three);
  test acc        the best trial's test-split accuracy (segments; tracks in
                  parentheses), evaluated on its final weights.
Where time goes (worker-seconds: workers x wall):
  train           inside epochs: training loop + validation;
  data            of which loading training batches (gather from the
                  mapped .npy, float16 -> float32, normalise): the peer's
                  own timers, and hpo's data_seconds metric;
  in-trial        inside a trial/attempt but outside its epochs: model and
                  optimizer set-up, checkpoint save/restore (hpo), Optuna's
                  report() + should_prune() calls (given apart as
                  "storage");
  between         the rest: process start-up (imports, mapping the data,
                  attaching to the storage), waiting for work (synchronous
                  Hyperband rungs in hpo), Optuna's ask/tell between trials,
                  the test evaluation at the end.
"""

import json
import os
import sqlite3
import statistics
import sys


def load_runs(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def hpo_figures(r):
    db = sqlite3.connect("file:%s?mode=ro" % r["db"], uri=True)
    sid = db.execute("SELECT id FROM studies WHERE name = ?",
                     (r["study"],)).fetchone()
    if sid is None:
        sys.exit("summarise: %s has no study %s" % (r["db"], r["study"]))
    sid = sid[0]
    rows = db.execute(
        "SELECT m.trial, m.epoch, m.val_accuracy, m.epoch_seconds, "
        "m.recorded_at FROM metrics m WHERE m.study_id = ? "
        "ORDER BY m.recorded_at", (sid,)).fetchall()
    # Workers from before data_seconds was reported leave it out: None.
    data_s = db.execute(
        "SELECT SUM(json_extract(all_metrics, '$.data_seconds')) "
        "FROM metrics WHERE study_id = ?", (sid,)).fetchone()[0]
    curve = [(t, acc) for _, _, acc, _, t in rows if acc is not None]
    states = dict(db.execute(
        "SELECT state, COUNT(*) FROM trials WHERE study_id = ? GROUP BY state",
        (sid,)).fetchall())
    attempts = db.execute(
        "SELECT worker, started_at, COALESCE(ended_at, started_at) "
        "FROM attempts WHERE study_id = ? ORDER BY started_at",
        (sid,)).fetchall()
    test = db.execute(
        "SELECT accuracy, track_accuracy, trial FROM evaluations "
        "WHERE study_id = ? AND split = 'test' AND state = 'complete'",
        (sid,)).fetchone()
    if test is None:
        test = db.execute(
            "SELECT accuracy, track_accuracy, trial FROM evaluations "
            "WHERE study_id = ? AND split = 'test'", (sid,)).fetchone()
    train = sum(s or 0 for _, _, _, s, _ in rows)
    in_attempts = sum(e - s for _, s, e in attempts)
    params = {n: json.loads(p) for n, p in db.execute(
        "SELECT number, params FROM trials WHERE study_id = ?", (sid,))}
    per_epoch = [(params.get(t, {}), s) for t, _, _, s, _ in rows
                 if s is not None]
    spans = {}
    for w, s0, e0 in attempts:
        spans.setdefault(w, []).append((s0, e0))
    return {
        "epochs": len(rows), "curve": curve,
        "complete": states.get("complete", 0),
        "pruned": states.get("pruned", 0),
        "failed": states.get("failed", 0),
        "test": (test[0], test[1]) if test else (None, None),
        "best_trial": test[2] if test else None,
        "train_s": train, "data_s": data_s,
        "in_trial_s": max(0.0, in_attempts - train), "storage_s": None,
        "attempts": len(attempts), "spans": spans, "per_epoch": per_epoch,
    }


def optuna_figures(r):
    out = r["out"]

    def jl(name):
        p = os.path.join(out, name)
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [json.loads(x) for x in f if x.strip()]

    epochs = jl("epochs.jsonl")
    trials = jl("trials.jsonl")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    db = sqlite3.connect("file:%s?mode=ro" % r["db"], uri=True)
    states = dict(db.execute("SELECT state, COUNT(*) FROM trials "
                             "GROUP BY state").fetchall())
    reports = db.execute(
        "SELECT COUNT(*) FROM trial_intermediate_values").fetchone()[0]
    curve = sorted((e["end"], e["val_accuracy"]) for e in epochs)
    train = sum(e["end"] - e["start"] for e in epochs)
    storage = sum(e["report_s"] + e["prune_s"] for e in epochs)
    in_trials = sum(t["end"] - t["start"] for t in trials)
    params = {t["trial"]: t["params"] for t in trials}
    per_epoch = [(params.get(e["trial"], {}), e["end"] - e["start"])
                 for e in epochs]
    spans = {}
    for t in trials:
        spans.setdefault(t["pid"], []).append((t["start"], t["end"]))
    return {
        "epochs": len(epochs), "curve": curve, "reports_in_storage": reports,
        "complete": states.get("COMPLETE", 0),
        "pruned": states.get("PRUNED", 0),
        "failed": states.get("FAIL", 0),
        "test": (summary["test_accuracy"], summary["test_track_accuracy"]),
        "best_trial": summary["best_trial"],
        "train_s": train, "data_s": sum(e["data_s"] for e in epochs),
        "in_trial_s": max(0.0, in_trials - train), "storage_s": storage,
        "ask_tell_s": sum(t["since_previous_s"] or 0 for t in trials),
        "setup_s": sum(t["setup_s"] for t in trials), "spans": spans,
        "per_epoch": per_epoch,
    }


def figures(r):
    f = hpo_figures(r) if r["side"] == "hpo" else optuna_figures(r)
    f["wall"] = r["end"] - r["start"]
    f["cpu"] = r.get("cpu_s")
    f["best"] = max((a for _, a in f["curve"]), default=None)
    f["worker_s"] = r["workers"] * f["wall"]
    f["between_s"] = max(0.0, f["worker_s"] - f["train_s"] - f["in_trial_s"])
    # The "between" time of each worker, split: from the launch to its first
    # trial (start-up), gaps between its trials (waiting for work, ask/tell),
    # from its last trial to the end (waiting for the others, test split).
    startup = gaps = tail = 0.0
    for spans in f["spans"].values():
        spans.sort()
        startup += spans[0][0] - r["start"]
        tail += r["end"] - spans[-1][1]
        gaps += sum(max(0.0, b[0] - a[1]) for a, b in zip(spans, spans[1:]))
    f["startup_s"], f["gaps_s"], f["tail_s"] = startup, gaps, tail
    return f


def time_to(r, f, target):
    for t, acc in f["curve"]:
        if acc >= target - 1e-12:
            return t - r["start"]
    return None


def fmt(x, spec="%.1f"):
    return "-" if x is None else spec % x


def table(runs, figs, groups, title):
    """groups: lists of run indices compared with one target each."""
    print(title)
    print()
    print("| run | order | wall s | CPU s | epochs | trials (complete / pruned) "
          "| best val acc | target (95%) | t(95%) s | test acc (track) "
          "| train % | data s | in-trial s | storage s | between s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for g in groups:
        target = 0.95 * max(figs[i]["best"] or 0 for i in g)
        for i in g:
            r, f = runs[i], figs[i]
            f["target"] = target
            f["t95"] = time_to(r, f, target)
            trials = "%d / %d" % (f["complete"], f["pruned"])
            if f["failed"]:
                trials += " (%d failed)" % f["failed"]
            test = "-" if f["test"][0] is None else "%.3f (%.3f)" % f["test"]
            print("| %s | %s | %.0f | %s | %d | %s | %s | %.3f | %s | %s | "
                  "%.0f%% | %s | %.0f | %s | %.0f |" % (
                      r["run"], r.get("order", "-"), f["wall"],
                      fmt(f["cpu"], "%.0f"), f["epochs"], trials,
                      fmt(f["best"], "%.3f"), target, fmt(f["t95"], "%.0f"),
                      test, 100 * f["train_s"] / f["worker_s"],
                      fmt(f["data_s"], "%.1f"), f["in_trial_s"],
                      fmt(f["storage_s"], "%.1f"), f["between_s"]))
    print()


def per_config_table(runs, figs, idx):
    """Seconds per epoch (training loop + validation, wall clock) by the
    parameters that set an epoch's cost, so that the two sides' speeds
    compare on the same configurations (each side samples its own)."""
    keys = ("channels", "batch_size")
    cells = {}
    for i in idx:
        for params, sec in figs[i]["per_epoch"]:
            k = tuple(json.dumps(params.get(x)) for x in keys)
            cells.setdefault(k, {}).setdefault(runs[i]["side"], []).append(sec)
    print("Seconds per epoch by configuration (all head-to-head runs; "
          "median, with the epoch count):")
    print()
    print("| channels | batch | hpo s/epoch (epochs) | Optuna + PyTorch "
          "s/epoch (epochs) | hpo / PyTorch |")
    print("|---|---|---|---|---|")
    ratios = []
    for k in sorted(cells):
        c = cells[k]
        h, o = c.get("hpo", []), c.get("optuna", [])
        mh = statistics.median(h) if h else None
        mo = statistics.median(o) if o else None
        r = ratio(mh, mo)
        if r is not None:
            ratios.append((r, min(len(h), len(o))))
        print("| %s | %s | %s (%d) | %s (%d) | %s |" % (
            k[0], k[1], fmt(mh, "%.2f"), len(h), fmt(mo, "%.2f"), len(o),
            fmt(r, "%.2f")))
    if ratios:
        w = sum(n for _, n in ratios)
        print("| weighted by epochs | | | | **%.2f** |" %
              (sum(r * n for r, n in ratios) / w))
    print()


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/peer/out"
    runs = load_runs(os.path.join(out, "runs.jsonl"))
    if not runs:
        sys.exit("summarise: no runs in %s/runs.jsonl" % out)
    figs = [figures(r) for r in runs]
    head = [i for i, r in enumerate(runs) if r.get("group") == "head"]
    algos = [i for i, r in enumerate(runs) if r.get("group") == "algos"]
    if head:
        repeats = sorted({runs[i]["repeat"] for i in head})
        groups = [[i for i in head if runs[i]["repeat"] == k] for k in repeats]
        table(runs, figs, groups,
              "### hpo against Optuna + PyTorch (same study, same workers)")
        print("| repeat | wall hpo / Optuna | t(95%) hpo / Optuna | epochs "
              "hpo / Optuna | CPU hpo / Optuna | best val hpo - Optuna | "
              "test acc hpo - Optuna |")
        print("|---|---|---|---|---|---|---|")
        rs = {"wall": [], "t95": [], "epochs": [], "cpu": []}
        for k, g in zip(repeats, groups):
            h = [i for i in g if runs[i]["side"] == "hpo"]
            o = [i for i in g if runs[i]["side"] == "optuna"]
            if not h or not o:
                continue
            fh, fo = figs[h[0]], figs[o[0]]
            row = {"wall": ratio(fh["wall"], fo["wall"]),
                   "t95": ratio(fh["t95"], fo["t95"]),
                   "epochs": ratio(fh["epochs"], fo["epochs"]),
                   "cpu": ratio(fh["cpu"], fo["cpu"])}
            for key, v in row.items():
                if v is not None:
                    rs[key].append(v)
            dt = (None if fh["test"][0] is None or fo["test"][0] is None
                  else fh["test"][0] - fo["test"][0])
            print("| %d | %s | %s | %s | %s | %+.3f | %s |" % (
                k, fmt(row["wall"], "%.2f"), fmt(row["t95"], "%.2f"),
                fmt(row["epochs"], "%.2f"), fmt(row["cpu"], "%.2f"),
                fh["best"] - fo["best"], fmt(dt, "%+.3f")))
        if any(rs.values()):
            print("| median | %s |" % " | ".join(
                fmt(statistics.median(rs[k]) if rs[k] else None, "%.2f")
                for k in ("wall", "t95", "epochs", "cpu")) + " | |")
        print()
        print("Where the time goes (sums over the repeats, worker-seconds = "
              "workers x wall):")
        for side in ("hpo", "optuna"):
            idx = [i for i in head if runs[i]["side"] == side]
            if not idx:
                continue
            ws = sum(figs[i]["worker_s"] for i in idx)
            tr = sum(figs[i]["train_s"] for i in idx)
            it = sum(figs[i]["in_trial_s"] for i in idx)
            bt = sum(figs[i]["between_s"] for i in idx)
            ep = sum(figs[i]["epochs"] for i in idx)
            line = ("  %-6s worker-s %.0f: epochs %.0f (%.0f%%; %.2f s per "
                    "epoch), in-trial overhead %.0f (%.1f%%), between trials "
                    "/ idle / start-up %.0f (%.1f%%)" % (
                        side, ws, tr, 100 * tr / ws, tr / max(1, ep), it,
                        100 * it / ws, bt, 100 * bt / ws))
            print(line)
            print("         between, per worker summed: launch to first "
                  "trial %.1f s, gaps between trials %.1f s, last trial to "
                  "the end (others finishing, test evaluation) %.1f s" % (
                      sum(figs[i]["startup_s"] for i in idx),
                      sum(figs[i]["gaps_s"] for i in idx),
                      sum(figs[i]["tail_s"] for i in idx)))
            if side == "optuna":
                ds = sum(figs[i]["data_s"] for i in idx)
                st = sum(figs[i]["storage_s"] for i in idx)
                at = sum(figs[i]["ask_tell_s"] for i in idx)
                su = sum(figs[i]["setup_s"] for i in idx)
                print("         of which: data loading %.1f s (%.1f%% of "
                      "epochs); report()+should_prune() %.1f s (%.1f ms per "
                      "epoch); ask/tell between a process's trials %.1f s; "
                      "model/optimizer set-up %.1f s" % (
                          ds, 100 * ds / max(tr, 1e-9), st,
                          1e3 * st / max(1, ep), at, su))
            else:
                n_att = sum(figs[i]["attempts"] for i in idx)
                known = [figs[i]["data_s"] for i in idx
                         if figs[i]["data_s"] is not None]
                data = ("data loading %.1f s (%.1f%% of epochs); " % (
                    sum(known), 100 * sum(known) / max(tr, 1e-9))
                        if known else "")
                print("         of which: %s%d attempts (a promoted trial "
                      "resumes from its checkpoint: one attempt per rung), "
                      "%.2f s in-trial overhead per attempt" %
                      (data, n_att, it / max(1, n_att)))
            for i in idx:
                r = runs[i]
                if r["side"] == "optuna":
                    with open(os.path.join(r["out"], "summary.json")) as f:
                        s = json.load(f)
                    procs = []
                    p = os.path.join(r["out"], "procs.jsonl")
                    if os.path.exists(p):
                        with open(p) as f:
                            procs = [json.loads(x) for x in f if x.strip()]
                    startup = [q["ready"] - r["start"] for q in procs]
                    print("         %s: processes ready %s s after launch "
                          "(imports, data, storage); search ended %.0f s "
                          "after launch, test evaluation %.1f s; %d reports "
                          "in the storage" % (
                              r["run"], "/".join("%.1f" % x for x in startup),
                              s["search_end"] - r["start"],
                              s["end"] - s["search_end"],
                              figs[i]["reports_in_storage"]))
        per_config_table(runs, figs, head)
    if algos:
        # Hyperband: the last hpo head-to-head run, the nearest in time
        # (and so in the machine's load) to the random and ASHA runs.
        hb = [i for i in head if runs[i]["side"] == "hpo"][-1:]
        group = hb + algos
        table(runs, figs, [group],
              "### Inside hpo: Hyperband (%s), random search and ASHA on "
              "about the same epoch budget" %
              (runs[hb[0]]["run"] if hb else "not run"))


if __name__ == "__main__":
    main()
