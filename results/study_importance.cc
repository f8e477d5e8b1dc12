#include "results/study_importance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "common/error.h"
#include "common/study_spec.h"

namespace hpo {

using nlohmann::json;

StudyImportance ComputeStudyImportance(const StudyRow& study,
                                       const std::vector<TrialRow>& trials,
                                       const std::vector<MetricRow>& metrics,
                                       int epoch) {
  const json raw = json::parse(study.spec, nullptr, /*allow_exceptions=*/false);
  if (raw.is_discarded()) {
    throw BadInput("study " + study.name +
                   ": its stored study file is not JSON; importance needs "
                   "its search space");
  }
  SearchSpaceSpec space = ParseSearchSpaceOf(raw, study.name);
  if (space.params.empty()) {
    throw BadInput("study " + study.name +
                   " searches no parameters: there is no importance to "
                   "compute");
  }
  // Each trial's objective per epoch.
  std::map<int64_t, std::vector<double>> curves;
  for (const MetricRow& m : metrics) {
    std::vector<double>& c = curves[m.trial];
    if (static_cast<int>(c.size()) < m.epoch) c.resize(m.epoch, std::nan(""));
    if (m.epoch >= 1 && m.objective && std::isfinite(*m.objective)) {
      c[m.epoch - 1] = *m.objective;
    }
  }
  StudyImportance out;
  out.chosen = epoch > 0;
  if (epoch <= 0) {
    std::vector<std::vector<double>> all;
    int with_objective = 0;
    for (const auto& [trial, c] : curves) {
      all.push_back(c);
      if (std::any_of(c.begin(), c.end(),
                      [](double v) { return std::isfinite(v); })) {
        ++with_objective;
      }
    }
    epoch = ImportanceEpoch(
        all, std::max(1, std::min(kImportanceMinTrials, with_objective)));
    if (epoch == 0) {
      throw BadInput("study " + study.name + ": no trial has a " +
                     study.metric + " value yet");
    }
  }
  out.epoch = epoch;
  std::vector<json> params;
  std::vector<double> values;
  for (const TrialRow& t : trials) {
    auto it = curves.find(t.number);
    if (it == curves.end() || static_cast<int>(it->second.size()) < epoch ||
        !std::isfinite(it->second[epoch - 1])) {
      continue;
    }
    params.push_back(t.params);
    values.push_back(it->second[epoch - 1]);
  }
  if (values.size() < 2) {
    throw BadInput("study " + study.name + ": " +
                   std::to_string(values.size()) + " trial(s) have a " +
                   study.metric + " value after epoch " +
                   std::to_string(epoch) +
                   "; importance needs at least 2 (pick an earlier epoch)");
  }
  out.result = ParamImportances(space, params, values);
  return out;
}

}  // namespace hpo
