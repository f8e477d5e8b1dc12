// hpo-report's sections, one file each (report_header.cc: the header and
// the leaderboard; report_curves.cc; report_pbt.cc: population-based
// training; report_rungs.cc; report_params.cc: the objective against each
// parameter and parallel coordinates; report_confusion.cc;
// report_timeline.cc). Each appends its <section> to `out`.
#ifndef HPO_RESULTS_REPORT_SECTIONS_H_
#define HPO_RESULTS_REPORT_SECTIONS_H_

#include <string>

#include "results/report_context.h"

namespace hpo {
// The pieces of hpo-report's page (results/report.cc puts them together).
namespace report_html {

using nlohmann::json;

std::string StateBadge(TrialState state);

std::string ParamsText(const json& params);

std::string AlgorithmSummary(const Context& c);

// "1 complete, 7 pruned, 0 failed, 1 running": trials by state, the final
// states always, the others when there are any (the header's, the live
// page's progress line).
std::string TrialCounts(const std::vector<TrialRow>& trials);

void RenderHeader(const Context& c, std::string& out);

void RenderLeaderboard(const Context& c, std::string& out);

void RenderCurves(const Context& c, std::string& out);

// Only for a study with exploits (nothing otherwise).
void RenderPbt(const Context& c, std::string& out);

void RenderRungs(const Context& c, std::string& out);

void RenderParams(const Context& c, std::string& out);

void RenderParallel(const Context& c, std::string& out);

// Parameter importance (report_importance.cc): bars and the top interaction.
void RenderImportance(const Context& c, std::string& out);

void RenderConfusion(const Context& c, std::string& out);

void RenderTimeline(const Context& c, std::string& out);

}  // namespace report_html
}  // namespace hpo

#endif  // HPO_RESULTS_REPORT_SECTIONS_H_
