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
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarise import figures, load_runs  # noqa: E402

METHODS = [("random", "random search"), ("hyperband", "Hyperband"),
           ("asha", "ASHA"), ("bohb", "BOHB (Hyperband + bohb)"),
           ("asha_tpe", "ASHA + TPE")]
COLOURS = {"random": "#7f7f7f", "hyperband": "#1f77b4", "asha": "#2ca02c",
           "bohb": "#d62728", "asha_tpe": "#9467bd"}


def best_so_far(r, f, t):
    best = None
    for when, acc in f["curve"]:
        if when - r["start"] > t:
            break
        best = acc if best is None else max(best, acc)
    return best


def fmt(values, spec="%.3f"):
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return spec % v[0]
    return (spec + " (" + spec + "-" + spec + ")") % (
        statistics.median(v), min(v), max(v))


def main():
    out = sys.argv[1]
    runs = [r for r in load_runs(os.path.join(out, "runs.jsonl"))
            if r["group"] == "samplers"]
    by = {}
    for r in runs:
        method = r["run"].split("_", 1)[1]
        by.setdefault(method, []).append((r, figures(r)))
    random_best = statistics.median(f["best"] for _, f in by["random"])
    print("%d seeds per method (study seeds %s); median (min-max) over seeds"
          % (len(by["random"]), ", ".join(str(r["repeat"]) for r, _ in
                                           by["random"])))
    print()
    print("| method | best val acc | test acc (track) of the best trial "
          "| wall s | epochs | t(random's median best) s |")
    print("|---|---|---|---|---|---|")
    for key, label in METHODS:
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
    # The anytime plot.
    horizon = max(f["wall"] for v in by.values() for _, f in v)
    width, height, left, bottom, top, right = 760, 420, 60, 50, 30, 230
    hi = max(f["best"] for v in by.values() for _, f in v)
    # From where the medians are after the first 5% of the time: the very
    # first epochs' values would flatten everything after them.
    early = []
    for v in by.values():
        bs = [best_so_far(r, f, 0.05 * horizon) for r, f in v]
        if all(b is not None for b in bs):
            early.append(statistics.median(bs))
    lo = max(0.0, min(early + [hi - 0.05]) - 0.02)

    def x(t):
        return left + (width - left - right) * t / horizon

    def y(a):
        a = max(a, lo)
        return height - bottom - (height - bottom - top) * (a - lo) / (hi - lo)

    steps = [horizon * i / 200 for i in range(201)]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'font-family="sans-serif" font-size="12">' % (width, height),
             '<rect width="100%" height="100%" fill="white"/>',
             '<text x="%d" y="18" font-size="14">Best validation accuracy so '
             'far against wall time (median over seeds; range shaded)</text>'
             % left]
    for i in range(6):
        a = lo + (hi - lo) * i / 5
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                     '<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (
                         left, width - right, y(a), y(a), left - 5, y(a) + 4, a))
        t = horizon * i / 5
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>'
                     % (x(t), height - bottom + 18, t))
    parts.append('<text x="%.1f" y="%d" text-anchor="middle">wall seconds'
                 '</text>' % ((left + width - right) / 2, height - 10))
    row = 0
    for key, label in METHODS:
        if key not in by:
            continue
        rs = by[key]
        med, low, high = [], [], []
        for t in steps:
            v = [best_so_far(r, f, t) for r, f in rs]
            if any(b is None for b in v):
                med.append(None)
                low.append(None)
                high.append(None)
                continue
            med.append(statistics.median(v))
            low.append(min(v))
            high.append(max(v))
        pts = [(x(t), y(m)) for t, m in zip(steps, med) if m is not None]
        band = ([(x(t), y(h)) for t, h in zip(steps, high) if h is not None] +
                [(x(t), y(lw)) for t, lw in reversed(list(zip(steps, low)))
                 if lw is not None])
        c = COLOURS[key]
        if band:
            parts.append('<polygon points="%s" fill="%s" fill-opacity="0.12"/>'
                         % (" ".join("%.1f,%.1f" % p for p in band), c))
        if pts:
            parts.append('<polyline points="%s" fill="none" stroke="%s" '
                         'stroke-width="2"/>' % (
                             " ".join("%.1f,%.1f" % p for p in pts), c))
        ly = top + 20 + 20 * row
        parts.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
                     'stroke-width="3"/><text x="%d" y="%d">%s</text>' % (
                         width - right + 10, width - right + 30, ly, ly, c,
                         width - right + 35, ly + 4, label))
        row += 1
    parts.append("</svg>")
    with open(os.path.join(out, "samplers.svg"), "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
