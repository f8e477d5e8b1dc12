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

std::string StateBadge(TrialState state) {
  const char* name = StateName(state);
  return std::string("<span class=\"state ") + name + "\">" + name + "</span>";
}

std::string ParamsText(const json& params) {
  if (!params.is_object() || params.empty()) return "";
  std::string text;
  for (const auto& [name, value] : params.items()) {
    if (!text.empty()) text += ", ";
    text += name + "=" + ValueLabel(value);
  }
  return text;
}

std::string AlgorithmSummary(const Context& c) {
  const AlgorithmSpec& a = c.spec.numbers;
  const std::string name = c.data.study.algorithm;
  if (!c.spec.shape_known || !c.spec.algorithm_known) return name;
  const std::string eta = "eta " + std::to_string(a.eta) + ", ";
  const std::string range = std::to_string(a.min_epochs) + "\xE2\x80\x93" +
                            std::to_string(a.max_epochs) + " epochs";
  switch (c.spec.algorithm) {
    case AlgorithmType::kSuccessiveHalving:
      return name + " (n " + std::to_string(a.n) + ", " + eta + range + ")";
    case AlgorithmType::kHyperband:
      return name + " (" + eta + range +
             (a.iterations > 1
                  ? ", " + std::to_string(a.iterations) + " iterations"
                  : "") +
             ")";
    case AlgorithmType::kAsha:
      return name + " (" + eta + range +
             (a.brackets > 1 ? ", " + std::to_string(a.brackets) + " brackets"
                             : "") +
             ")";
    case AlgorithmType::kMedian:
      return name + " (up to " + std::to_string(a.max_epochs) +
             " epochs, warm-up " + std::to_string(a.warmup_epochs) + ")";
    case AlgorithmType::kPbt:
      return name + " (population " + std::to_string(a.population) + ", " +
             std::to_string(a.max_epochs) + " epochs, exploit every " +
             std::to_string(a.interval) + ")";
    default:
      return name + " (" + std::to_string(a.max_epochs) + " epochs per trial)";
  }
}

