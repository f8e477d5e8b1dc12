#include "results/svg_plot.h"

#include <algorithm>
#include <cstdio>

#include "results/report_format.h"

namespace hpo {
namespace report_html {

// ---------------------------------------------------------------------------
// Plot toolkit

// Makes [lo, hi] a usable, non-empty domain: a single value gets room around
// it; `pad` widens a linear domain by that fraction on each side.
void Widen(double& lo, double& hi, bool log, double pad) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (log) {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > lo)) {
      lo /= 2;
      hi *= 2;
    }
    return;
  }
  if (!(hi > lo)) {
    const double d = lo == 0 ? 1 : std::abs(lo) * 0.05;
    lo -= d;
    hi += d;
    return;
  }
  const double d = (hi - lo) * pad;
  lo -= d;
  hi += d;
}

// About `target` ticks at 1, 2 or 5 times a power of ten within [lo, hi];
// `integer` keeps the step at least 1.
std::vector<Tick> NiceTicks(double lo, double hi, int target, bool integer) {
  std::vector<Tick> ticks;
  const double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) {
    if (std::isfinite(lo)) ticks.push_back({lo, Number(lo)});
    return ticks;
  }
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  double step = normalized < 1.5 ? 1
                : normalized < 3 ? 2
                : normalized < 7 ? 5
                                 : 10;
  step *= magnitude;
  if (integer) step = std::max(1.0, std::round(step));
  const double first = std::ceil(lo / step - 1e-9);
  const double last = std::floor(hi / step + 1e-9);
  for (double n = first; n <= last && ticks.size() < 50; ++n) {
    double v = n * step;
    if (std::abs(v) < step * 1e-9) v = 0;
    ticks.push_back({v, Number(v, 6)});
  }
  return ticks;
}

std::string LogLabel(double v) {
  const double exponent = std::round(std::log10(v));
  if (std::abs(v - std::pow(10, exponent)) < v * 1e-9 &&
      std::abs(exponent) >= 4) {
    return "1e" + std::to_string(static_cast<int>(exponent));
  }
  return Number(v, 3);
}

// Powers of ten within [lo, hi] (lo > 0), with 2x and 5x between them when
// the domain spans less than two decades; at most about 8 labels.
std::vector<Tick> LogTicks(double lo, double hi) {
  std::vector<Tick> ticks;
  const int first = static_cast<int>(std::floor(std::log10(lo)));
  const int last = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = last - first <= 2;
  const int every = std::max(1, (last - first + 7) / 8);
  for (int e = first; e <= last; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && !fine) continue;
      if (m == 1 && (e - first) % every != 0) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) {
        ticks.push_back({v, LogLabel(v)});
      }
    }
  }
  if (ticks.empty()) {
    ticks.push_back({lo, Number(lo, 3)});
    ticks.push_back({hi, Number(hi, 3)});
  }
  return ticks;
}

// Time ticks (seconds) at steps people read: 1 s ... 1 day.
std::vector<Tick> TimeTicks(double span, int target) {
  static const double kSteps[] = {0.1,  0.2,  0.5,  1,     2,     5,     10,
                                  15,   30,   60,   120,   300,   600,   900,
                                  1800, 3600, 7200, 10800, 21600, 43200, 86400};
  double step = kSteps[sizeof kSteps / sizeof kSteps[0] - 1];
  for (double s : kSteps) {
    if (span / s <= target) {
      step = s;
      break;
    }
  }
  std::vector<Tick> ticks;
  for (double t = 0; t <= span + 1e-9 && ticks.size() < 60; t += step) {
    ticks.push_back({t, step < 1 ? Number(t, 3) + " s" : ShortClock(t)});
  }
  return ticks;
}

