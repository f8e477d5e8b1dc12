// hpo-report: one self-contained HTML page about a study (README.md,
// "Reports").
//
// The page holds a header (study, algorithm, objective, state, trial counts,
// time), the leaderboard, the learning curves of every trial, the rungs of
// successive halving / Hyperband / ASHA (how many trials entered each rung
// and how many were promoted from it), the objective against each
// hyperparameter, a parallel-coordinates view, the best trial's confusion
// matrix and a timeline of the attempts on each worker; for a PBT study
// with exploits, also each mutated parameter of every member by epoch and
// the members' curves coloured by the founding member whose weights they
// carry. Plots are inline SVG
// styled by inline CSS: the file needs no JavaScript, no network and no
// fonts, so it can be mailed, archived or opened from a shared disk.
//
// Every plot is an <svg class="plot ..."> with a stable id ("curves",
// "rungs", "param-NAME", "parallel", "confusion", "timeline", and for PBT
// "pbt-param-NAME" and "lineage"); a section
// that has nothing to draw holds a <p class="note"> saying why instead.
// All text from the database (names, parameters, errors, class names) is
// escaped, so the page is well formed whatever a study holds.
//
// Reading and rendering are separate: ReadReportData() takes a snapshot of
// a study from the store, RenderReport() turns any snapshot into HTML, so
// tests can render hand-made data without a database.
#ifndef HPO_RESULTS_REPORT_H_
#define HPO_RESULTS_REPORT_H_

#include <string>
#include <vector>

#include "common/store.h"

namespace hpo {

// What the report shows about one study, as the store returns it.
struct ReportData {
  StudyRow study;
  std::vector<TrialRow> trials;            // By number.
  std::vector<MetricRow> metrics;          // By trial, then epoch.
  std::vector<AttemptRow> attempts;        // In the order they started.
  std::vector<std::string> events;         // Scheduler events (JSON), in order.
  std::vector<EvaluationRow> evaluations;  // Test-split results, if any.
  std::vector<ExploitRow> exploits;        // PBT exploits by trial, epoch.
};

// Reads everything the report needs about `study` from `store` (which may
// be open read-only while a coordinator writes to the file). Throws
// hpo::Error as the store's reads do.
ReportData ReadReportData(Store& store, const StudyRow& study);

struct ReportOptions {
  // Wall time (Unix seconds) the report describes. Attempts of a running
  // study that have not ended are drawn up to it, and a running study's
  // elapsed time counts up to it. 0: the latest time recorded in the data,
  // which makes the output a pure function of the data.
  double now = 0;
  // How many trials the leaderboard lists (at least 1).
  int leaderboard_rows = 25;
  // hpo-report --serve: > 0 adds a progress line and a small script that
  // fetches the page again every `live_interval_s` seconds from where it
  // came and swaps in the parts that changed, without a reload. 0: a static
  // page with no script.
  double live_interval_s = 0;
};

// One line on how far a study has got: its state, trials by state, epochs,
// the best value and trial (for the live page and the server's log).
std::string ProgressLine(const ReportData& data);

// Renders `data` as one HTML document. Never throws for odd data: missing
// or non-finite values, trials without metrics, attempts without an end, a
// study file that no longer parses and a study with no trials all give a
// page (with notes where a plot has nothing to show).
std::string RenderReport(const ReportData& data,
                         const ReportOptions& options = {});

}  // namespace hpo

#endif  // HPO_RESULTS_REPORT_H_
