// The report's parameter importance: a bar per searched parameter (its
// fANOVA importance, results/study_importance.h) and the largest pairwise
// interaction.
#include <algorithm>
#include <string>

#include "common/error.h"
#include "results/report_format.h"
#include "results/report_sections.h"
#include "results/study_importance.h"
#include "results/svg_plot.h"

namespace hpo {
namespace report_html {

void RenderImportance(const Context& c, std::string& out) {
  out +=
      "<section id=\"s-importance\">\n<h2>Which hyperparameters "
      "mattered</h2>\n";
  StudyImportance imp;
  try {
    imp =
        ComputeStudyImportance(c.data.study, c.data.trials, c.data.metrics, 0);
  } catch (const Error& e) {
    Note(out, std::string("No importance yet: ") + e.what() + ".");
    out += "</section>\n";
    return;
  }
  const std::vector<ParamImportance>& params = imp.result.params;
  if (params.empty()) {
    Note(out, "The study searches no parameter with more than one value.");
    out += "</section>\n";
    return;
  }
  out += "<p class=\"caption\">Each parameter's share of what explains " +
         Escape(c.data.study.metric) + " after epoch " +
         std::to_string(imp.epoch) + " (" + std::to_string(imp.result.trials) +
         " trials; the largest epoch that enough trials reached): fANOVA "
         "over a random forest of 64 trees, as Optuna's default evaluator; "
         "the importances add up to 1. <code>hpo-query importance</code> "
         "gives the numbers.</p>\n";
  const double width = 640, row = 24, left = 190, right = 70, top = 10;
  const double bars_end = top + row * params.size();
  const double height = bars_end + 44;
  OpenSvg(out, "importance", "bars", width, height,
          "parameter importance for " + c.data.study.metric);
  Scale x{0, 1, left, width - right, false};
  XAxis(out, x, bars_end + 4, top, NiceTicks(0, 1, 5), "importance");
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamImportance& p = params[i];
    const double y = top + row * i;
    Text(out, left - 8, y + row * 0.65, Shorten(p.name, 28), "bar-label",
         "end");
    out += "<rect class=\"bar\" x=\"" + Coord(left) + "\" y=\"" + Coord(y + 3) +
           "\" width=\"" + Coord(std::max(0.5, x(p.importance) - left)) +
           "\" height=\"" + Coord(row - 6) + "\" data-param=\"" +
           Escape(p.name) + "\" data-importance=\"" + Number(p.importance) +
           "\"><title>" + Escape(p.name) + ": importance " +
           Number(p.importance) + ", alone " + Number(p.fraction) +
           " of the variance (sd " + Number(p.fraction_std) +
           " over the trees)</title></rect>\n";
    Text(out, x(p.importance) + 6, y + row * 0.65, Number(p.importance),
         "bar-value");
  }
  out += "</svg>\n";
  if (!imp.result.pairs.empty()) {
    const PairImportance& top_pair = imp.result.pairs.front();
    out +=
        "<p class=\"caption\" id=\"top-interaction\">Largest interaction: "
        "<strong>" +
        Escape(top_pair.first) + "</strong> with <strong>" +
        Escape(top_pair.second) + "</strong>, " + Number(top_pair.fraction) +
        " of the variance beyond what each explains alone.</p>\n";
  }
  out += "</section>\n";
}

}  // namespace report_html
}  // namespace hpo
