#!/usr/bin/python3
"""Summarises bench/peer/run.sh --only round2 (issue 17): hpo's default and
best against an Optuna user's defaults on the same data, model, search space
and workers, several study seeds per side.

Sides (run names r2_sSEED_SIDE in OUT/runs.jsonl):
  hpo_default  Hyperband with the random sampler (what demo.json and the
               README recommend);
  hpo_best     ASHA + TPE on about Hyperband's planned epochs;
  optuna_hb    TPESampler() + HyperbandPruner(min, max, eta);
  optuna_sh    TPESampler() + SuccessiveHalvingPruner().

Prints markdown tables:
  1. per side, over seeds: the final best validation accuracy and the best
     trial's test accuracy (mean, standard deviation, min-max), wall and CPU
     seconds, epochs, trials, and the time to reach the Optuna peers'
     median final best (median over seeds; a seed that never reaches it
     counts as never);
  2. per seed: that time over the same seed's Optuna wall time, the goal's
     ratio (at most 0.5);
  3. where each side's worker-seconds go (summarise.py's split: inside
     epochs, in a trial outside its epochs, start-up, gaps between trials,
     the idle tail after a worker's last trial);
  4. seconds per epoch by configuration, hpo against PyTorch (summarise.py's
     per_config_table, over every run of round two);
and writes OUT/round2.svg: median best-so-far validation accuracy against
wall time, the seed range shaded, every side on one chart.

    /usr/bin/python3 bench/peer/round2.py OUT
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from anytime import mean_sd, median_range, write_svg  # noqa: E402
from summarise import figures, load_runs, per_config_table  # noqa: E402

SIDES = [("hpo_default", "hpo default: Hyperband"),
         ("hpo_best", "hpo best: ASHA + TPE"),
         ("optuna_hb", "Optuna: TPE + HyperbandPruner"),
         ("optuna_sh", "Optuna: TPE + SuccessiveHalvingPruner")]
COLOURS = {"hpo_default": "#1f77b4", "hpo_best": "#d62728",
           "optuna_hb": "#2ca02c", "optuna_sh": "#ff7f0e"}
PEERS = ("optuna_hb", "optuna_sh")
NEVER = float("inf")


def reach(r, f, target):
    for t, acc in f["curve"]:
        if acc >= target - 1e-12:
            return t - r["start"]
    return NEVER


def seconds(t):
    return "never" if t == NEVER else "%.0f" % t


def main():
    out = sys.argv[1]
    by = {}
    for r in load_runs(os.path.join(out, "runs.jsonl")):
        if r["group"] != "round2":
            continue
        side = r["run"].split("_", 2)[2]
        by.setdefault(side, []).append((r, figures(r)))
    for v in by.values():
        v.sort(key=lambda rf: rf[0]["repeat"])
    sides = [(k, label) for k, label in SIDES if k in by]
    peers = [p for p in PEERS if p in by]
    if not peers:
        sys.exit("round2.py: %s has no Optuna runs of round two" % out)
    target = {p: statistics.median(f["best"] for _, f in by[p]) for p in peers}
    seeds = sorted({r["repeat"] for v in by.values() for r, _ in v})
    print("%d seed(s) per side (study seeds %s); workers %d" % (
        len(seeds), ", ".join(map(str, seeds)), by[peers[0]][0][0]["workers"]))
    print()
    head = " | ".join("t(%s's median best %.3f) s" % (p, target[p])
                      for p in peers)
    print("| side | best val acc | test acc of the best trial (track) | "
          "wall s | CPU s | epochs | trials (complete / pruned) | %s |" % head)
    print("|---|---|---|---|---|---|---|%s" % ("---|" * len(peers)))
    for key, label in sides:
        rs = by[key]
        times = []
        for p in peers:
            ts = [reach(r, f, target[p]) for r, f in rs]
            n = sum(t != NEVER for t in ts)
            times.append("%s (%s; %d of %d)" % (
                seconds(statistics.median(ts)),
                ", ".join(seconds(t) for t in ts), n, len(ts)))
        print("| %s | %s | %s (%s) | %s | %s | %s | %s | %s |" % (
            label, mean_sd([f["best"] for _, f in rs]),
            mean_sd([f["test"][0] for _, f in rs]),
            mean_sd([f["test"][1] for _, f in rs]),
            median_range([f["wall"] for _, f in rs], "%.0f"),
            median_range([f["cpu"] for _, f in rs], "%.0f"),
            median_range([f["epochs"] for _, f in rs], "%.0f"),
            "%s / %s" % (median_range([f["complete"] for _, f in rs], "%.0f"),
                         median_range([f["pruned"] for _, f in rs], "%.0f")),
            " | ".join(times)))
    print()
    print("Time to reach the peer's median final best over that peer's wall "
          "time, same seed (goal: at most 0.5 against optuna_hb):")
    print()
    print("| side | against | %s | median |" % " | ".join(
        "seed %d" % s for s in seeds))
    print("|---|---|%s---|" % ("---|" * len(seeds)))
    for key, label in sides:
        for p in peers:
            walls = {r["repeat"]: f["wall"] for r, f in by[p]}
            ratios = []
            for r, f in by[key]:
                if r["repeat"] in walls:
                    ratios.append(reach(r, f, target[p]) / walls[r["repeat"]])
            cells = ["never" if x == NEVER else "%.2f" % x for x in ratios]
            med = statistics.median(ratios) if ratios else None
            print("| %s | %s | %s | %s |" % (
                label, p, " | ".join(cells),
                "-" if med is None else
                ("never" if med == NEVER else "**%.2f**" % med)))
    print()
    print("Where the time goes (worker-seconds, summed over seeds; % of "
          "workers x wall):")
    print()
    print("| side | worker-s | inside epochs | s per epoch | in a trial, "
          "outside epochs | start-up | gaps between trials | idle tail |")
    print("|---|---|---|---|---|---|---|---|")
    for key, label in sides:
        rs = by[key]
        total = sum(f["worker_s"] for _, f in rs)

        def part(name):
            s = sum(f[name] for _, f in rs)
            return "%.0f (%.1f%%)" % (s, 100 * s / total)
        epochs = sum(f["epochs"] for _, f in rs)
        print("| %s | %.0f | %s | %.3f | %s | %s | %s | %s |" % (
            label, total, part("train_s"),
            sum(f["train_s"] for _, f in rs) / max(1, epochs),
            part("in_trial_s"), part("startup_s"), part("gaps_s"),
            part("tail_s")))
    print()
    flat = [rf for v in by.values() for rf in v]
    per_config_table([r for r, _ in flat], [f for _, f in flat],
                     range(len(flat)))
    # One dashed line per distinct target, naming every peer at it.
    at = {}
    for p in peers:
        at.setdefault(round(target[p], 9), []).append(p)
    marks = [(t, "%s: median final best %.3f" % (" and ".join(ps), t))
             for t, ps in sorted(at.items())]
    write_svg(os.path.join(out, "round2.svg"), sides, COLOURS, by,
              "Best validation accuracy so far against wall time (median "
              "over seeds; range shaded)", marks=marks, end_at_wall=True,
              right=290)


if __name__ == "__main__":
    main()
