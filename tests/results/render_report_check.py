#!/usr/bin/env python3
"""Checks hpo-report's page as headless Chromium renders it.

Helper of render_report_test.sh, which runs a real study, writes its report
and drives Chromium; this script does the parts that need a program:

  add-evaluation DB STUDY    records a test-split evaluation (with a
                             confusion matrix) for the study's best trial if
                             the study has none, as a LibTorch trainer would
                             (the synthetic trainer evaluates nothing)
  instrument REPORT OUT      writes a copy of the page with a script that
                             measures every plot after layout
  check-dom DOM DB STUDY     checks the DOM Chromium parsed (dumped with
                             --dump-dom from the instrumented copy) against
                             the database: every plot present, in the SVG
                             namespace, with the right number of shapes and a
                             non-empty size; prints the page height
  check-pixels PNG DOM       checks the screenshot: every plot's region has
                             ink, in the plot's own colours

Only the standard library (zlib decodes the PNG), so it runs wherever
Python 3 does. Exits 1 with one line per problem.
"""

import html
import html.parser
import json
import sqlite3
import struct
import sys
import zlib

# The plots every report of the study must hold (besides param-*).
PLOTS = ["curves", "rungs", "parallel", "confusion", "timeline"]

# FMA's eight top-level genres: the classes of fma_small.
CLASSES = ["Electronic", "Experimental", "Folk", "Hip-Hop", "Instrumental",
           "International", "Pop", "Rock"]

problems = []


def problem(text):
    problems.append(text)
    print("FAIL: " + text)


def finish():
    if problems:
        print("%d problem(s)" % len(problems))
        sys.exit(1)


# --- add-evaluation --------------------------------------------------------

def add_evaluation(db, study):
    con = sqlite3.connect(db)
    row = con.execute("SELECT id FROM studies WHERE name = ?",
                      (study,)).fetchone()
    if row is None:
        sys.exit("no study %r in %s" % (study, db))
    study_id = row[0]
    have = con.execute("SELECT COUNT(*) FROM evaluations WHERE study_id = ?",
                       (study_id,)).fetchone()[0]
    if have:
        print("the study has %d evaluation(s) of its own" % have)
        return
    best = con.execute(
        "SELECT trial, trials.epochs FROM leaderboard JOIN trials ON "
        "trials.study_id = ? AND trials.number = leaderboard.trial "
        "WHERE leaderboard.study = ? ORDER BY rank, trial LIMIT 1",
        (study_id, study)).fetchone()
    if best is None:
        sys.exit("the study has no trial with a value")
    n = len(CLASSES)
    # Mostly right, with a plausible spread of confusions.
    confusion = [[(40 - 3 * i if i == j else (i * 7 + j * 3) % 5)
                  for j in range(n)] for i in range(n)]
    samples = sum(map(sum, confusion))
    correct = sum(confusion[i][i] for i in range(n))
    con.execute(
        "INSERT INTO evaluations(study_id, trial, split, state, error, "
        "checkpoint, epoch, loss, accuracy, track_accuracy, samples, tracks, "
        "metrics, confusion, classes, worker, recorded_at) VALUES "
        "(?, ?, 'test', 'done', '', '', ?, 0.9, ?, ?, ?, ?, '{}', ?, ?, "
        "'render-test', strftime('%s', 'now'))",
        (study_id, best[0], best[1], correct / samples,
         min(1.0, correct / samples + 0.05), samples, samples // 3,
         json.dumps(confusion), json.dumps(CLASSES)))
    con.commit()
    print("recorded an evaluation of trial %d (%d classes)" % (best[0], n))


# --- instrument ------------------------------------------------------------

