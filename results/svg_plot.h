// hpo-report's plot toolkit: linear and log scales, "nice" ticks, axes with
// grid lines, text and lines as SVG, a colour map. Colours and line styles
// live in the page's CSS, so the SVG carries only classes and geometry.
#ifndef HPO_RESULTS_SVG_PLOT_H_
#define HPO_RESULTS_SVG_PLOT_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hpo {
// The pieces of hpo-report's page (results/report.cc puts them together).
namespace report_html {

using nlohmann::json;

// Maps a domain [lo, hi] (log10 of it when `log`) onto pixels [from, to].
struct Scale {
  double lo = 0, hi = 1;
  double from = 0, to = 1;
  bool log = false;

  double operator()(double v) const {
    const double a = log ? std::log10(lo) : lo;
    const double b = log ? std::log10(hi) : hi;
    const double x = log ? std::log10(v) : v;
    if (!(b > a)) return (from + to) / 2;
    return from + (x - a) / (b - a) * (to - from);
  }
};

struct Tick {
  double value;
  std::string label;
};

// Makes [lo, hi] a usable, non-empty domain: a single value gets room around
// it; `pad` widens a linear domain by that fraction on each side.
void Widen(double& lo, double& hi, bool log, double pad);

// About `target` ticks at 1, 2 or 5 times a power of ten within [lo, hi];
// `integer` keeps the step at least 1.
std::vector<Tick> NiceTicks(double lo, double hi, int target,
                            bool integer = false);

std::string LogLabel(double v);

// Powers of ten within [lo, hi] (lo > 0), with 2x and 5x between them when
// the domain spans less than two decades; at most about 8 labels.
std::vector<Tick> LogTicks(double lo, double hi);

// Time ticks (seconds) at steps people read: 1 s ... 1 day.
std::vector<Tick> TimeTicks(double span, int target);

// Appends the opening tag of a plot.
void OpenSvg(std::string& out, const std::string& id, const std::string& kind,
             double width, double height, const std::string& label,
             const std::string& extra_attributes = "");

void Text(std::string& out, double x, double y, const std::string& text,
          const std::string& cls, const std::string& anchor = "start",
          const std::string& extra = "");

void Line(std::string& out, double x1, double y1, double x2, double y2,
          const std::string& cls);

// A horizontal axis at `y`, with grid lines up to `grid_top` (none when it
// equals `y`) and a title below.
void XAxis(std::string& out, const Scale& x, double y, double grid_top,
           const std::vector<Tick>& ticks, const std::string& title);

// A vertical axis at `x`, with grid lines across to `grid_right` (none when
// it equals `x`) and a title turned along it.
void YAxis(std::string& out, const Scale& y, double x, double grid_right,
           const std::vector<Tick>& ticks, const std::string& title);

void Note(std::string& out, const std::string& text);

// Viridis at t in [0, 1] (0 dark purple, 1 yellow), as #rrggbb.
std::string Viridis(double t);

// A deterministic offset in [-0.5, 0.5) for trial `number` (spreads points
// that share a category).
double Jitter(int64_t number);

}  // namespace report_html
}  // namespace hpo

#endif  // HPO_RESULTS_SVG_PLOT_H_