// Appends the opening tag of a plot.
void OpenSvg(std::string& out, const std::string& id, const std::string& kind,
             double width, double height, const std::string& label,
             const std::string& extra_attributes) {
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot " + kind +
         "\" id=\"" + id + "\" viewBox=\"0 0 " + Coord(width) + " " +
         Coord(height) + "\" width=\"" + Coord(width) + "\" height=\"" +
         Coord(height) + "\" role=\"img\" aria-label=\"" + Escape(label) +
         "\"" + extra_attributes + ">\n";
}

void Text(std::string& out, double x, double y, const std::string& text,
          const std::string& cls, const std::string& anchor,
          const std::string& extra) {
  out += "<text x=\"" + Coord(x) + "\" y=\"" + Coord(y) + "\" class=\"" + cls +
         "\"";
  if (anchor != "start") out += " text-anchor=\"" + anchor + "\"";
  out += extra + ">" + Escape(text) + "</text>\n";
}

void Line(std::string& out, double x1, double y1, double x2, double y2,
          const std::string& cls) {
  out += "<line x1=\"" + Coord(x1) + "\" y1=\"" + Coord(y1) + "\" x2=\"" +
         Coord(x2) + "\" y2=\"" + Coord(y2) + "\" class=\"" + cls + "\"/>\n";
}

// A horizontal axis at `y`, with grid lines up to `grid_top` (none when it
// equals `y`) and a title below.
void XAxis(std::string& out, const Scale& x, double y, double grid_top,
           const std::vector<Tick>& ticks, const std::string& title) {
  out += "<g class=\"axis x\">\n";
  for (const Tick& tick : ticks) {
    const double px = x(tick.value);
    if (grid_top < y) Line(out, px, grid_top, px, y, "grid");
    Line(out, px, y, px, y + 4, "tick");
    Text(out, px, y + 16, tick.label, "tick-label", "middle");
  }
  Line(out, std::min(x.from, x.to), y, std::max(x.from, x.to), y, "axis-line");
  if (!title.empty()) {
    Text(out, (x.from + x.to) / 2, y + 34, title, "axis-title", "middle");
  }
  out += "</g>\n";
}

// A vertical axis at `x`, with grid lines across to `grid_right` (none when
// it equals `x`) and a title turned along it.
void YAxis(std::string& out, const Scale& y, double x, double grid_right,
           const std::vector<Tick>& ticks, const std::string& title) {
  out += "<g class=\"axis y\">\n";
  for (const Tick& tick : ticks) {
    const double py = y(tick.value);
    if (grid_right > x) Line(out, x, py, grid_right, py, "grid");
    Line(out, x - 4, py, x, py, "tick");
    Text(out, x - 7, py + 4, tick.label, "tick-label", "end");
  }
  Line(out, x, std::min(y.from, y.to), x, std::max(y.from, y.to), "axis-line");
  if (!title.empty()) {
    const double cy = (y.from + y.to) / 2;
    const double cx = x - 48;
    Text(out, cx, cy, title, "axis-title", "middle",
         " transform=\"rotate(-90 " + Coord(cx) + " " + Coord(cy) + ")\"");
  }
  out += "</g>\n";
}

void Note(std::string& out, const std::string& text) {
  out += "<p class=\"note\">" + Escape(text) + "</p>\n";
}

// Viridis at t in [0, 1] (0 dark purple, 1 yellow), as #rrggbb.
std::string Viridis(double t) {
  static const double kStops[][3] = {{68, 1, 84},
                                     {59, 82, 139},
                                     {33, 145, 140},
                                     {94, 201, 98},
                                     {253, 231, 37}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buffer[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k) {
    rgb[k] = static_cast<int>(
        std::lround(kStops[i][k] + (kStops[i + 1][k] - kStops[i][k]) * f));
  }
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buffer;
}

// A deterministic offset in [-0.5, 0.5) for trial `number` (spreads points
// that share a category).
double Jitter(int64_t number) {
  uint64_t h = static_cast<uint64_t>(number) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  return static_cast<double>(h % 1000) / 1000.0 - 0.5;
}

}  // namespace report_html
}  // namespace hpo