MEASURE = """<script>
(function () {
  var out = {page: {width: document.documentElement.scrollWidth,
                    height: document.documentElement.scrollHeight},
             plots: []};
  var svgs = document.querySelectorAll('svg.plot');
  for (var i = 0; i < svgs.length; ++i) {
    var svg = svgs[i], r = svg.getBoundingClientRect(), box = null;
    try {
      var b = svg.getBBox();
      box = [b.x, b.y, b.width, b.height];
    } catch (e) {}
    var shapes = svg.querySelectorAll('path, rect, circle, line, text');
    var in_svg = 0;
    for (var k = 0; k < shapes.length; ++k) {
      if (shapes[k].namespaceURI === 'http://www.w3.org/2000/svg') ++in_svg;
    }
    out.plots.push({id: svg.id, ns: svg.namespaceURI,
                    x: r.left + window.scrollX, y: r.top + window.scrollY,
                    width: r.width, height: r.height, bbox: box,
                    shapes: shapes.length, shapes_in_svg: in_svg});
  }
  var pre = document.createElement('pre');
  pre.id = 'hpo-measure';
  pre.hidden = true;
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def instrument(report, out):
    page = open(report, encoding="utf-8").read()
    if "<script" in page:
        problem("the report holds a <script>; it must need no JavaScript")
    at = page.rfind("</body>")
    if at < 0:
        sys.exit("%s: no </body>" % report)
    open(out, "w", encoding="utf-8").write(page[:at] + MEASURE + page[at:])


# --- check-dom -------------------------------------------------------------

class Dom(html.parser.HTMLParser):
    """The elements of a dumped DOM inside each <svg>, by the svg's id."""

    def __init__(self):
        super().__init__()
        self.svgs = {}  # id -> {"attrs": ..., "children": [(tag, attrs)]}
        self.stack = []  # ids of the open svgs
        self.measure = None
        self._in_measure = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            key = attrs.get("id") or "#%d" % len(self.svgs)
            self.svgs[key] = {"attrs": attrs, "children": []}
            self.stack.append(key)
        elif self.stack:
            self.svgs[self.stack[-1]]["children"].append((tag, attrs))
        if tag == "pre" and attrs.get("id") == "hpo-measure":
            self._in_measure = True
            self.measure = ""

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "svg" and self.stack:
            self.stack.pop()
        if tag == "pre":
            self._in_measure = False

    def handle_data(self, data):
        if self._in_measure:
            self.measure += data


def classes(attrs):
    return (attrs.get("class") or "").split()


def parse_dom(path):
    dom = Dom()
    dom.feed(open(path, encoding="utf-8").read())
    if dom.measure is None:
        sys.exit("%s: the measuring script left no result (did it run?)" %
                 path)
    return dom, json.loads(html.unescape(dom.measure))


