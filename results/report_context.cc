#include "results/report_context.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/int_math.h"
#include "common/trial_state.h"
#include "results/report_format.h"
#include "search/hyperband_math.h"

namespace hpo {
namespace report_html {

// ---------------------------------------------------------------------------
// The study file, as far as the report needs it

std::optional<AlgorithmType> AlgorithmFromName(const std::string& name) {
  for (AlgorithmType type :
       {AlgorithmType::kRandom, AlgorithmType::kGrid,
        AlgorithmType::kSuccessiveHalving, AlgorithmType::kHyperband,
        AlgorithmType::kAsha, AlgorithmType::kMedian, AlgorithmType::kPbt}) {
    if (ToString(type) == name) return type;
  }
  return std::nullopt;
}

bool HasRungs(AlgorithmType type) {
  return type == AlgorithmType::kSuccessiveHalving ||
         type == AlgorithmType::kHyperband || type == AlgorithmType::kAsha;
}

int IntAt(const json& object, const char* key, int fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  const json& value = object[key];
  if (!value.is_number_integer()) return fallback;
  const int64_t v = value.get<int64_t>();
  return v < 0 || v > 1000000 ? fallback : static_cast<int>(v);
}

std::optional<double> NumberAt(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return std::nullopt;
  const json& value = object[key];
  if (!value.is_number()) return std::nullopt;
  return value.get<double>();
}

// What a study file that does not validate (written by another version of
// hpo, say) still tells: read leniently, with the parser's defaults.
void ReadSpecLeniently(const json& raw, SpecInfo& info) {
  if (raw.contains("description") && raw["description"].is_string()) {
    info.description = raw["description"].get<std::string>();
  }
  const json algorithm = raw.value("algorithm", json::object());
  AlgorithmSpec& a = info.numbers;
  a.min_epochs = std::max(1, IntAt(algorithm, "min_epochs", 1));
  a.max_epochs = std::max(1, IntAt(algorithm, "max_epochs", 1));
  a.eta = IntAt(algorithm, "eta", 3);
  a.iterations = std::max(1, IntAt(algorithm, "iterations", 1));
  a.brackets = std::max(1, IntAt(algorithm, "brackets", 1));
  a.population = IntAt(algorithm, "population", 0);
  a.interval = IntAt(algorithm, "interval", 0);
  info.shape_known = a.eta >= 2 && a.max_epochs >= a.min_epochs;
  const int s_max =
      info.shape_known ? HyperbandSMax(a.min_epochs, a.max_epochs, a.eta) : 0;
  a.n = IntAt(algorithm, "n", 0);
  if (a.n <= 0) a.n = IntPow(a.eta, s_max);
  const json budget = raw.value("budget", json::object());
  info.max_trials = IntAt(budget, "max_trials", 0);
  const json space = raw.value("search_space", json::object());
  if (!space.is_object()) return;
  for (const auto& [name, param] : space.items()) {
    ParamInfo p;
    p.name = name;
    if (!param.is_object()) {
      p.kind = AxisKind::kCategory;
      info.params.push_back(std::move(p));
      continue;
    }
    p.type = param.value("type", json("")).is_string()
                 ? param.value("type", std::string())
                 : "";
    p.low = NumberAt(param, "low");
    p.high = NumberAt(param, "high");
    if (p.type == "choice") {
      p.kind = AxisKind::kCategory;
      const json values = param.value("values", json::array());
      if (values.is_array()) p.categories.assign(values.begin(), values.end());
    } else if (p.type == "loguniform" ||
               (p.type == "int" && param.value("log", json(false)) == true)) {
      p.kind = AxisKind::kLog;
    }
    info.params.push_back(std::move(p));
  }
}

// Adds what the trials hold beyond the study file: parameters it does not
// name, and choice values it does not list.
void AddTrialParams(const std::vector<TrialRow>& trials, SpecInfo& info) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < info.params.size(); ++i) {
    index[info.params[i].name] = i;
  }
  // Parameters only the trials name: numeric if every value is a number.
  std::vector<std::string> extra;
  std::map<std::string, bool> numeric;
  for (const TrialRow& trial : trials) {
    if (!trial.params.is_object()) continue;
    for (const auto& [name, value] : trial.params.items()) {
      if (index.count(name)) continue;
      if (!numeric.count(name)) {
        extra.push_back(name);
        numeric[name] = true;
      }
      numeric[name] = numeric[name] && value.is_number();
    }
  }
  std::sort(extra.begin(), extra.end());
  for (const std::string& name : extra) {
    ParamInfo p;
    p.name = name;
    p.type = "not in the study file";
    p.kind = numeric[name] ? AxisKind::kLinear : AxisKind::kCategory;
    index[name] = info.params.size();
    info.params.push_back(std::move(p));
  }
  for (const TrialRow& trial : trials) {
    if (!trial.params.is_object()) continue;
    for (const auto& [name, value] : trial.params.items()) {
      ParamInfo& p = info.params[index.at(name)];
      if (p.kind == AxisKind::kLog && value.is_number() &&
          !(value.get<double>() > 0)) {
        p.kind = AxisKind::kLinear;  // A log axis cannot show it.
      }
      if (p.kind != AxisKind::kCategory && !value.is_number()) {
        p.kind = AxisKind::kCategory;  // Mixed values: show them as labels.
      }
      if (p.kind == AxisKind::kCategory &&
          std::find(p.categories.begin(), p.categories.end(), value) ==
              p.categories.end()) {
        p.categories.push_back(value);
      }
    }
  }
}

