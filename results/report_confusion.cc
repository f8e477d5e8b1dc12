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

const EvaluationRow* ChooseEvaluation(const Context& c) {
  const EvaluationRow* chosen = nullptr;
  auto score = [&c](const EvaluationRow& e) {
    int s = 0;
    if (c.best && e.trial == c.best->number) s += 4;
    if (e.state == "done") s += 2;
    if (e.split == "test") s += 1;
    return s;
  };
  for (const EvaluationRow& e : c.data.evaluations) {
    if (!chosen || score(e) > score(*chosen) ||
        (score(e) == score(*chosen) && e.recorded_at > chosen->recorded_at)) {
      chosen = &e;
    }
  }
  return chosen;
}

void RenderConfusion(const Context& c, std::string& out) {
  out +=
      "<section id=\"s-confusion\">\n<h2>Confusion matrix of the best "
      "trial</h2>\n";
  const EvaluationRow* e = ChooseEvaluation(c);
  if (!e) {
    std::string why;
    if (c.spec.model == "synthetic") {
      why =
          "No evaluation: the synthetic trainer has no data to evaluate "
          "on. With a real trainer the best trial is evaluated on the test "
          "split when the study ends.";
    } else if (c.data.study.state == "running") {
      why =
          "Not evaluated yet: the best trial is evaluated on the test "
          "split when the study ends.";
    } else {
      why =
          "No evaluation recorded for this study: the best trial is "
          "evaluated on the test split when a study ends, by workers that "
          "support it (databases from before schema version 2 have none).";
    }
    Note(out, why);
    out += "</section>\n";
    return;
  }
  std::string facts = "Trial " + std::to_string(e->trial);
  if (e->epoch > 0) facts += " after " + Plural(e->epoch, "epoch", "epochs");
  facts += ", " + e->split + " split";
  if (c.best && e->trial != c.best->number) {
    facts += " (the best trial now is trial " + std::to_string(c.best->number) +
             ", which has no evaluation)";
  }
  if (e->state != "done") {
    Note(out, facts + ": the evaluation failed" +
                  (e->error.empty() ? "." : ": " + e->error));
    out += "</section>\n";
    return;
  }
  facts += ": accuracy " + Number(e->accuracy) + " (segments)";
  if (e->track_accuracy) {
    facts += ", " + Number(e->track_accuracy) + " (tracks)";
  }
  if (e->loss) facts += ", loss " + Number(e->loss);
  if (e->samples > 0) {
    facts += ", " + Plural(e->samples, "segment", "segments");
    if (e->tracks > 0) facts += " of " + Plural(e->tracks, "track", "tracks");
  }
  if (!e->worker.empty()) facts += ", on " + e->worker;
  out += "<p class=\"caption\">" + Escape(facts) +
         ". Rows are the true class, columns the prediction; shade is the "
         "share of the row.</p>\n";
  size_t n = std::max(e->classes.size(), e->confusion.size());
  for (const auto& row : e->confusion) n = std::max(n, row.size());
  if (n == 0) {
    Note(out, "The evaluation recorded no confusion matrix.");
    out += "</section>\n";
    return;
  }
  std::vector<std::string> names;
  size_t longest = 0;
  for (size_t i = 0; i < n; ++i) {
    names.push_back(Shorten(
        i < e->classes.size() ? e->classes[i] : "class " + std::to_string(i),
        22));
    longest = std::max(longest, names.back().size());
  }
  auto count = [e](size_t i, size_t j) -> int64_t {
    if (i >= e->confusion.size() || j >= e->confusion[i].size()) return 0;
    return std::max<int64_t>(0, e->confusion[i][j]);
  };
  const double cell = std::clamp(520.0 / static_cast<double>(n), 10.0, 46.0);
  const double label = std::min(150.0, 12 + 6.2 * static_cast<double>(longest));
  const double left = label + 26, top = 10;
  const double grid = cell * static_cast<double>(n);
  const double bottom = label * 0.75 + 34;
  const double width = left + grid + 20, height = top + grid + bottom;
  OpenSvg(out, "confusion", "confusion", width, height,
          "confusion matrix of trial " + std::to_string(e->trial),
          " data-classes=\"" + std::to_string(n) + "\"");
  for (size_t i = 0; i < n; ++i) {
    int64_t total = 0;
    for (size_t j = 0; j < n; ++j) total += count(i, j);
    const double y = top + cell * static_cast<double>(i);
    Text(out, left - 6, y + cell / 2 + 4, names[i], "class-label", "end");
    for (size_t j = 0; j < n; ++j) {
      const int64_t k = count(i, j);
      const double share =
          total > 0 ? static_cast<double>(k) / static_cast<double>(total) : 0;
      // White to a strong blue by the share of the row.
      const int r = static_cast<int>(std::lround(255 - share * (255 - 8)));
      const int g = static_cast<int>(std::lround(255 - share * (255 - 81)));
      const int b = static_cast<int>(std::lround(255 - share * (255 - 156)));
      char fill[8];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", r, g, b);
      const double x = left + cell * static_cast<double>(j);
      out += "<rect class=\"cell" + std::string(i == j ? " diagonal" : "") +
             "\" x=\"" + Coord(x) + "\" y=\"" + Coord(y) + "\" width=\"" +
             Coord(cell) + "\" height=\"" + Coord(cell) + "\" fill=\"" + fill +
             "\" data-count=\"" + std::to_string(k) + "\"><title>true " +
             Escape(i < e->classes.size() ? e->classes[i] : names[i]) +
             ", predicted " +
             Escape(j < e->classes.size() ? e->classes[j] : names[j]) + ": " +
             std::to_string(k) + " (" + Number(share * 100, 3) +
             "% of the row)</title></rect>\n";
      const std::string digits = std::to_string(k);
      if (cell >= 20 && static_cast<double>(digits.size()) * 6.5 < cell - 2) {
        Text(out, x + cell / 2, y + cell / 2 + 3.5, digits, "cell-count",
             "middle", share > 0.5 ? " style=\"fill:#fff\"" : "");
      }
    }
  }
  // Predicted-class labels, turned, under the columns.
  for (size_t j = 0; j < n; ++j) {
    const double x = left + cell * (static_cast<double>(j) + 0.5);
    const double y = top + grid + 10;
    Text(out, x, y, names[j], "class-label", "end",
         " transform=\"rotate(-45 " + Coord(x) + " " + Coord(y) + ")\"");
  }
  Text(out, left + grid / 2, height - 6, "predicted class", "axis-title",
       "middle");
  const double ty = top + grid / 2;
  Text(out, 12, ty, "true class", "axis-title", "middle",
       " transform=\"rotate(-90 12 " + Coord(ty) + ")\"");
  out += "</svg>\n</section>\n";
}

}  // namespace report_html
}  // namespace hpo
