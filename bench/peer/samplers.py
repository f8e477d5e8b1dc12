#!/usr/bin/python3
"""Summarises bench/peer/run.sh --only samplers: random search, Hyperband,
ASHA, BOHB (Hyperband + bohb) and ASHA + TPE inside hpo on the same data,
model and budgets, several study seeds each.

Prints a markdown table per method (median over seeds, with the range):
final best validation accuracy, test accuracy (and track accuracy) of the
best trial, wall time, epochs, and the time to reach random search's median
final best; and writes OUT/samplers.svg: median best-so-far validation
accuracy against wall time, the seed range shaded, every method on one chart.

    /usr/bin/python3 bench/peer/samplers.py OUT

With a second argument "pbt" it summarises bench/peer/run.sh --only pbt
instead: PBT against ASHA and BOHB, the time column measured to ASHA's
median final best, the plot in OUT/pbt.svg.

    /usr/bin/python3 bench/peer/samplers.py OUT pbt
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from anytime import median_range as fmt, write_svg  # noqa: E402
from summarise import figures, load_runs  # noqa: E402

METHODS = [("random", "random search"), ("hyperband", "Hyperband"),
           ("asha", "ASHA"), ("bohb", "BOHB (Hyperband + bohb)"),
           ("asha_tpe", "ASHA + TPE")]
COLOURS = {"random": "#7f7f7f", "hyperband": "#1f77b4", "asha": "#2ca02c",
           "bohb": "#d62728", "asha_tpe": "#9467bd", "pbt": "#ff7f0e"}
PBT_METHODS = [("pbt", "PBT (interval 3, lr mutable)"),
               ("asha", "ASHA"), ("bohb", "BOHB (Hyperband + bohb)")]


def main():
    out = sys.argv[1]
    group = sys.argv[2] if len(sys.argv) > 2 else "samplers"
    methods = PBT_METHODS if group == "pbt" else METHODS
    reference = "asha" if group == "pbt" else "random"
    runs = [r for r in load_runs(os.path.join(out, "runs.jsonl"))
            if r["group"] == group]
    by = {}
    for r in runs:
        method = r["run"].split("_", 1)[1]
        by.setdefault(method, []).append((r, figures(r)))
    random_best = statistics.median(f["best"] for _, f in by[reference])
    print("%d seeds per method (study seeds %s); median (min-max) over seeds"
          % (len(by[reference]), ", ".join(str(r["repeat"]) for r, _ in
                                           by[reference])))
    print()
    print("| method | best val acc | test acc (track) of the best trial "
          "| wall s | epochs | t(%s's median best %.3f) s |"
          % (reference, random_best))
    print("|---|---|---|---|---|---|")
    for key, label in methods:
        if key not in by:
            continue
        rs = by[key]
        reach = []
        for r, f in rs:
            t = next((w - r["start"] for w, a in f["curve"]
                      if a >= random_best - 1e-12), None)
            reach.append(t)
        reached = [t for t in reach if t is not None]
        print("| %s | %s | %s (%s) | %s | %s | %s%s |" % (
            label, fmt([f["best"] for _, f in rs]),
            fmt([f["test"][0] for _, f in rs]),
            fmt([f["test"][1] for _, f in rs]),
            fmt([f["wall"] for _, f in rs], "%.0f"),
            fmt([f["epochs"] for _, f in rs], "%.0f"),
            fmt(reached, "%.0f") if reached else "never",
            "" if len(reached) == len(reach) else
            " (%d of %d seeds)" % (len(reached), len(reach))))
    write_svg(os.path.join(out, group + ".svg"), methods, COLOURS, by,
              "Best validation accuracy so far against wall time (median "
              "over seeds; range shaded)")


if __name__ == "__main__":
    main()
