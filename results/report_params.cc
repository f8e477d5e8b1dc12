#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/trial_state.h"
#include "results/report_format.h"
#include "results/report_sections.h"
#include "results/svg_plot.h"

namespace hpo {
namespace report_html {

namespace {
struct ParamAxis {
  AxisKind kind = AxisKind::kLinear;
  double lo = 0, hi = 1;
  std::vector<json> categories;

  // Position in [0, 1] of `value` (jitter in [-0.5, 0.5) spreads points of
  // one category); nullopt when the axis cannot show it.
  std::optional<double> Position(const json& value, double jitter = 0) const {
    if (kind == AxisKind::kCategory) {
      auto it = std::find(categories.begin(), categories.end(), value);
      if (it == categories.end()) return std::nullopt;
      const double n = static_cast<double>(categories.size());
      return (static_cast<double>(it - categories.begin()) + 0.5 +
              jitter * 0.6) /
             n;
    }
    if (!value.is_number()) return std::nullopt;
    const double v = value.get<double>();
    if (!std::isfinite(v) || (kind == AxisKind::kLog && !(v > 0))) {
      return std::nullopt;
    }
    Scale s{lo, hi, 0, 1, kind == AxisKind::kLog};
    return s(v);
  }

  // Ticks with positions in [0, 1].
  std::vector<Tick> Ticks(int target) const {
    std::vector<Tick> ticks;
    if (kind == AxisKind::kCategory) {
      const double n = static_cast<double>(categories.size());
      for (size_t i = 0; i < categories.size(); ++i) {
        ticks.push_back({(static_cast<double>(i) + 0.5) / n,
                         Shorten(ValueLabel(categories[i]), 14)});
      }
      return ticks;
    }
    Scale s{lo, hi, 0, 1, kind == AxisKind::kLog};
    for (Tick& t : kind == AxisKind::kLog ? LogTicks(lo, hi)
                                          : NiceTicks(lo, hi, target)) {
      ticks.push_back({s(t.value), t.label});
    }
    return ticks;
  }
};
}  // namespace

ParamAxis MakeParamAxis(const ParamInfo& p,
                        const std::vector<const TrialRow*>& trials) {
  ParamAxis axis;
  axis.kind = p.kind;
  axis.categories = p.categories;
  if (p.kind == AxisKind::kCategory) return axis;
  const bool log = p.kind == AxisKind::kLog;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto take = [&](double v) {
    if (!std::isfinite(v) || (log && !(v > 0))) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  if (p.low) take(*p.low);
  if (p.high) take(*p.high);
  for (const TrialRow* t : trials) {
    if (t->params.is_object() && t->params.contains(p.name) &&
        t->params[p.name].is_number()) {
      take(t->params[p.name].get<double>());
    }
  }
  Widen(lo, hi, log, 0.03);
  axis.lo = lo;
  axis.hi = hi;
  return axis;
}

// The trials with a value, worst first (so the best is drawn on top).
std::vector<const TrialRow*> WorstFirst(const Context& c) {
  std::vector<const TrialRow*> trials;
  for (auto it = c.ranked.rbegin(); it != c.ranked.rend(); ++it) {
    if (std::isfinite(*it->trial->value)) trials.push_back(it->trial);
  }
  return trials;
}

void RenderParams(const Context& c, std::string& out) {
  out +=
      "<section id=\"s-params\">\n<h2>Objective against each "
      "hyperparameter</h2>\n";
  const std::string& metric = c.data.study.metric;
  if (c.spec.params.empty()) {
    Note(out, "The study searches no hyperparameters.");
    out += "</section>\n";
    return;
  }
  std::vector<const TrialRow*> trials = WorstFirst(c);
  if (trials.empty()) {
    Note(out, "No trial has a finite " + metric + " yet.");
    out += "</section>\n";
    return;
  }
  out += "<p class=\"caption\">" + Escape(metric) +
         " at each trial's last epoch against its parameters; log-scaled "
         "parameters on log axes, choices as categories.</p>\n<div "
         "class=\"grid\">\n";
  auto [vlo, vhi] = ValueRange(c);
  Widen(vlo, vhi, false, 0.05);
  const double width = 300, height = 236;
  const double left = 62, right = 12, top = 24, bottom = 46;
  std::map<std::string, int> ids;
  for (const ParamInfo& p : c.spec.params) {
    const ParamAxis axis = MakeParamAxis(p, trials);
    std::string id = "param-" + IdPart(p.name);
    if (ids[id]++ > 0) id += "-" + std::to_string(ids[id]);
    const std::string scale = p.kind == AxisKind::kLog        ? "log"
                              : p.kind == AxisKind::kCategory ? "category"
                                                              : "linear";
    out += "<figure>\n";
    OpenSvg(
        out, id, "scatter", width, height, metric + " against " + p.name,
        " data-param=\"" + Escape(p.name) + "\" data-scale=\"" + scale + "\"");
    Text(out, 8, 14,
         Shorten(p.name + (p.type.empty() ? "" : " (" + p.type + ")"), 42),
         "plot-title");
    Scale x{0, 1, left, width - right, false};
    Scale y{vlo, vhi, height - bottom, top, false};
    std::vector<Tick> xticks = axis.Ticks(4);
    XAxis(out, x, height - bottom, top, xticks,
          p.kind == AxisKind::kLog ? p.name + " (log scale)" : p.name);
    YAxis(out, y, left, width - right, NiceTicks(vlo, vhi, 5), metric);
    int64_t shown = 0;
    std::string points;
    for (const TrialRow* t : trials) {
      if (!t->params.is_object() || !t->params.contains(p.name)) continue;
      std::optional<double> pos =
          axis.Position(t->params[p.name], Jitter(t->number));
      if (!pos) continue;
      ++shown;
      const bool best = t == c.best;
      points += "<circle class=\"point " + std::string(StateName(t->state)) +
                (best ? " best" : "") + "\" cx=\"" + Coord(x(*pos)) +
                "\" cy=\"" + Coord(y(*t->value)) + "\" r=\"" +
                (best ? "5" : "3") + "\"><title>trial " +
                std::to_string(t->number) + ": " + Escape(p.name) + " = " +
                Escape(ValueLabel(t->params[p.name])) + ", " + Escape(metric) +
                " " + Number(*t->value) + "</title></circle>\n";
    }
    out += "<g class=\"points\" data-points=\"" + std::to_string(shown) +
           "\">\n" + points + "</g>\n</svg>\n";
    const int64_t missing = static_cast<int64_t>(trials.size()) - shown;
    if (missing > 0) {
      out += "<figcaption>" + Plural(missing, "trial", "trials") +
             " without this parameter (conditional) not shown</figcaption>\n";
    }
    out += "</figure>\n";
  }
  out += "</div>\n</section>\n";
}

void RenderParallel(const Context& c, std::string& out) {
  out += "<section id=\"s-parallel\">\n<h2>Parallel coordinates</h2>\n";
  const std::string& metric = c.data.study.metric;
  std::vector<const TrialRow*> trials = WorstFirst(c);
  if (trials.empty() || c.spec.params.empty()) {
    Note(out, trials.empty() ? "No trial has a finite " + metric + " yet."
                             : "The study searches no hyperparameters.");
    out += "</section>\n";
    return;
  }
  std::vector<const ParamInfo*> params;
  std::vector<ParamAxis> axes;
  for (const ParamInfo& p : c.spec.params) {
    params.push_back(&p);
    axes.push_back(MakeParamAxis(p, trials));
  }
  auto [vlo, vhi] = ValueRange(c);
  double olo = vlo, ohi = vhi;
  Widen(olo, ohi, false, 0.02);
  const size_t n = axes.size() + 1;
  const double left = 70, right = 70, top = 34, bottom = 70;
  const double width = std::max(700.0, 120.0 * static_cast<double>(n));
  const double height = 380;
  const double step = (width - left - right) / static_cast<double>(n - 1);
  auto axis_x = [&](size_t i) { return left + step * static_cast<double>(i); };
  Scale unit{0, 1, height - bottom, top, false};
  Scale objective{olo, ohi, height - bottom, top, false};
  out +=
      "<p class=\"caption\">One line per trial with a value, through its "
      "parameters and " +
      Escape(metric) +
      "; colour from worst (purple) to best (yellow), the best trial "
      "thickest. A line breaks where a trial lacks a (conditional) "
      "parameter.</p>\n";
  OpenSvg(out, "parallel", "parallel", width, height,
          "parallel coordinates of parameters and " + metric,
          " data-axes=\"" + std::to_string(n) + "\"");
  out += "<g class=\"lines\">\n";
  for (const TrialRow* t : trials) {
    double goodness = vhi > vlo ? (*t->value - vlo) / (vhi - vlo) : 1;
    if (!c.maximize) goodness = 1 - goodness;
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < n; ++i) {
      std::optional<double> pos;
      double py = 0;
      if (i + 1 == n) {
        py = objective(*t->value);
        pos = 0;
      } else if (t->params.is_object() && t->params.contains(params[i]->name)) {
        pos = axes[i].Position(t->params[params[i]->name],
                               Jitter(t->number) * 0.5);
        if (pos) py = unit(*pos);
      }
      if (!pos) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + Coord(axis_x(i)) + " " + Coord(py);
      pen = true;
    }
    out += "<path class=\"pc-line" + std::string(t == c.best ? " best" : "") +
           "\" data-trial=\"" + std::to_string(t->number) + "\" stroke=\"" +
           Viridis(goodness) + "\" d=\"" + d + "\"><title>trial " +
           std::to_string(t->number) + ": " + Escape(metric) + " " +
           Number(*t->value) + "; " + Escape(ParamsText(t->params)) +
           "</title></path>\n";
  }
  out += "</g>\n";
  for (size_t i = 0; i < n; ++i) {
    const double x = axis_x(i);
    out += "<g class=\"pc-axis-group\">\n";
    Line(out, x, top, x, height - bottom, "pc-axis");
    const bool last = i + 1 == n;
    const std::string name = last ? metric : params[i]->name;
    Text(out, x, top - 18, Shorten(name, 18), "axis-title", "middle");
    if (!last && axes[i].kind == AxisKind::kLog) {
      Text(out, x, top - 6, "log", "tick-label", "middle");
    }
    std::vector<Tick> ticks;
    if (last) {
      for (const Tick& t : NiceTicks(olo, ohi, 5)) {
        ticks.push_back({objective(t.value), t.label});
      }
    } else {
      for (const Tick& t : axes[i].Ticks(4)) {
        ticks.push_back({unit(t.value), t.label});
      }
    }
    for (const Tick& t : ticks) {
      Line(out, x - 3, t.value, x + 3, t.value, "tick");
      Text(out, x - 6, t.value + 4, t.label, "tick-label", "end");
    }
    out += "</g>\n";
  }
  // Colour legend.
  const double lx = left + 110, ly = height - 30, lw = 200;
  out += "<defs><linearGradient id=\"parallel-gradient\">";
  for (int i = 0; i <= 4; ++i) {
    out += "<stop offset=\"" + std::to_string(i * 25) + "%\" stop-color=\"" +
           Viridis(i / 4.0) + "\"/>";
  }
  out += "</linearGradient></defs>\n";
  out += "<rect class=\"legend-bar\" x=\"" + Coord(lx) + "\" y=\"" + Coord(ly) +
         "\" width=\"" + Coord(lw) +
         "\" height=\"10\" fill=\"url(#parallel-gradient)\"/>\n";
  Text(out, lx - 8, ly + 9, "worst " + Number(c.maximize ? vlo : vhi),
       "tick-label", "end");
  Text(out, lx + lw + 6, ly + 9, "best " + Number(c.maximize ? vhi : vlo),
       "tick-label");
  out += "</svg>\n</section>\n";
}

// The evaluation to show: the best trial's (test split first), else the
// latest one recorded.

}  // namespace report_html
}  // namespace hpo