std::string TrialCounts(const std::vector<TrialRow>& trials) {
  std::map<TrialState, int64_t> counts;
  for (const TrialRow& trial : trials) ++counts[trial.state];
  std::string parts;
  for (TrialState state :
       {TrialState::kComplete, TrialState::kPruned, TrialState::kFailed,
        TrialState::kRunning, TrialState::kPaused, TrialState::kQueued,
        TrialState::kLost}) {
    const bool always = state == TrialState::kComplete ||
                        state == TrialState::kPruned ||
                        state == TrialState::kFailed;
    if (!always && counts[state] == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(counts[state]) + " " +
             StateName(state);
  }
  return parts;
}

void RenderHeader(const Context& c, std::string& out) {
  const StudyRow& s = c.data.study;
  int64_t epochs = 0;
  for (const TrialRow& trial : c.data.trials) epochs += trial.epochs;
  std::string trials = std::to_string(c.data.trials.size());
  const std::string parts = TrialCounts(c.data.trials);
  double elapsed = s.elapsed_s;
  if (s.state == "running") {
    // The store updates elapsed_s when a session starts and ends.
    const double now = c.options.now > 0 ? c.options.now : c.latest;
    if (now > s.updated_at && s.updated_at > 0) elapsed += now - s.updated_at;
  }
  std::map<std::string, int> workers;
  for (const AttemptRow& a : c.data.attempts) ++workers[a.worker];
  int64_t restarts = 0, failures = 0;
  for (const std::string& event : c.data.events) {
    const json e = json::parse(event, nullptr, false);
    if (!e.is_object()) continue;
    const std::string type = e.value("type", json("")).is_string()
                                 ? e.value("type", std::string())
                                 : "";
    restarts += type == "restart";
    failures += type == "failed";
  }

  out += "<header class=\"summary\" id=\"summary\">\n<h1>Study " +
         Escape(s.name) + "</h1>\n";
  if (!c.spec.description.empty()) {
    out += "<p class=\"caption\">" + Escape(c.spec.description) + "</p>\n";
  }
  out += "<dl class=\"facts\">\n";
  auto fact = [&out](const std::string& name, const std::string& html) {
    out += "<dt>" + Escape(name) + "</dt><dd>" + html + "</dd>\n";
  };
  fact("algorithm", Escape(AlgorithmSummary(c)));
  fact("sampler", Escape(SamplerSummary(s.spec)));
  fact("objective",
       Escape(s.metric) + " (" + (c.maximize ? "max" : "min") + "imize)");
  fact("state", "<span id=\"study-state\">" + Escape(s.state) + "</span>");
  fact("trials", trials + (parts.empty() ? "" : ": " + Escape(parts)));
  if (c.best) {
    std::string best = "trial " + std::to_string(c.best->number) + ": " +
                       Number(c.best->value) + " at its last epoch";
    if (c.best->best_value && c.best->best_value != c.best->value) {
      best += " (" + Number(c.best->best_value) + " at its best" +
              (KeepsBest(c.data.study) ? ", the weights it keeps" : "") + ")";
    }
    fact("best", Escape(best + ", " + StateName(c.best->state) + " after " +
                        Plural(c.best->epochs, "epoch", "epochs")));
  } else {
    fact("best", "no trial has a value yet");
  }
  fact("epochs trained", std::to_string(epochs));
  fact("elapsed", HoursMinutesSeconds(elapsed) +
                      (s.state == "running" ? " (still running)" : ""));
  fact("created", Escape(UtcTime(s.created_at)));
  fact("data as of", Escape(UtcTime(c.latest)));
  fact("workers",
       workers.empty()
           ? "none yet"
           : Plural(static_cast<int64_t>(workers.size()), "worker", "workers") +
                 ", " +
                 Plural(static_cast<int64_t>(c.data.attempts.size()), "attempt",
                        "attempts"));
  fact("scheduler events", std::to_string(c.data.events.size()) + " (" +
                               Plural(restarts, "restart", "restarts") +
                               " after lost workers, " +
                               Plural(failures, "failure", "failures") + ")");
  out += "</dl>\n";
  if (!c.spec.valid) {
    out +=
        "<p class=\"warning\">The study file stored with this study does "
        "not validate with this version of hpo (" +
        Escape(c.spec.problem) +
        "); the report shows what it could read.</p>\n";
  }
  out +=
      "<nav><a href=\"#s-leaderboard\">leaderboard</a><a "
      "href=\"#s-curves\">learning curves</a>";
  if (!c.data.exploits.empty()) {
    out += "<a href=\"#s-pbt\">population-based training</a>";
  }
  out +=
      "<a href=\"#s-rungs\">rungs</a><a "
      "href=\"#s-params\">parameters</a><a href=\"#s-parallel\">parallel "
      "coordinates</a><a href=\"#s-importance\">importance</a><a "
      "href=\"#s-confusion\">confusion matrix</a><a "
      "href=\"#s-timeline\">timeline</a></nav>\n</header>\n";
}

void RenderLeaderboard(const Context& c, std::string& out) {
  out += "<section id=\"s-leaderboard\">\n<h2>Leaderboard</h2>\n";
  const int64_t unranked =
      static_cast<int64_t>(c.data.trials.size() - c.ranked.size());
  if (c.ranked.empty()) {
    Note(out, c.data.trials.empty()
                  ? "No trials yet."
                  : "No trial has reported " + c.data.study.metric +
                        " yet, so none is ranked.");
  } else {
    const size_t rows =
        std::min(c.ranked.size(),
                 static_cast<size_t>(std::max(1, c.options.leaderboard_rows)));
    out += "<p class=\"caption\">Completed trials first, then by " +
           Escape(c.data.study.metric) + " at the last epoch (" +
           (c.maximize ? "highest" : "lowest") +
           " first), as the leaderboard view ranks them";
    if (rows < c.ranked.size()) {
      out += "; the top " + std::to_string(rows) + " of " +
             std::to_string(c.ranked.size());
    }
    if (unranked > 0) {
      out += "; " + Plural(unranked, "trial", "trials") +
             " without a value not ranked";
    }
    out += ".</p>\n";
    out +=
        "<table id=\"leaderboard\">\n<thead><tr><th>rank</th><th>trial</th>"
        "<th>state</th><th>value</th><th>best value</th><th>epochs</th>"
        "<th>params</th></tr></thead>\n<tbody>\n";
    for (size_t i = 0; i < rows; ++i) {
      const TrialRow& t = *c.ranked[i].trial;
      out += std::string("<tr") + (&t == c.best ? " class=\"best\"" : "") +
             "><td class=\"num\">" + std::to_string(c.ranked[i].rank) +
             "</td><td class=\"num\">" + std::to_string(t.number) +
             "</td><td>" + StateBadge(t.state) + "</td><td class=\"num\">" +
             Escape(Number(t.value)) + "</td><td class=\"num\">" +
             Escape(Number(t.best_value)) + "</td><td class=\"num\">" +
             std::to_string(t.epochs) + "</td><td class=\"params\">" +
             Escape(ParamsText(t.params)) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
  }
  // Failed trials, with their errors: they are data too.
  std::vector<const TrialRow*> failed;
  for (const TrialRow& t : c.data.trials) {
    if (t.state == TrialState::kFailed) failed.push_back(&t);
  }
  if (!failed.empty()) {
    out +=
        "<h3>Failed trials</h3>\n<table id=\"failed\">\n<thead><tr>"
        "<th>trial</th><th>epochs</th><th>attempts</th><th>worker</th>"
        "<th>error</th></tr></thead>\n<tbody>\n";
    const size_t rows = std::min<size_t>(failed.size(), 50);
    for (size_t i = 0; i < rows; ++i) {
      const TrialRow& t = *failed[i];
      out += "<tr><td class=\"num\">" + std::to_string(t.number) +
             "</td><td class=\"num\">" + std::to_string(t.epochs) +
             "</td><td class=\"num\">" + std::to_string(t.attempts) +
             "</td><td>" + Escape(t.worker) + "</td><td>" +
             Escape(Shorten(t.error, 300)) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
    if (rows < failed.size()) {
      Note(out, "and " + std::to_string(failed.size() - rows) +
                    " more (hpo-query trials --state failed lists them all)");
    }
  }
  out += "</section>\n";
}

// The SVG path data of `curve`: one sub-path per run of finite
// values; a lone point becomes a zero-length segment (drawn as a dot by the
// round line cap).

}  // namespace report_html
}  // namespace hpo
