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

std::string CurvePath(const Curve& curve, const Scale& x, const Scale& y) {
  std::string d;
  size_t run = 0;
  for (const auto& [epoch, value] : curve) {
    if (!std::isfinite(value)) {
      if (run == 1) d += "h0";
      run = 0;
      continue;
    }
    d += (run == 0 ? "M" : "L") + Coord(x(epoch)) + " " + Coord(y(value));
    ++run;
  }
  if (run == 1) d += "h0";
  return d;
}

void RenderCurves(const Context& c, std::string& out) {
  out += "<section id=\"s-curves\">\n<h2>Learning curves</h2>\n";
  const std::string& metric = c.data.study.metric;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int max_epoch = 1;
  std::vector<int64_t> drawn;
  for (const auto& [trial, curve] : c.curves) {
    bool any = false;
    for (const auto& [epoch, value] : curve) {
      if (!std::isfinite(value)) continue;
      any = true;
      lo = std::min(lo, value);
      hi = std::max(hi, value);
      max_epoch = std::max(max_epoch, epoch);
    }
    if (any) drawn.push_back(trial);
  }
  if (drawn.empty()) {
    Note(out, c.data.metrics.empty()
                  ? "No trial has reported an epoch yet."
                  : "No trial has reported a finite " + metric + " yet.");
    out += "</section>\n";
    return;
  }
  const double width = 900, height = 430;
  const double left = 70, right = 150, top = 14, bottom = 52;
  Widen(lo, hi, false, 0.04);
  Scale x{0, static_cast<double>(max_epoch), left, width - right, false};
  Scale y{lo, hi, height - bottom, top, false};
  const int64_t best = c.best ? c.best->number : -1;
  out += "<p class=\"caption\">" + Escape(metric) +
         " after each epoch of every trial (" +
         Plural(static_cast<int64_t>(drawn.size()), "trial", "trials") +
         "); pruned trials are drawn faintly, failed ones dashed";
  if (best >= 0) {
    out += ", the best (trial " + std::to_string(best) + ") in orange";
  }
  out += ".</p>\n";
  OpenSvg(out, "curves", "curves", width, height,
          "learning curves: " + metric + " against epoch",
          " data-trials=\"" + std::to_string(drawn.size()) + "\"");
  XAxis(out, x, height - bottom, top,
        NiceTicks(0, max_epoch, std::min(max_epoch, 10), true), "epoch");
  YAxis(out, y, left, width - right, NiceTicks(lo, hi, 6), metric);
  // Faint ones first, the best last, so the highlight stays on top.
  auto layer = [&c, best](int64_t trial) {
    if (trial == best) return 3;
    auto it = c.trials.find(trial);
    if (it == c.trials.end()) return 2;
    if (it->second->state == TrialState::kPruned) return 0;
    if (it->second->state == TrialState::kFailed) return 1;
    return 2;
  };
  std::stable_sort(drawn.begin(), drawn.end(), [&layer](int64_t a, int64_t b) {
    return layer(a) < layer(b);
  });
  out += "<g class=\"curves\">\n";
  for (int64_t trial : drawn) {
    const Curve& curve = c.curves.at(trial);
    auto it = c.trials.find(trial);
    const std::string state =
        it == c.trials.end() ? "running" : StateName(it->second->state);
    double last = kNaN;
    int last_epoch = 0;
    int points = 0;
    for (const auto& [epoch, value] : curve) {
      if (std::isfinite(value)) {
        last = value;
        last_epoch = epoch;
        ++points;
      }
    }
    out += "<path class=\"curve " + state + (trial == best ? " best" : "") +
           "\" data-trial=\"" + std::to_string(trial) + "\" d=\"" +
           CurvePath(curve, x, y) + "\" data-points=\"" +
           std::to_string(points) + "\"><title>trial " + std::to_string(trial) +
           " (" + state + "): " + Escape(metric) + " " + Number(last) +
           " at epoch " + std::to_string(last_epoch) + "</title></path>\n";
    if (trial == best) {
      out += "<circle class=\"best-marker\" cx=\"" + Coord(x(last_epoch)) +
             "\" cy=\"" + Coord(y(last)) + "\" r=\"4.5\"/>\n";
    }
  }
  out += "</g>\n";
  // Legend.
  const double lx = width - right + 16;
  double ly = top + 10;
  out += "<g class=\"legend\">\n";
  const std::pair<const char*, const char*> kLegend[] = {
      {"complete", "complete"},
      {"running", "running / paused"},
      {"pruned", "pruned"},
      {"failed", "failed"},
      {"best", "best trial"}};
  for (const auto& [cls, label] : kLegend) {
    out += "<path class=\"swatch-line curve " + std::string(cls) + "\" d=\"M" +
           Coord(lx) + " " + Coord(ly) + "h22\"/>\n";
    Text(out, lx + 28, ly + 4, label, "legend-label");
    ly += 18;
  }
  out += "</g>\n</svg>\n</section>\n";
}

// What the trials of one rung did.

}  // namespace report_html
}  // namespace hpo