def check_dom(path, db, study):
    dom, measure = parse_dom(path)
    con = sqlite3.connect(db)
    sid = con.execute("SELECT id FROM studies WHERE name = ?",
                      (study,)).fetchone()[0]
    one = lambda sql: con.execute(sql, (sid,)).fetchone()[0]
    try:
        classes_json = one("SELECT classes FROM evaluations WHERE study_id = ? "
                           "ORDER BY recorded_at DESC LIMIT 1")
    except (sqlite3.Error, TypeError):
        classes_json = None
    if not classes_json:
        problem("the database holds no evaluation (run add-evaluation)")
        classes_json = "[]"
    expected = {
        "curves": one("SELECT COUNT(DISTINCT trial) FROM metrics WHERE "
                      "study_id = ? AND objective IS NOT NULL"),
        "parallel": one("SELECT COUNT(*) FROM trials WHERE study_id = ? AND "
                        "value IS NOT NULL"),
        "timeline": one("SELECT COUNT(*) FROM attempts WHERE study_id = ?"),
        "confusion": len(json.loads(classes_json)) ** 2,
    }
    # Trials that entered each rung: every rung up to the one they reached.
    entered = {}
    for bracket, rung in con.execute(
            "SELECT bracket, rung FROM trials WHERE study_id = ?", (sid,)):
        for r in range(rung + 1):
            entered[(bracket, r)] = entered.get((bracket, r), 0) + 1

    ids = [p["id"] for p in measure["plots"]]
    params = [i for i in ids if i.startswith("param-")]
    for plot in PLOTS + (["param-lr"] if "param-lr" in ids else ["param-*"]):
        if plot not in ids:
            problem("no <svg class=\"plot\" id=\"%s\"> in the page as parsed "
                    "(plots: %s)" % (plot, ", ".join(ids)))
    if not params:
        problem("no param-* plot")
    for p in measure["plots"]:
        name = p["id"]
        if p["ns"] != "http://www.w3.org/2000/svg":
            problem("%s: not in the SVG namespace (%s)" % (name, p["ns"]))
        if p["shapes"] < 3 or p["shapes_in_svg"] != p["shapes"]:
            problem("%s: %d shapes, %d in the SVG namespace" %
                    (name, p["shapes"], p["shapes_in_svg"]))
        if p["width"] < 100 or p["height"] < 50:
            problem("%s: laid out at %.0f x %.0f px" %
                    (name, p["width"], p["height"]))
        if not p["bbox"] or p["bbox"][2] < 50 or p["bbox"][3] < 20:
            problem("%s: its drawing has no extent (getBBox %s)" %
                    (name, p["bbox"]))
        if name not in dom.svgs or len(dom.svgs[name]["children"]) < 3:
            problem("%s: no children in the dumped DOM" % name)

    def count(plot, tag, cls, attribute=None):
        return sum(1 for t, a in dom.svgs.get(plot, {}).get("children", [])
                   if t == tag and cls in classes(a)
                   and (attribute is None or attribute in a))

    curves = count("curves", "path", "curve", "data-trial")
    if curves != expected["curves"]:
        problem("curves: %d paths for %d trials with metrics" %
                (curves, expected["curves"]))
    best = count("curves", "path", "best", "data-trial")
    if best != 1:
        problem("curves: %d best curves, want 1" % best)
    lines = count("parallel", "path", "pc-line")
    if lines != expected["parallel"]:
        problem("parallel: %d lines for %d trials with a value" %
                (lines, expected["parallel"]))
    bars = count("timeline", "rect", "attempt") - count(
        "timeline", "rect", "swatch")
    if bars != expected["timeline"]:
        problem("timeline: %d bars for %d attempts" %
                (bars, expected["timeline"]))
    cells = count("confusion", "rect", "cell")
    if cells != expected["confusion"]:
        problem("confusion: %d cells, want %d" % (cells, expected["confusion"]))
    texts = [a for t, a in dom.svgs.get("confusion", {}).get("children", [])
             if t == "text"]
    if len(texts) < 2 * len(CLASSES):
        problem("confusion: %d labels for %d classes" %
                (len(texts), len(CLASSES)))
    got = [int(a["data-count"]) for t, a in
           dom.svgs.get("rungs", {}).get("children", [])
           if t == "rect" and "rung-entered" in classes(a)]
    want = [entered[k] for k in sorted(entered)]
    # The report also lists planned rungs no trial reached (count 0).
    if [g for g in got if g] != want:
        problem("rungs: entered %s, the trials say %s" % (got, want))
    for name in params:
        points = count(name, "circle", "point")
        if points < 1:
            problem("%s: no points" % name)
    lr = dom.svgs.get("param-lr", {}).get("attrs", {})
    if lr and lr.get("data-scale") != "log":
        problem("param-lr: scale %r, want log" % lr.get("data-scale"))
    finish()
    print("%d plots parsed: %s" % (len(ids), ", ".join(ids)))
    print("page-height %d" % int(measure["page"]["height"] + 0.999))


# --- check-pixels ----------------------------------------------------------

