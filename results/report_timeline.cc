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

void RenderTimeline(const Context& c, std::string& out) {
  out += "<section id=\"s-timeline\">\n<h2>Timeline</h2>\n";
  const std::vector<AttemptRow>& attempts = c.data.attempts;
  if (attempts.empty()) {
    Note(out, "No attempt has started yet.");
    out += "</section>\n";
    return;
  }
  double t0 = std::numeric_limits<double>::infinity(), t1 = -t0;
  auto end_of = [&c](const AttemptRow& a) {
    double end = a.ended_at ? *a.ended_at : c.open_end;
    return std::isfinite(end) ? std::max(end, a.started_at) : a.started_at;
  };
  for (const AttemptRow& a : attempts) {
    t0 = std::min(t0, a.started_at);
    t1 = std::max(t1, end_of(a));
  }
  const double span = std::max(t1 - t0, 1e-3);
  // Lanes: workers in the order they started their first attempt; within a
  // lane, attempts that overlap (several slots) get rows of their own.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const AttemptRow*>> lanes;
  std::vector<const AttemptRow*> sorted;
  for (const AttemptRow& a : attempts) sorted.push_back(&a);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const AttemptRow* a, const AttemptRow* b) {
                     return a->started_at < b->started_at;
                   });
  for (const AttemptRow* a : sorted) {
    if (!lanes.count(a->worker)) order.push_back(a->worker);
    lanes[a->worker].push_back(a);
  }
  std::map<const AttemptRow*, int> row_of;
  std::map<std::string, int> rows_of;
  for (const std::string& worker : order) {
    std::vector<double> row_end;
    for (const AttemptRow* a : lanes[worker]) {
      size_t r = 0;
      while (r < row_end.size() && row_end[r] > a->started_at + 1e-6) ++r;
      if (r == row_end.size()) row_end.push_back(0);
      row_end[r] = end_of(*a);
      row_of[a] = static_cast<int>(r);
    }
    rows_of[worker] = static_cast<int>(row_end.size());
  }
  size_t longest = 0;
  for (const std::string& worker : order) {
    longest = std::max(longest, Shorten(worker, 24).size());
  }
  const double row = 12, gap = 8;
  const double left = std::min(190.0, 20 + 6.5 * static_cast<double>(longest));
  const double right = 20, top = 8;
  const double width = 900;
  double lanes_height = 0;
  for (const std::string& worker : order) {
    lanes_height += row * rows_of[worker] + gap;
  }
  const double axis_y = top + lanes_height;
  const double height = axis_y + 78;
  Scale x{0, span, left, width - right, false};
  int64_t open = 0;
  for (const AttemptRow& a : attempts) open += !a.ended_at;
  out +=
      "<p class=\"caption\">One lane per worker, one bar per attempt "
      "(a job: a trial trained from one epoch to another), coloured by "
      "how it ended; gaps are idle time. " +
      Plural(static_cast<int64_t>(attempts.size()), "attempt", "attempts") +
      " on " + Plural(static_cast<int64_t>(order.size()), "worker", "workers");
  if (open > 0) {
    out += "; " + Plural(open, "attempt is", "attempts are") +
           " still open (dashed, drawn up to " + UtcTime(c.open_end) + ")";
  }
  out += ".</p>\n";
  OpenSvg(out, "timeline", "timeline", width, height,
          "attempts per worker over time",
          " data-lanes=\"" + std::to_string(order.size()) +
              "\" data-attempts=\"" + std::to_string(attempts.size()) + "\"");
  double y = top;
  for (size_t l = 0; l < order.size(); ++l) {
    const std::string& worker = order[l];
    const double h = row * rows_of[worker];
    out += "<g class=\"lane\" data-worker=\"" + Escape(worker) + "\">\n";
    if (l % 2 == 0) {
      out += "<rect class=\"lane\" x=\"" + Coord(left) + "\" y=\"" +
             Coord(y - gap / 2) + "\" width=\"" + Coord(width - right - left) +
             "\" height=\"" + Coord(h + gap) + "\"/>\n";
    }
    Text(out, left - 6, y + h / 2 + 4,
         worker.empty() ? "(no worker)" : Shorten(worker, 24), "lane-label",
         "end");
    for (const AttemptRow* a : lanes[worker]) {
      const double x0 = x(a->started_at - t0);
      const double x1 = x(end_of(*a) - t0);
      const double by = y + row * row_of[a] + 1;
      const std::string state = a->ended_at ? a->state : "running";
      std::string title = "trial " + std::to_string(a->trial) + " attempt " +
                          std::to_string(a->attempt) + " on " + a->worker +
                          ": epochs " + std::to_string(a->from_epoch) +
                          "\xE2\x86\x92" + std::to_string(a->to_epoch) + ", " +
                          (a->ended_at ? a->state : "still running") + ", " +
                          ShortClock(end_of(*a) - a->started_at);
      if (!a->reason.empty()) title += " (" + Shorten(a->reason, 200) + ")";
      out += "<rect class=\"attempt " + IdPart(state) +
             (a->ended_at ? "" : " open") + "\" x=\"" + Coord(x0) + "\" y=\"" +
             Coord(by) + "\" width=\"" + Coord(std::max(1.0, x1 - x0)) +
             "\" height=\"" + Coord(row - 2) + "\" data-trial=\"" +
             std::to_string(a->trial) + "\"><title>" + Escape(title) +
             "</title></rect>\n";
    }
    out += "</g>\n";
    y += h + gap;
  }
  XAxis(out, x, axis_y, axis_y, TimeTicks(span, 9),
        "time since the first attempt started (from " + UtcTime(t0) + ")");
  // Legend: the outcomes present.
  std::vector<std::string> states;
  for (const AttemptRow& a : attempts) {
    const std::string s = a.ended_at ? a.state : "running";
    if (std::find(states.begin(), states.end(), s) == states.end()) {
      states.push_back(s);
    }
  }
  double lx = left;
  const double ly = height - 16;
  for (const std::string& s : states) {
    out += "<rect class=\"swatch attempt " + IdPart(s) + "\" x=\"" + Coord(lx) +
           "\" y=\"" + Coord(ly - 9) + "\" width=\"14\" height=\"10\"/>\n";
    Text(out, lx + 18, ly, s, "legend-label");
    lx += 30 + 7 * static_cast<double>(s.size());
  }
  out += "</svg>\n</section>\n";
}

}  // namespace report_html
}  // namespace hpo
