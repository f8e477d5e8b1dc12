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
#include "search/hyperband_math.h"

namespace hpo {
namespace report_html {

namespace {
struct RungStat {
  int epochs = 0;        // Epochs a trial has at the rung's end (0: unknown).
  int64_t planned = -1;  // Trials the schedule puts in it (-1: open-ended).
  int64_t entered = 0;   // Trials that trained in it.
  int64_t promoted = 0;  // Of those: continued into the next rung.
  int64_t complete = 0;  // Ended here: complete, pruned, failed, or still
  int64_t pruned = 0;    // in progress (running, paused, queued, lost).
  int64_t failed = 0;
  int64_t in_progress = 0;
};
struct BracketStat {
  int index = 0;
  int s = -1;  // Halvings (Hyperband's s); -1 when unknown.
  std::vector<RungStat> rungs;
};
}  // namespace

// The schedule of successive halving, Hyperband or ASHA as the study file
// sets it (with budget.max_trials cutting brackets as the coordinator
// does), then what the trials did in each rung.
std::vector<BracketStat> RungStats(const Context& c) {
  std::vector<BracketStat> brackets;
  const AlgorithmSpec& a = c.spec.numbers;
  if (c.spec.shape_known) {
    const int s_max = HyperbandSMax(a.min_epochs, a.max_epochs, a.eta);
    // Synchronous brackets: planned sizes, cut by the trial budget as the
    // coordinator cuts them (every rung listed, an emptied one with 0).
    auto add_planned = [&](const BracketPlan& full, int64_t& left) {
      BracketStat b;
      b.index = static_cast<int>(brackets.size());
      b.s = full.s;
      const int64_t started = std::min(full.rungs.front().trials, left);
      left -= started;
      const BracketPlan cut = CutBracket(full, started, a.eta);
      for (size_t i = 0; i < full.rungs.size(); ++i) {
        RungStat r;
        r.epochs = full.rungs[i].epochs;
        r.planned = i < cut.rungs.size() ? cut.rungs[i].trials : 0;
        b.rungs.push_back(r);
      }
      brackets.push_back(std::move(b));
    };
    int64_t left = c.spec.max_trials > 0 ? c.spec.max_trials : INT64_MAX;
    if (c.spec.algorithm == AlgorithmType::kSuccessiveHalving) {
      add_planned(
          SuccessiveHalvingBracket(a.n, a.min_epochs, a.max_epochs, a.eta),
          left);
    } else if (c.spec.algorithm == AlgorithmType::kHyperband) {
      for (int iteration = 0; iteration < std::max(1, a.iterations);
           ++iteration) {
        for (const BracketPlan& bracket :
             HyperbandBrackets(a.min_epochs, a.max_epochs, a.eta)) {
          add_planned(bracket, left);
        }
      }
    } else if (c.spec.algorithm == AlgorithmType::kAsha) {
      for (int s = 0; s < std::max(1, a.brackets); ++s) {
        BracketStat b;
        b.index = s;
        b.s = s;
        for (int k = 0; k <= s_max - s; ++k) {
          RungStat r;
          r.epochs = RungEpochs(a.max_epochs, a.eta, s_max - s, k);
          b.rungs.push_back(r);
        }
        brackets.push_back(std::move(b));
      }
    }
  }
  for (const TrialRow& t : c.data.trials) {
    if (t.bracket < 0 || t.rung < 0 || t.bracket > 10000 || t.rung > 1000) {
      continue;
    }
    while (static_cast<int>(brackets.size()) <= t.bracket) {
      BracketStat b;
      b.index = static_cast<int>(brackets.size());
      brackets.push_back(std::move(b));
    }
    BracketStat& b = brackets[static_cast<size_t>(t.bracket)];
    if (static_cast<int>(b.rungs.size()) <= t.rung) {
      b.rungs.resize(static_cast<size_t>(t.rung) + 1);
    }
    for (int i = 0; i <= t.rung; ++i) {
      RungStat& r = b.rungs[static_cast<size_t>(i)];
      ++r.entered;
      if (i < t.rung) ++r.promoted;
    }
    RungStat& here = b.rungs[static_cast<size_t>(t.rung)];
    switch (t.state) {
      case TrialState::kComplete:
        ++here.complete;
        break;
      case TrialState::kPruned:
        ++here.pruned;
        break;
      case TrialState::kFailed:
        ++here.failed;
        break;
      default:
        ++here.in_progress;
    }
  }
  // Brackets the budget leaves out, and that no trial reached, go.
  std::vector<BracketStat> kept;
  for (BracketStat& b : brackets) {
    bool any = false;
    for (const RungStat& r : b.rungs)
      any = any || r.entered > 0 || r.planned > 0;
    if (any || c.spec.algorithm == AlgorithmType::kAsha) {
      kept.push_back(std::move(b));
    }
  }
  return kept;
}

void RenderRungs(const Context& c, std::string& out) {
  out += "<section id=\"s-rungs\">\n<h2>Rungs</h2>\n";
  const AlgorithmType type = c.spec.algorithm;
  if (!c.spec.algorithm_known || !HasRungs(type)) {
    const std::string name = c.data.study.algorithm;
    if (type == AlgorithmType::kMedian && c.spec.algorithm_known) {
      int64_t pruned = 0, epochs = 0;
      for (const TrialRow& t : c.data.trials) {
        if (t.state != TrialState::kPruned) continue;
        ++pruned;
        epochs += t.epochs;
      }
      Note(out,
           "Median stopping has no rungs: each trial trains until the median "
           "rule stops it (pruned) or it reaches max_epochs. " +
               Plural(pruned, "trial was", "trials were") + " stopped" +
               (pruned > 0
                    ? ", after " +
                          Number(static_cast<double>(epochs) / pruned, 3) +
                          " epochs on average"
                    : "") +
               ".");
    } else {
      Note(out, "The " + name +
                    " search has no rungs: every trial trains to max_epochs "
                    "(successive halving, Hyperband and ASHA promote trials "
                    "through rungs).");
    }
    out += "</section>\n";
    return;
  }
  std::vector<BracketStat> brackets = RungStats(c);
  if (brackets.empty()) {
    Note(out, "No trial has started yet.");
    out += "</section>\n";
    return;
  }
  const bool synchronous = type != AlgorithmType::kAsha;
  out +=
      "<p class=\"caption\">Trials that entered each rung (light) and were "
      "promoted from it into the next (dark)";
  if (synchronous) {
    out += "; the black mark is the number the schedule plans";
  } else {
    out +=
        "; ASHA promotes asynchronously, so trials paused in a rung may "
        "still be promoted";
  }
  out += ".</p>\n";
  int64_t most = 1;
  size_t rows = 0;
  for (const BracketStat& b : brackets) {
    rows += 1 + b.rungs.size();
    for (const RungStat& r : b.rungs) {
      most = std::max({most, r.entered, r.planned});
    }
  }
  const double width = 900, row = 20, top = 8;
  const double label_width = 170, bar_left = label_width + 10;
  const double bar_width = width - bar_left - 250;
  const double height = top + static_cast<double>(rows) * row + 8;
  OpenSvg(out, "rungs", "rungs", width, height,
          "trials entering and promoted from each rung",
          " data-brackets=\"" + std::to_string(brackets.size()) + "\"");
  double y = top;
  for (const BracketStat& b : brackets) {
    std::string title = "bracket " + std::to_string(b.index);
    if (b.s >= 0 && type != AlgorithmType::kSuccessiveHalving) {
      title += type == AlgorithmType::kAsha
                   ? " (early-stopping rate " + std::to_string(b.s) + ")"
                   : " (s = " + std::to_string(b.s) + ")";
    }
    Text(out, 4, y + 14, title, "bracket-title");
    y += row;
    out += "<g class=\"bracket\" data-bracket=\"" + std::to_string(b.index) +
           "\">\n";
    for (size_t i = 0; i < b.rungs.size(); ++i) {
      const RungStat& r = b.rungs[i];
      Text(
          out, 18, y + 14,
          "rung " + std::to_string(i) + " \xC2\xB7 " +
              (r.epochs > 0 ? Plural(r.epochs, "epoch", "epochs") : "? epochs"),
          "rung-label");
      auto w = [&](int64_t n) {
        return bar_width * static_cast<double>(n) / static_cast<double>(most);
      };
      out += "<rect class=\"rung-entered\" x=\"" + Coord(bar_left) + "\" y=\"" +
             Coord(y + 3) + "\" width=\"" + Coord(w(r.entered)) +
             "\" height=\"14\" data-count=\"" + std::to_string(r.entered) +
             "\"><title>" + std::to_string(r.entered) +
             " entered</title></rect>\n";
      out += "<rect class=\"rung-promoted\" x=\"" + Coord(bar_left) +
             "\" y=\"" + Coord(y + 3) + "\" width=\"" + Coord(w(r.promoted)) +
             "\" height=\"14\" data-count=\"" + std::to_string(r.promoted) +
             "\"><title>" + std::to_string(r.promoted) +
             " promoted</title></rect>\n";
      if (r.planned >= 0) {
        const double px = bar_left + w(r.planned);
        Line(out, px, y + 1, px, y + 19, "rung-planned");
      }
      std::string text = std::to_string(r.entered) + " entered";
      if (i + 1 < b.rungs.size()) {
        text += ", " + std::to_string(r.promoted) + " promoted";
      }
      if (r.planned >= 0) text += " (plan " + std::to_string(r.planned) + ")";
      Text(out, bar_left + bar_width + 10, y + 14, text, "rung-count");
      y += row;
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  out +=
      "<table id=\"rungs-table\">\n<thead><tr><th>bracket</th><th>rung</th>"
      "<th>epochs</th><th>planned</th><th>entered</th><th>promoted</th>"
      "<th>complete</th><th>pruned</th><th>failed</th><th>in progress</th>"
      "</tr></thead>\n<tbody>\n";
  for (const BracketStat& b : brackets) {
    for (size_t i = 0; i < b.rungs.size(); ++i) {
      const RungStat& r = b.rungs[i];
      auto cell = [](int64_t n) {
        return "<td class=\"num\">" + std::to_string(n) + "</td>";
      };
      out += "<tr><td class=\"num\">" + std::to_string(b.index) +
             "</td><td class=\"num\">" + std::to_string(i) + "</td>" +
             (r.epochs > 0 ? cell(r.epochs) : "<td class=\"num\">?</td>") +
             (r.planned >= 0 ? cell(r.planned) : "<td class=\"num\"></td>") +
             cell(r.entered) + cell(r.promoted) + cell(r.complete) +
             cell(r.pruned) + cell(r.failed) + cell(r.in_progress) + "</tr>\n";
    }
  }
  out += "</tbody>\n</table>\n</section>\n";
}

// A parameter's axis: its kind, domain and ticks, from the study file's
// range (or categories) widened by the values `seen`.

}  // namespace report_html
}  // namespace hpo