def read_png(path):
    """(width, height, channels, rows): rows are bytes of 8-bit samples."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % path)
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(
                ">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        sys.exit("%s: unsupported PNG (depth %d, colour type %d)" %
                 (path, depth, colour))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    mask = (1 << (8 * stride)) - 1
    low = int.from_bytes(b"\x7f" * stride, "little")
    high = int.from_bytes(b"\x80" * stride, "little")

    def add(a, b):  # Bytewise a + b mod 256 on whole rows at once.
        return ((a & low) + (b & low)) ^ ((a ^ b) & high)

    rows, prev = [], bytes(stride)
    for y in range(height):
        at = y * (stride + 1)
        kind, line = raw[at], raw[at + 1:at + 1 + stride]
        if kind == 1:  # Sub: prefix sums per channel, by doubling.
            v, shift = int.from_bytes(line, "little"), channels
            while shift < stride:
                v = add(v, (v << (8 * shift)) & mask)
                shift *= 2
            line = v.to_bytes(stride, "little")
        elif kind == 2:  # Up.
            line = add(int.from_bytes(line, "little"),
                       int.from_bytes(prev, "little")).to_bytes(
                           stride, "little")
        elif kind in (3, 4):  # Average, Paeth: byte by byte.
            out = bytearray(line)
            for x in range(stride):
                a = out[x - channels] if x >= channels else 0
                b = prev[x]
                if kind == 3:
                    out[x] = (out[x] + ((a + b) >> 1)) & 255
                    continue
                c = prev[x - channels] if x >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                out[x] = (out[x] + pred) & 255
            line = bytes(out)
        elif kind != 0:
            sys.exit("%s: bad filter %d in row %d" % (path, kind, y))
        rows.append(line)
        prev = line
    return width, height, channels, rows


# Colours each plot draws with (CSS of results/report.cc): at least one
# must show up in its region.
PLOT_COLOURS = {
    "curves": [(255, 127, 14)],                   # The best trial, orange.
    "rungs": [(49, 130, 189), (198, 219, 239)],   # Promoted, entered.
    "timeline": [(44, 160, 44), (158, 158, 158)],  # done, pruned.
    "confusion": None,                            # Shades of blue.
    "parallel": None,                             # Viridis.
}


def check_pixels(png, dom_path):
    width, height, channels, rows = read_png(png)
    _, measure = parse_dom(dom_path)
    for p in measure["plots"]:
        x0, y0 = int(p["x"]), int(p["y"])
        x1 = min(width, int(p["x"] + p["width"]))
        y1 = min(height, int(p["y"] + p["height"]))
        if x1 - x0 < 50 or y1 - y0 < 20:
            problem("%s: region %d,%d-%d,%d is outside the %dx%d screenshot"
                    % (p["id"], x0, y0, x1, y1, width, height))
            continue
        ink = coloured = 0
        wanted = PLOT_COLOURS.get(p["id"])
        exact = 0
        for y in range(y0, y1):
            row = rows[y]
            for x in range(x0, x1):
                r, g, b = row[x * channels:x * channels + 3]
                if r < 250 or g < 250 or b < 250:
                    ink += 1
                    if max(r, g, b) - min(r, g, b) > 40:
                        coloured += 1
                        if wanted and any(abs(r - c[0]) + abs(g - c[1]) +
                                          abs(b - c[2]) < 12 for c in wanted):
                            exact += 1
        area = (x1 - x0) * (y1 - y0)
        line = "%-24s %4dx%-4d ink %5.1f%%, coloured %5.1f%%" % (
            p["id"], x1 - x0, y1 - y0, 100.0 * ink / area,
            100.0 * coloured / area)
        print(line + ("" if not wanted else ", own colours %d px" % exact))
        if ink < max(200, area // 200):
            problem("%s: almost blank (%d of %d pixels drawn)" %
                    (p["id"], ink, area))
        # Scatter points may all be grey (pruned trials); the rest use colour.
        if coloured < 20 and p["id"] in PLOT_COLOURS:
            problem("%s: no coloured pixels (%d)" % (p["id"], coloured))
        if wanted and exact < 20:
            problem("%s: its colours %s are missing (%d px)" %
                    (p["id"], wanted, exact))
    finish()


def main(argv):
    commands = {"add-evaluation": (add_evaluation, 2),
                "instrument": (instrument, 2),
                "check-dom": (check_dom, 3),
                "check-pixels": (check_pixels, 2)}
    if len(argv) < 2 or argv[1] not in commands or \
            len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    function, _ = commands[argv[1]]
    function(*argv[2:])
    finish()


if __name__ == "__main__":
    main(sys.argv)
