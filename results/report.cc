// The report generator: a study snapshot to one HTML page with inline SVG.
//
// The page is written top to bottom into one string: this file writes the
// page and its CSS. Each section is a function of a Context
// (report_context.h: the snapshot plus what is derived from it once),
// one file per section (report_sections.h); plots share a small toolkit
// (svg_plot.h), text its formatting (report_format.h).
#include "results/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/int_math.h"
#include "common/leaderboard.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "results/report_format.h"
#include "results/report_sections.h"
#include "search/hyperband_math.h"

namespace hpo {

using nlohmann::json;

ReportData ReadReportData(Store& store, const StudyRow& study) {
  ReportData data;
  data.study = study;
  data.trials = store.Trials(study.id);
  data.metrics = store.Metrics(study.id, -1);
  data.attempts = store.Attempts(study.id);
  data.events = store.Events(study.id);
  data.evaluations = store.Evaluations(study.id);
  data.exploits = store.Exploits(study.id);
  return data;
}

namespace {

constexpr char kCss[] = R"css(
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #222;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  "Liberation Sans", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; }
header.summary { background: #fff; border: 1px solid #dde1e6; border-radius: 6px;
  padding: 14px 18px; margin: 16px 0; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px;
  padding: 14px 18px; margin: 16px 0; overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px;
  margin: 10px 0 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
p.note { color: #555; background: #f7f7f9; border-left: 3px solid #c9ced6;
  padding: 6px 10px; margin: 6px 0; }
p.caption { color: #555; font-size: 13px; margin: 4px 0 8px; }
p.warning { color: #7a4b00; background: #fff7e6; border-left: 3px solid #f0a020;
  padding: 6px 10px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eceef1; text-align: left;
  vertical-align: top; }
th { background: #f4f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.params { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 12px; }
tr.best td { background: #fff3e6; }
span.state { padding: 0 6px; border-radius: 8px; font-size: 12px; color: #fff; }
span.state.complete { background: #2ca02c; } span.state.pruned { background: #8c8c8c; }
span.state.failed { background: #d62728; } span.state.running { background: #1f77b4; }
span.state.paused { background: #17becf; } span.state.queued { background: #bcbd22; }
span.state.lost { background: #8c564b; }
div.grid { display: flex; flex-wrap: wrap; gap: 10px; }
div.grid figure { margin: 0; }
figcaption { font-size: 12px; color: #555; max-width: 300px; }
svg.plot { display: block; max-width: 100%; height: auto; background: #fff; }
svg.plot text { font-size: 11px; fill: #333; }
svg.plot .axis-title { font-size: 12px; fill: #222; }
svg.plot .plot-title { font-size: 12px; font-weight: 600; fill: #222; }
svg.plot .grid { stroke: #e8e8e8; stroke-width: 1; }
svg.plot .axis-line, svg.plot .tick { stroke: #555; stroke-width: 1; }
.curve { fill: none; stroke: #1f77b4; stroke-width: 1.3; stroke-opacity: .8;
  stroke-linejoin: round; stroke-linecap: round; }
.curve.pruned { stroke: #7f7f7f; stroke-opacity: .28; }
.curve.failed { stroke: #d62728; stroke-opacity: .7; stroke-dasharray: 4 3; }
.curve.running, .curve.paused, .curve.queued, .curve.lost { stroke: #17becf; }
.curve.best { stroke: #ff7f0e; stroke-width: 3.2; stroke-opacity: 1;
  stroke-dasharray: none; }
.best-marker { fill: #ff7f0e; stroke: #fff; stroke-width: 1.5; }
.point { stroke: #fff; stroke-width: .6; fill: #1f77b4; fill-opacity: .85; }
.point.pruned { fill: #8c8c8c; fill-opacity: .55; }
.point.failed { fill: #d62728; }
.point.running, .point.paused, .point.queued, .point.lost { fill: #17becf; }
.point.best { fill: #ff7f0e; fill-opacity: 1; stroke: #222; stroke-width: 1; }
.pc-line { fill: none; stroke-width: 1.2; stroke-opacity: .75; }
.pc-line.best { stroke-width: 3.2; stroke-opacity: 1; }
.pc-axis { stroke: #444; stroke-width: 1.2; }
.rung-entered { fill: #c6dbef; }
.rung-promoted { fill: #3182bd; }
.rung-planned { stroke: #222; stroke-width: 1.5; }
.bracket-title { font-weight: 600; }
.cell { stroke: #fff; stroke-width: 1; }
.cell-count { font-size: 10px; }
.lane { fill: #f3f4f6; }
.attempt { stroke: #fff; stroke-width: .6; fill: #7f7f7f; }
.attempt.done { fill: #2ca02c; } .attempt.pruned { fill: #9e9e9e; }
.attempt.failed { fill: #d62728; } .attempt.lost { fill: #8c564b; }
.attempt.interrupted { fill: #bcbd22; } .attempt.running { fill: #1f77b4; }
.attempt.open { fill-opacity: .55; stroke: #1f77b4; stroke-width: 1;
  stroke-dasharray: 3 2; }
.swatch-line { stroke-width: 3; }
.bar { fill: #1f77b4; } .bar-label, .bar-value { font-size: 12px; }
.pbt-step { fill: none; stroke-width: 1.5; stroke-opacity: .85;
  stroke-linejoin: round; }
.lineage-segment { fill: none; stroke-width: 1.6; stroke-opacity: .9;
  stroke-linejoin: round; stroke-linecap: round; }
.exploit-marker { fill: #fff; stroke-width: 1.4; }
)css";

// The live page's script (hpo-report --serve): every `interval` seconds,
// fetch this page again, and swap in the progress line and each part of the
// page (by id) whose HTML changed; if the parts themselves changed (a
// section appeared), the whole of <main>. No reload: the page keeps its
// scroll position and whatever state it holds (window.hpoLive counts the
// updates). A failed fetch says so on the progress line and tries again.
std::string LiveScript(double interval) {
  char ms[32];
  std::snprintf(ms, sizeof ms, "%d",
                static_cast<int>(std::max(100.0, interval * 1000)));
  return std::string(R"js((function () {
  window.hpoLive = {updates: 0, failures: 0, loaded: Date.now()};
  var busy = false;
  function ids(root) {
    return Array.prototype.map.call(root.children, function (e) {
      return e.id;
    }).join(' ');
  }
  function update() {
    if (busy) return;
    busy = true;
    fetch(window.location.pathname, {cache: 'no-store'})
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var progress = doc.getElementById('progress');
        var here = document.getElementById('progress');
        if (progress && here) here.textContent = progress.textContent;
        var main = document.querySelector('main');
        var fresh = doc.querySelector('main');
        if (!main || !fresh) return;
        if (ids(main) !== ids(fresh)) {
          main.innerHTML = fresh.innerHTML;
        } else {
          Array.prototype.forEach.call(fresh.children, function (part) {
            var old = part.id && document.getElementById(part.id);
            if (old && old.innerHTML !== part.innerHTML) {
              old.innerHTML = part.innerHTML;
            }
          });
        }
        window.hpoLive.updates += 1;
      })
      .catch(function (e) {
        window.hpoLive.failures += 1;
        var here = document.getElementById('progress');
        if (here) here.textContent = 'hpo-report --serve does not answer (' +
            e.message + '); trying again';
      })
      .then(function () { busy = false; });
  }
  setInterval(update, )js") +
         ms + R"js();
})();
)js";
}

}  // namespace

std::string RenderReport(const ReportData& data, const ReportOptions& options) {
  using namespace report_html;  // NOLINT(build/namespaces)
  const Context c = MakeContext(data, options);
  std::string out;
  out.reserve(64 * 1024);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\">\n<meta "
      "name=\"generator\" content=\"hpo-report\">\n<title>hpo report: " +
      Escape(data.study.name) + "</title>\n<style>" + kCss +
      "</style>\n</head>\n<body>\n<main>\n";
  if (options.live_interval_s > 0) {
    out += "<p class=\"caption live\" id=\"progress\">" +
           Escape(ProgressLine(data)) + "</p>\n";
  }
  RenderHeader(c, out);
  RenderLeaderboard(c, out);
  RenderCurves(c, out);
  RenderPbt(c, out);
  RenderRungs(c, out);
  RenderParams(c, out);
  RenderParallel(c, out);
  RenderImportance(c, out);
  RenderConfusion(c, out);
  RenderTimeline(c, out);
  out += "</main>\n";
  if (options.live_interval_s > 0) {
    out += "<script>\n" + LiveScript(options.live_interval_s) + "</script>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

std::string ProgressLine(const ReportData& data) {
  int64_t epochs = 0;
  for (const TrialRow& t : data.trials) epochs += t.epochs;
  const bool by_best = KeepsBest(data.study);
  const TrialRow* best =
      BestTrial(data.trials, data.study.mode != "min", by_best);
  std::string line = "study " + data.study.name + ": " + data.study.state +
                     ", " + std::to_string(data.trials.size()) + " trials (" +
                     report_html::TrialCounts(data.trials) + "), " +
                     std::to_string(epochs) + " epochs";
  if (best != nullptr) {
    line += ", best " + data.study.metric + " " +
            report_html::Number(RankedValue(*best, by_best)) + " (trial " +
            std::to_string(best->number) + ")";
  }
  return line;
}

}  // namespace hpo