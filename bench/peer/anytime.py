"""The anytime plot of bench/peer/samplers.py and bench/peer/round2.py, and
their table cells.

The plot:
median best-so-far validation accuracy against wall time over several runs
(seeds) per method, the min-max range shaded, every method on one chart, as
a self-contained SVG."""

import statistics


def median_range(values, spec="%.3f"):
    """The median (min-max) of the values that are not None."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return spec % v[0]
    return (spec + " (" + spec + "-" + spec + ")") % (
        statistics.median(v), min(v), max(v))


def mean_sd(values, spec="%.3f"):
    """The mean ± standard deviation (min-max) of the values that are not
    None."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return spec % v[0]
    return (spec + " ± " + spec + " (" + spec + "-" + spec + ")") % (
        statistics.mean(v), statistics.stdev(v), min(v), max(v))


def best_so_far(r, f, t):
    """The best validation accuracy run r (figures f) had reported by t
    seconds after its launch; None before its first epoch."""
    best = None
    for when, acc in f["curve"]:
        if when - r["start"] > t:
            break
        best = acc if best is None else max(best, acc)
    return best


def write_svg(path, methods, colours, by, title, marks=(), end_at_wall=False,
              right=230):
    """methods: [(key, label)]; by: key -> [(run, figures)]; marks: optional
    [(accuracy, label)] drawn as dashed horizontal lines; end_at_wall: stop
    each method's line where its longest run ended (otherwise it runs flat
    to the right edge); right: the legend's width in pixels."""
    horizon = max(f["wall"] for v in by.values() for _, f in v)
    width, height, left, bottom, top = 760 + right - 230, 420, 60, 50, 30
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
             '<text x="%d" y="18" font-size="14">%s</text>' % (left, title)]
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
    for i, (acc, label) in enumerate(marks):
        # Labels alternate between the left and the right end, so that
        # two close lines keep their labels apart.
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#444" '
                     'stroke-dasharray="4 3"/><text x="%d" y="%.1f" '
                     'font-size="10" fill="#444" text-anchor="%s">%s</text>' % (
                         left, width - right, y(acc), y(acc),
                         left + 4 if i % 2 == 0 else width - right - 4,
                         y(acc) - 3, "start" if i % 2 == 0 else "end", label))
    row = 0
    for key, label in methods:
        if key not in by:
            continue
        rs = by[key]
        med, low, high = [], [], []
        for t in steps:
            v = [best_so_far(r, f, t) for r, f in rs]
            if any(b is None for b in v) or (
                    end_at_wall and t > max(f["wall"] for _, f in rs)):
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
        c = colours[key]
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
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")
