#!/usr/bin/python3
"""Optuna + SQLite storage baseline for hpo's coordinator_bench.

What it measures
    How fast Optuna (3.1, as packaged by Debian: python3-optuna) persists
    per-epoch reports when every trial writes through RDB storage on a
    SQLite file, the set-up a single-machine Optuna user gets with
    ``storage="sqlite:///study.db"``. N trials x E epochs are run; each epoch
    makes one ``trial.report(value, epoch)`` and one ``trial.should_prune()``
    call, as a pruning user's training loop would. There is no training: the
    objective is an analytic learning curve
        acc(epoch) = q * (1 - exp(-epoch / tau))
    with q and tau drawn from the trial's suggested parameters, so the
    figures are storage and pruner work alone.

    W worker processes (multiprocessing, not threads) each run
    ``study.optimize`` on the same SQLite file (the parent creates the study,
    the workers attach with ``optuna.load_study``); the trials are split
    statically between them. Workers attach to the storage first and then
    start together, so the wall time leaves out interpreter start-up and
    imports.

    Figures printed:
      * wall seconds (from the common start to the last worker's result),
      * trials finished (COMPLETE + PRUNED rows in the storage, with the
        state breakdown),
      * epoch reports persisted, counted from the storage afterwards
        (rows of trial_intermediate_values for this study),
      * persisted reports per second (reports persisted / wall seconds),
      * "dispatch latency": p50/p99 (ms) of each report()+should_prune() pair,
        also split into report() and should_prune() alone,
      * p50/p99 (ms) of creating a trial (study.ask(), as called by
        study.optimize),
      * "database is locked" errors, by where they surfaced (ask, report /
        should_prune, or elsewhere such as tell). They are part of what is
        measured: Optuna retries some internally (trial creation), the rest
        fail the trial in hand; the worker counts the error and goes on with
        its next trial. Any other exception stops that worker, and the
        report says how many trials it had finished by then (also when a
        worker process dies outright, from counters shared with the parent),
      * the optuna / SQLAlchemy / SQLite versions and the exact command line
        that reproduces the run.

Why
    This is the baseline hpo's coordinator is compared against: hpo's
    coordinator_bench reports persisted epoch reports per second with its
    own store; this script gives the same figure for Optuna with SQLite
    storage on the same machine.

How to run
    /usr/bin/python3 bench/optuna_store_bench.py                 # 200 x 27, 1 worker, Hyperband
    /usr/bin/python3 bench/optuna_store_bench.py --trials 50 --epochs 27 --workers 4
    /usr/bin/python3 bench/optuna_store_bench.py --pruner none --json
    Options: --trials N (200) --epochs E (27) --workers W (1)
             --pruner hyperband|none (hyperband) --min-resource (1)
             --max-resource (= epochs) --reduction-factor (3)
             --db PATH (default: a temp file, deleted afterwards; a given file
             is kept, and each run adds a new study to it, named
             optuna_store_bench_seed<seed>[_<n>])
             --max-seconds S (120: workers start no new trial after S seconds)
             --seed (0) --json
    Needs Python 3 with optuna importable (/usr/bin/python3 on Debian with
    python3-optuna installed).
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import shlex
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import traceback

LOCKED_MARKERS = ("database is locked", "database table is locked")

# How long a worker may take to attach to the storage before the run is given
# up, and how long past --max-seconds a worker may run (finishing the trial in
# hand) before it is terminated.
ATTACH_TIMEOUT_S = 120.0
GRACE_S = 60.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Optuna RDB(SQLite) storage baseline: persisted epoch reports per second."
    )
    p.add_argument("--trials", type=int, default=200, help="total trials (default 200)")
    p.add_argument("--epochs", type=int, default=27, help="epochs (reports) per trial (default 27)")
    p.add_argument("--workers", type=int, default=1,
                   help="parallel worker processes on the same SQLite file (default 1)")
    p.add_argument("--pruner", choices=("hyperband", "none"), default="hyperband",
                   help="HyperbandPruner or NopPruner (default hyperband)")
    p.add_argument("--min-resource", type=int, default=1, help="Hyperband min_resource (default 1)")
    p.add_argument("--max-resource", type=int, default=None,
                   help="Hyperband max_resource (default: --epochs)")
    p.add_argument("--reduction-factor", type=int, default=3,
                   help="Hyperband reduction_factor (default 3)")
    p.add_argument("--db", default=None,
                   help="SQLite file (default: a temp file, deleted after the run)")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="workers start no new trial after this many seconds (default 120)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed base (default 0)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    if args.max_resource is None:
        args.max_resource = args.epochs
    if args.trials < 1 or args.epochs < 1 or args.workers < 1:
        p.error("--trials, --epochs and --workers must be >= 1")
    if args.max_seconds <= 0:
        p.error("--max-seconds must be > 0")
    return args


def reproduce_command(args, temp_db):
    cmd = [sys.executable, sys.argv[0],
           "--trials", str(args.trials), "--epochs", str(args.epochs),
           "--workers", str(args.workers), "--pruner", args.pruner]
    if args.pruner == "hyperband":
        cmd += ["--min-resource", str(args.min_resource),
                "--max-resource", str(args.max_resource),
                "--reduction-factor", str(args.reduction_factor)]
    cmd += ["--max-seconds", "%g" % args.max_seconds, "--seed", str(args.seed)]
    if not temp_db:
        cmd += ["--db", args.db]
    if args.json:
        cmd.append("--json")
    return shlex.join(cmd)


def is_locked_error(exc):
    """True if exc, or any exception in its cause/context chain, is SQLite's busy error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).lower()
        if any(m in text for m in LOCKED_MARKERS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def make_pruner(optuna, args):
    if args.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.HyperbandPruner(
        min_resource=args.min_resource,
        max_resource=args.max_resource,
        reduction_factor=args.reduction_factor,
    )


def percentile_ms(values, pct):
    """Linear-interpolated percentile (numpy's default method) of seconds, in ms."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * pct / 100.0
    lo = math.floor(k)
    hi = math.ceil(k)
    v = s[lo] if lo == hi else s[lo] + (s[hi] - s[lo]) * (k - lo)
    return v * 1000.0


def worker_main(wid, args, storage_url, study_name, n_trials, barrier, out_q,
                started_arr, finished_arr):
    """One worker process: study.optimize over its share of the trials."""
    res = {
        "worker": wid, "trials_assigned": n_trials, "trials_started": 0,
        "trials_finished": 0, "reports_ok": 0,
        "locked_errors": {"ask": 0, "report": 0, "other": 0},
        "crashed": False, "error": None, "stopped_by_max_seconds": False,
        "ask_s": [], "report_s": [], "prune_s": [], "dispatch_s": [],
    }
    try:
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.RandomSampler(seed=args.seed + wid)
        study = optuna.load_study(study_name=study_name, storage=storage_url,
                                  sampler=sampler, pruner=make_pruner(optuna, args))
    except BaseException as e:  # could not even attach: report and leave
        res["crashed"] = True
        res["error"] = "attach: " + "".join(traceback.format_exception_only(type(e), e)).strip()
        barrier.abort()
        out_q.put(res)
        return

    epochs = args.epochs

    # study.optimize calls study.ask() for each new trial; shadow the bound
    # method on this instance to time it.
    orig_ask = study.ask

    def timed_ask(*a, **kw):
        t0 = time.perf_counter()
        try:
            trial = orig_ask(*a, **kw)
        except Exception as e:
            if is_locked_error(e):
                res["locked_errors"]["ask"] += 1
                e._bench_counted = True
            raise
        res["ask_s"].append(time.perf_counter() - t0)
        res["trials_started"] += 1
        started_arr[wid] = res["trials_started"]
        return trial

    study.ask = timed_ask

    def objective(trial):
        q = trial.suggest_float("q", 0.5, 0.99)
        tau = trial.suggest_float("tau", 1.0, float(max(2, epochs)), log=True)
        acc = 0.0
        for epoch in range(1, epochs + 1):
            acc = q * (1.0 - math.exp(-epoch / tau))
            try:
                t0 = time.perf_counter()
                trial.report(acc, epoch)
                t1 = time.perf_counter()
                res["reports_ok"] += 1
                prune = trial.should_prune()
                t2 = time.perf_counter()
            except Exception as e:
                if is_locked_error(e):
                    res["locked_errors"]["report"] += 1
                    e._bench_counted = True
                raise  # the trial fails, as it would for a user
            res["report_s"].append(t1 - t0)
            res["prune_s"].append(t2 - t1)
            res["dispatch_s"].append(t2 - t0)
            if prune:
                raise optuna.TrialPruned()
        return acc

    def on_trial_done(_study, _frozen):
        res["trials_finished"] += 1
        finished_arr[wid] = res["trials_finished"]

    try:
        barrier.wait(timeout=ATTACH_TIMEOUT_S)
    except threading.BrokenBarrierError:
        res["crashed"] = True
        res["error"] = "start barrier broken (another worker or the parent gave up)"
        out_q.put(res)
        return

    t_start = time.monotonic()
    try:
        while True:
            remaining = n_trials - res["trials_started"]
            time_left = args.max_seconds - (time.monotonic() - t_start)
            if remaining <= 0:
                break
            if time_left <= 0:
                res["stopped_by_max_seconds"] = True
                break
            try:
                study.optimize(objective, n_trials=remaining, timeout=time_left,
                               callbacks=[on_trial_done], gc_after_trial=False)
            except Exception as e:
                if is_locked_error(e):
                    if not getattr(e, "_bench_counted", False):
                        res["locked_errors"]["other"] += 1
                    continue  # go on with the next trial
                raise
            if res["trials_started"] < n_trials:
                res["stopped_by_max_seconds"] = True
            break
    except BaseException as e:
        res["crashed"] = True
        res["error"] = "".join(traceback.format_exception_only(type(e), e)).strip()
    out_q.put(res)


def count_from_storage(db_path, study_name):
    con = sqlite3.connect(db_path, timeout=60)
    try:
        (study_id,) = con.execute(
            "SELECT study_id FROM studies WHERE study_name = ?", (study_name,)).fetchone()
        states = dict(con.execute(
            "SELECT state, COUNT(*) FROM trials WHERE study_id = ? GROUP BY state",
            (study_id,)).fetchall())
        (reports,) = con.execute(
            "SELECT COUNT(*) FROM trial_intermediate_values v "
            "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ?",
            (study_id,)).fetchone()
    finally:
        con.close()
    return {str(k): v for k, v in states.items()}, reports


def main():
    args = parse_args()
    import optuna
    import sqlalchemy
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    temp_dir = None
    if args.db is None:
        temp_dir = tempfile.mkdtemp(prefix="optuna_store_bench_")
        db_path = os.path.join(temp_dir, "study.db")
    else:
        db_path = os.path.abspath(args.db)
    storage_url = "sqlite:///" + db_path
    # A fixed study name: HyperbandPruner picks each trial's bracket from a hash
    # of the study name and trial number, so with one worker a run is then
    # repeatable. A --db that already holds it gets a new, suffixed study.
    base_name = "optuna_store_bench_seed%d" % args.seed

    try:
        study = None
        for attempt in range(1000):
            study_name = base_name if attempt == 0 else "%s_%d" % (base_name, attempt)
            try:
                study = optuna.create_study(study_name=study_name, storage=storage_url,
                                            direction="maximize", load_if_exists=False,
                                            pruner=make_pruner(optuna, args))
                break
            except optuna.exceptions.DuplicatedStudyError:
                continue
        if study is None:
            raise SystemExit("could not create a new study in %s" % db_path)
        # Release the parent's connection before the workers start.
        try:
            study._storage.remove_session()
        except Exception:
            pass
        del study

        # Spawn, so that no worker inherits the parent's SQLite/SQLAlchemy state.
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(args.workers + 1)
        out_q = ctx.Queue()
        started_arr = ctx.Array("l", args.workers, lock=False)
        finished_arr = ctx.Array("l", args.workers, lock=False)
        shares = [args.trials // args.workers + (1 if i < args.trials % args.workers else 0)
                  for i in range(args.workers)]
        procs = []
        for wid in range(args.workers):
            pr = ctx.Process(target=worker_main, name="optuna-bench-%d" % wid,
                             args=(wid, args, storage_url, study_name, shares[wid],
                                   barrier, out_q, started_arr, finished_arr))
            pr.start()
            procs.append(pr)

        aborted = None
        try:
            barrier.wait(timeout=ATTACH_TIMEOUT_S)
        except threading.BrokenBarrierError:
            aborted = "workers failed to attach to the storage"
        t0 = time.monotonic()

        results = {}
        dead_since = {}
        killed = set()
        deadline = t0 + args.max_seconds + GRACE_S
        while len(results) < args.workers:
            try:
                r = out_q.get(timeout=0.2)
                results[r["worker"]] = r
                continue
            except queue.Empty:
                pass
            now = time.monotonic()
            for wid, pr in enumerate(procs):
                if wid in results:
                    continue
                if pr.exitcode is not None:
                    # Give a just-exited worker's queued result time to arrive.
                    dead_since.setdefault(wid, now)
                    if now - dead_since[wid] > 3.0:
                        results[wid] = {
                            "worker": wid, "trials_assigned": shares[wid],
                            "trials_started": started_arr[wid],
                            "trials_finished": finished_arr[wid], "crashed": True,
                            "error": "process died (exit code %s) without a result"
                                     % pr.exitcode,
                            "locked_errors": None, "stopped_by_max_seconds": False,
                        }
                elif now > deadline:
                    pr.terminate()
                    killed.add(wid)
        wall = time.monotonic() - t0
        for pr in procs:
            pr.join(timeout=10)

        states, reports_persisted = count_from_storage(db_path, study_name)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def collect(key):
        out = []
        for r in results.values():
            out.extend(r.get(key) or [])
        return out

    ask_s, report_s, prune_s, dispatch_s = (collect(k) for k in
                                            ("ask_s", "report_s", "prune_s", "dispatch_s"))
    locked = {"ask": 0, "report": 0, "other": 0}
    for r in results.values():
        for k, v in (r.get("locked_errors") or {}).items():
            locked[k] += v
    finished = states.get("COMPLETE", 0) + states.get("PRUNED", 0)

    workers_out = []
    for wid in range(args.workers):
        r = results[wid]
        workers_out.append({
            "worker": wid,
            "trials_assigned": r["trials_assigned"],
            "trials_started": r["trials_started"],
            "trials_finished": r["trials_finished"],
            "crashed": bool(r["crashed"]) or wid in killed,
            "error": ("terminated after --max-seconds + %gs grace" % GRACE_S)
                     if wid in killed else r["error"],
            "stopped_by_max_seconds": r["stopped_by_max_seconds"],
            "exit_code": procs[wid].exitcode,
        })

    out = {
        "optuna_version": optuna.__version__,
        "sqlalchemy_version": sqlalchemy.__version__,
        "sqlite_version": sqlite3.sqlite_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "command": reproduce_command(args, temp_dir is not None),
        "argv": [sys.executable] + sys.argv,
        "storage": "sqlite (temp file, deleted)" if temp_dir else storage_url,
        "study_name": study_name,
        "trials": args.trials, "epochs": args.epochs, "workers": args.workers,
        "pruner": args.pruner,
        "hyperband": ({"min_resource": args.min_resource, "max_resource": args.max_resource,
                       "reduction_factor": args.reduction_factor}
                      if args.pruner == "hyperband" else None),
        "sampler": "RandomSampler",
        "max_seconds": args.max_seconds,
        "aborted": aborted,
        "wall_s": round(wall, 4),
        "trials_started": sum(w["trials_started"] for w in workers_out),
        "trials_finished": finished,
        "trial_states": states,
        "epoch_reports_persisted": reports_persisted,
        "epoch_reports_ok_in_workers": sum(r.get("reports_ok", 0) for r in results.values()),
        "reports_per_s": round(reports_persisted / wall, 2) if wall > 0 else None,
        "dispatch_p50_ms": percentile_ms(dispatch_s, 50),
        "dispatch_p99_ms": percentile_ms(dispatch_s, 99),
        "report_p50_ms": percentile_ms(report_s, 50),
        "report_p99_ms": percentile_ms(report_s, 99),
        "should_prune_p50_ms": percentile_ms(prune_s, 50),
        "should_prune_p99_ms": percentile_ms(prune_s, 99),
        "ask_p50_ms": percentile_ms(ask_s, 50),
        "ask_p99_ms": percentile_ms(ask_s, 99),
        "dispatch_samples": len(dispatch_s),
        "ask_samples": len(ask_s),
        "locked_errors": locked,
        "locked_errors_total": sum(locked.values()),
        "stopped_by_max_seconds": any(w["stopped_by_max_seconds"] for w in workers_out),
        "workers_crashed": sum(1 for w in workers_out if w["crashed"]),
        "per_worker": workers_out,
    }
    for k in list(out):
        if k.endswith("_ms") and out[k] is not None:
            out[k] = round(out[k], 3)

    if args.json:
        print(json.dumps(out, indent=None, sort_keys=False))
    else:
        print_table(out)
    return 1 if (out["workers_crashed"] or aborted) else 0


def print_table(o):
    def ms(k):
        return "-" if o[k] is None else "%.3f" % o[k]

    hb = o["hyperband"]
    pruner = ("HyperbandPruner(min_resource=%d, max_resource=%d, reduction_factor=%d)"
              % (hb["min_resource"], hb["max_resource"], hb["reduction_factor"])
              if hb else "NopPruner")
    rows = [
        ("optuna", "%s (SQLAlchemy %s, SQLite %s, Python %s, %s CPUs)"
         % (o["optuna_version"], o["sqlalchemy_version"], o["sqlite_version"],
            o["python"], o["cpus"])),
        ("command", o["command"]),
        ("storage", "%s, study %s" % (o["storage"], o["study_name"])),
        ("setup", "%d trials x %d epochs, %d worker process(es), %s, %s"
         % (o["trials"], o["epochs"], o["workers"], pruner, o["sampler"])),
        ("wall seconds", "%.3f" % o["wall_s"]),
        ("trials started", str(o["trials_started"])),
        ("trials finished", "%d  (COMPLETE + PRUNED; all states: %s)" % (o["trials_finished"], ", ".join(
            "%s %d" % kv for kv in sorted(o["trial_states"].items())))),
        ("epoch reports persisted", "%d  (report() calls that returned: %d)"
         % (o["epoch_reports_persisted"], o["epoch_reports_ok_in_workers"])),
        ("reports / second", "%.1f" % o["reports_per_s"] if o["reports_per_s"] else "-"),
        ("report+should_prune p50/p99 ms", "%s / %s  (n=%d)"
         % (ms("dispatch_p50_ms"), ms("dispatch_p99_ms"), o["dispatch_samples"])),
        ("  report() p50/p99 ms", "%s / %s" % (ms("report_p50_ms"), ms("report_p99_ms"))),
        ("  should_prune() p50/p99 ms", "%s / %s"
         % (ms("should_prune_p50_ms"), ms("should_prune_p99_ms"))),
        ("ask (create trial) p50/p99 ms", "%s / %s  (n=%d)"
         % (ms("ask_p50_ms"), ms("ask_p99_ms"), o["ask_samples"])),
        ("'database is locked' errors", "%d  (ask %d, report/should_prune %d, other %d)"
         % (o["locked_errors_total"], o["locked_errors"]["ask"],
            o["locked_errors"]["report"], o["locked_errors"]["other"])),
        ("stopped by --max-seconds", "yes" if o["stopped_by_max_seconds"] else "no"),
    ]
    if o["aborted"]:
        rows.append(("ABORTED", o["aborted"]))
    for w in o["per_worker"]:
        if w["crashed"]:
            rows.append(("worker %d CRASHED" % w["worker"],
                         "finished %d of %d trials (started %d): %s"
                         % (w["trials_finished"], w["trials_assigned"],
                            w["trials_started"], w["error"])))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print("%-*s  %s" % (width, k, v))


if __name__ == "__main__":
    sys.exit(main())