SpecInfo ReadSpec(const ReportData& data) {
  SpecInfo info;
  std::optional<AlgorithmType> algorithm =
      AlgorithmFromName(data.study.algorithm);
  info.algorithm_known = algorithm.has_value();
  info.algorithm = algorithm.value_or(AlgorithmType::kRandom);
  const json raw = json::parse(data.study.spec, nullptr,
                               /*allow_exceptions=*/false);
  if (!raw.is_object()) {
    info.problem = "the study file stored in the database is not a JSON object";
  } else {
    try {
      StudySpec spec = ParseStudy(raw, data.study.name);
      info.valid = true;
      info.description = spec.description;
      info.numbers = spec.algorithm;
      info.shape_known = true;
      info.max_trials = spec.budget.max_trials;
      for (const ParamSpec& param : spec.search_space.params) {
        ParamInfo p;
        p.name = param.name;
        p.type = ToString(param.type);
        if (param.type == ParamType::kChoice) {
          p.kind = AxisKind::kCategory;
          p.categories = param.values;
        } else {
          p.kind = param.is_log() ? AxisKind::kLog : AxisKind::kLinear;
          p.low = param.low;
          p.high = param.high;
        }
        info.params.push_back(std::move(p));
      }
    } catch (const std::exception& e) {
      const std::string what = e.what();
      info.problem = what.substr(0, what.find('\n'));
      info.params.clear();
      ReadSpecLeniently(raw, info);
    }
    const json trainer = raw.value("trainer", json::object());
    if (trainer.is_object() && trainer.contains("model") &&
        trainer["model"].is_string()) {
      info.model = trainer["model"].get<std::string>();
    }
  }
  AddTrialParams(data.trials, info);
  return info;
}

// ---------------------------------------------------------------------------
// Derived data

double Objective(const MetricRow& row, const std::string& metric) {
  if (row.objective) {
    return std::isfinite(*row.objective) ? *row.objective : kNaN;
  }
  if (row.metrics.is_object() && row.metrics.contains(metric) &&
      row.metrics[metric].is_number()) {
    const double v = row.metrics[metric].get<double>();
    return std::isfinite(v) ? v : kNaN;
  }
  return kNaN;
}

Context MakeContext(const ReportData& data, const ReportOptions& options) {
  Context c(data, options);
  c.spec = ReadSpec(data);
  c.maximize = data.study.mode != "min";
  c.ranked = RankTrials(data.trials, c.maximize, KeepsBest(data.study));
  if (!c.ranked.empty()) c.best = c.ranked.front().trial;
  for (const TrialRow& trial : data.trials) c.trials[trial.number] = &trial;
  for (const MetricRow& row : data.metrics) {
    c.curves[row.trial].emplace_back(row.epoch,
                                     Objective(row, data.study.metric));
  }
  for (auto& [trial, curve] : c.curves) {
    std::stable_sort(
        curve.begin(), curve.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  auto later = [&c](double t) {
    if (std::isfinite(t)) c.latest = std::max(c.latest, t);
  };
  later(data.study.created_at);
  later(data.study.updated_at);
  for (const TrialRow& trial : data.trials) later(trial.updated_at);
  for (const MetricRow& row : data.metrics) later(row.recorded_at);
  for (const AttemptRow& a : data.attempts) {
    later(a.started_at);
    if (a.ended_at) later(*a.ended_at);
  }
  c.open_end = c.latest;
  if (data.study.state == "running" && options.now > c.latest) {
    c.open_end = options.now;
  }
  return c;
}

// The range of the trials' values (the shared objective axis).
std::pair<double, double> ValueRange(const Context& c) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const Ranked& r : c.ranked) {
    if (!std::isfinite(*r.trial->value)) continue;
    lo = std::min(lo, *r.trial->value);
    hi = std::max(hi, *r.trial->value);
  }
  return {lo, hi};
}

const char* StateName(TrialState state) { return ToString(state); }

}  // namespace report_html
}  // namespace hpo
