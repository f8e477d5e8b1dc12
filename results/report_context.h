// hpo-report's Context: the study snapshot plus what is derived from it once
// (the study file read leniently, the ranking, the learning curves), which
// every section of the page reads.
#ifndef HPO_RESULTS_REPORT_CONTEXT_H_
#define HPO_RESULTS_REPORT_CONTEXT_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/leaderboard.h"
#include "common/study_spec.h"
#include "results/report.h"

namespace hpo {
// The pieces of hpo-report's page (results/report.cc puts them together).
namespace report_html {

using nlohmann::json;

enum class AxisKind { kLinear, kLog, kCategory };

struct ParamInfo {
  std::string name;
  std::string type;  // As the study file says: "loguniform", "choice"...
  AxisKind kind = AxisKind::kLinear;
  std::optional<double> low, high;  // The search space's range.
  std::vector<json> categories;     // kCategory: the study's values, then
                                    // any other value a trial holds.
};

struct SpecInfo {
  bool valid = false;   // The stored study file validates.
  std::string problem;  // Why not, when not.
  std::string description;
  std::string model;  // trainer.model, when it is a string.
  AlgorithmType algorithm = AlgorithmType::kRandom;
  bool algorithm_known = false;  // StudyRow.algorithm names an algorithm.
  bool shape_known = false;      // min/max epochs and eta are usable.
  AlgorithmSpec numbers;
  int64_t max_trials = 0;
  std::vector<ParamInfo> params;
};

using Ranked = RankedTrial;

// One trial's objective per epoch; NaN where it is missing or not finite.
using Curve = std::vector<std::pair<int, double>>;

struct Context {
  const ReportData& data;
  const ReportOptions& options;
  SpecInfo spec;
  bool maximize = true;
  std::vector<Ranked> ranked;
  const TrialRow* best = nullptr;
  std::map<int64_t, const TrialRow*> trials;  // By number.
  std::map<int64_t, Curve> curves;            // Trials with metrics.
  double latest = 0;    // The latest time recorded in the data.
  double open_end = 0;  // Where attempts without an end are drawn to.

  Context(const ReportData& d, const ReportOptions& o) : data(d), options(o) {}
};

std::optional<AlgorithmType> AlgorithmFromName(const std::string& name);

bool HasRungs(AlgorithmType type);

int IntAt(const json& object, const char* key, int fallback);

std::optional<double> NumberAt(const json& object, const char* key);

// What a study file that does not validate (written by another version of
// hpo, say) still tells: read leniently, with the parser's defaults.
void ReadSpecLeniently(const json& raw, SpecInfo& info);

// Adds what the trials hold beyond the study file: parameters it does not
// name, and choice values it does not list.
void AddTrialParams(const std::vector<TrialRow>& trials, SpecInfo& info);

SpecInfo ReadSpec(const ReportData& data);

double Objective(const MetricRow& row, const std::string& metric);

Context MakeContext(const ReportData& data, const ReportOptions& options);

// The range of the trials' values (the shared objective axis).
std::pair<double, double> ValueRange(const Context& c);

const char* StateName(TrialState state);

}  // namespace report_html
}  // namespace hpo

#endif  // HPO_RESULTS_REPORT_CONTEXT_H_
