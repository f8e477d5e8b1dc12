#include "common/study_spec.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "common/command_protocol.h"
#include "common/error.h"
#include "common/int_math.h"
#include "common/json_checker.h"
#include "common/json_util.h"
#include "common/train_config.h"

namespace hpo {
namespace {

using nlohmann::json;

constexpr int kMaxEpochsLimit = 100000;
constexpr double kMaxGridPoints = 1e5;
// Larger search spaces are not written by hand, and checking them would take
// quadratic time (duplicate values, conditions) or, for a long chain of
// conditions, overflow the stack in the cycle search, which recurses once
// per link.
constexpr size_t kMaxParams = 1000;
constexpr size_t kMaxValues = 1000;     // Of a choice, a grid or a `when` list.
constexpr int64_t kMaxListLength = 64;  // Elements of a list parameter.
// JSON values in all the points of a grid, which the grid sampler holds in
// memory: without this limit, a choice of long lists times a long int range
// took gigabytes.
constexpr double kMaxGridValues = 1e6;

// The problem of a list longer than kMaxValues.
std::string TooManyValues(size_t count, const std::string& instead) {
  return std::to_string(count) + " values, more than " +
         std::to_string(kMaxValues) + "; " + instead;
}

const std::vector<std::string> kStudyKeys = {
    "name",         "description", "seed",   "objective", "data",   "trainer",
    "search_space", "algorithm",   "budget", "execution", "enqueue"};

struct AlgorithmInfo {
  AlgorithmType type;
  const char* name;
  std::vector<std::string> keys;
};

const std::vector<AlgorithmInfo>& Algorithms() {
  static const std::vector<AlgorithmInfo> algorithms = {
      {AlgorithmType::kRandom, "random", {"type", "max_epochs", "sampler"}},
      {AlgorithmType::kGrid, "grid", {"type", "max_epochs"}},
      {AlgorithmType::kSuccessiveHalving,
       "successive_halving",
       {"type", "min_epochs", "max_epochs", "eta", "n", "sampler"}},
      {AlgorithmType::kHyperband,
       "hyperband",
       {"type", "min_epochs", "max_epochs", "eta", "iterations", "sampler"}},
      {AlgorithmType::kAsha,
       "asha",
       {"type", "min_epochs", "max_epochs", "eta", "brackets", "sampler"}},
      {AlgorithmType::kMedian,
       "median",
       {"type", "max_epochs", "warmup_epochs", "min_trials", "sampler"}},
      {AlgorithmType::kPbt,
       "pbt",
       {"type", "population", "max_epochs", "interval", "quantile",
        "resample_probability", "perturb_factors", "mutable", "sampler"}},
  };
  return algorithms;
}

const std::vector<std::string>& ParamTypeNames() {
  static const std::vector<std::string> names = {"uniform", "loguniform", "int",
                                                 "choice"};
  return names;
}

std::vector<std::string> ParamKeys(ParamType type) {
  switch (type) {
    case ParamType::kUniform:
    case ParamType::kLogUniform:
      return {"type", "low", "high", "grid", "when"};
    case ParamType::kInt:
      return {"type", "low", "high", "log", "step", "grid", "when"};
    case ParamType::kChoice:
      return {"type", "values", "when"};
  }
  return {};
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

bool Contains(const std::vector<json>& values, const json& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Reads the numeric bounds of uniform, loguniform and int parameters.
void ParseRange(JsonChecker& check, const json& body, const std::string& path,
                ParamSpec& param, bool* ok) {
  const std::string type = ToString(param.type);
  std::optional<double> low;
  std::optional<double> high;
  if (param.type == ParamType::kInt) {
    std::optional<int64_t> l = check.Integer(body, path, "low", true);
    std::optional<int64_t> h = check.Integer(body, path, "high", true);
    if (l) low = static_cast<double>(*l);
    if (h) high = static_cast<double>(*h);
    std::optional<bool> log = check.Bool(body, path, "log", false);
    param.log = log.value_or(false);
    std::optional<int64_t> step =
        check.IntegerAtLeast(body, path, "step", 1, false);
    if (body.contains("step") && !step) *ok = false;
    param.step = step.value_or(1);
    if (param.log && param.step != 1) {
      check.Add(JoinPath(path, "step"),
                "cannot be combined with \"log\": true; drop one of them");
      *ok = false;
    }
  } else {
    low = check.Number(body, path, "low", true);
    high = check.Number(body, path, "high", true);
  }
  if (!low || !high) {
    *ok = false;
    return;
  }
  param.low = *low;
  param.high = *high;
  if (!std::isfinite(param.high - param.low)) {
    check.Add(path, "range too wide: high - low must be a finite number");
    *ok = false;
    return;
  }
  if (param.is_log() && param.low <= 0) {
    std::string bound = param.type == ParamType::kInt ? ">= 1" : "> 0";
    check.Add(JoinPath(path, "low"),
              "must be " + bound + " for " +
                  (param.type == ParamType::kInt ? "a log int" : type) +
                  " (got " + FormatNumber(param.low) +
                  "); a log range cannot include 0");
    *ok = false;
  }
  if (param.low > param.high) {
    check.Add(path, "inverted range: low (" + FormatNumber(param.low) +
                        ") > high (" + FormatNumber(param.high) +
                        "); swap them");
    *ok = false;
  } else if (param.low == param.high && param.type != ParamType::kInt) {
    check.Add(path, "empty range: low == high (" + FormatNumber(param.low) +
                        "); put a fixed value in \"trainer\" instead");
    *ok = false;
  }
}

// Reads an explicit "grid" list and checks that every point is in range.
void ParseGrid(JsonChecker& check, const json& body, const std::string& path,
               ParamSpec& param, bool range_ok) {
  const json* grid = check.Array(body, path, "grid", false);
  if (grid == nullptr) return;
  std::string grid_path = JoinPath(path, "grid");
  if (grid->empty()) {
    check.Add(grid_path, "empty list; give at least one value or drop it");
    return;
  }
  if (grid->size() > kMaxValues) {
    check.Add(grid_path,
              TooManyValues(grid->size(), "drop \"grid\" to search the range"));
    return;
  }
  for (size_t i = 0; i < grid->size(); ++i) {
    const json& v = (*grid)[i];
    std::string item = grid_path + "[" + std::to_string(i) + "]";
    bool integral = param.type == ParamType::kInt;
    if (integral ? !ExactInteger(v) : !v.is_number()) {
      check.Add(item, std::string("must be ") +
                          (integral ? "an integer" : "a number") + " (got " +
                          TypeName(v) + " " + Brief(v) + ")");
      continue;
    }
    double d = v.get<double>();
    if (range_ok && (d < param.low || d > param.high)) {
      check.Add(item, "outside the range [" + FormatNumber(param.low) + ", " +
                          FormatNumber(param.high) + "] (got " +
                          FormatNumber(d) + ")");
      continue;
    }
    if (integral && range_ok &&
        static_cast<int64_t>(d - param.low) % param.step != 0) {
      check.Add(item, "not on the step: values are " + FormatNumber(param.low) +
                          " + k * " + std::to_string(param.step) + " (got " +
                          FormatNumber(d) + ")");
      continue;
    }
    if (Contains(param.grid, v)) {
      check.Add(item, "repeats an earlier grid value " + Brief(v));
      continue;
    }
    param.grid.push_back(integral ? json(static_cast<int64_t>(d)) : v);
  }
}

// Parses one entry of search_space (all but its `when`, which needs the
// other parameters).
std::optional<ParamSpec> ParseParam(JsonChecker& check, const std::string& name,
                                    const json& body, const std::string& path) {
  if (!body.is_object()) {
    check.Add(path,
              "must be an object like {\"type\": \"uniform\", \"low\": "
              "0, \"high\": 1} (got " +
                  TypeName(body) + " " + Brief(body) +
                  "); fixed values belong in \"trainer\"");
    return std::nullopt;
  }
  std::optional<std::string> type_name = check.String(body, path, "type", true);
  if (!type_name) return std::nullopt;
  const auto& names = ParamTypeNames();
  auto it = std::find(names.begin(), names.end(), *type_name);
  if (it == names.end()) {
    std::vector<std::string> known = names;
    known.push_back("list");
    std::string hint = ClosestMatch(*type_name, known);
    check.Add(
        JoinPath(path, "type"),
        "unknown parameter type " + Quoted(*type_name) +
            (hint.empty() ? " (use uniform, loguniform, int, choice or list)"
                          : " (did you mean " + Quoted(hint) + "?)"));
    return std::nullopt;
  }
  ParamSpec param;
  param.name = name;
  param.type = static_cast<ParamType>(it - names.begin());
  check.CheckKeys(body, path, ParamKeys(param.type),
                  "a " + *type_name + " parameter");
  bool ok = true;
  if (param.type == ParamType::kChoice) {
    const json* values = check.Array(body, path, "values", true);
    if (values == nullptr) return std::nullopt;
    if (values->empty()) {
      check.Add(JoinPath(path, "values"),
                "empty list; a choice needs at least one value");
      return std::nullopt;
    }
    if (values->size() > kMaxValues) {
      check.Add(JoinPath(path, "values"),
                TooManyValues(values->size(),
                              "use an \"int\" or \"uniform\" range instead"));
      return std::nullopt;
    }
    for (size_t i = 0; i < values->size(); ++i) {
      const json& v = (*values)[i];
      auto previous = std::find(param.values.begin(), param.values.end(), v);
      if (previous != param.values.end()) {
        check.Add(JoinPath(path, "values") + "[" + std::to_string(i) + "]",
                  "repeats values[" +
                      std::to_string(previous - param.values.begin()) + "] (" +
                      Brief(v) + ")");
        ok = false;
      }
      param.values.push_back(v);
    }
  } else {
    ParseRange(check, body, path, param, &ok);
    ParseGrid(check, body, path, param, ok);
  }
  if (!ok) return std::nullopt;
  return param;
}

// A list parameter: `length` elements "NAME[0]".."NAME[length-1]", each a
// parameter of its own drawn from `item` (every sampler treats them as
// dimensions); the list's `when` applies to all of them (ParseConditions).
std::vector<ParamSpec> ParseList(JsonChecker& check, const std::string& name,
                                 const json& body, const std::string& path) {
  check.CheckKeys(body, path, {"type", "length", "item", "when"},
                  "a list parameter");
  std::optional<int64_t> length =
      check.IntegerAtLeast(body, path, "length", 1, true, kMaxListLength);
  const json* item = check.Object(body, path, "item", true);
  if (!length || item == nullptr) return {};
  const std::string item_path = JoinPath(path, "item");
  if (item->contains("type") && (*item)["type"] == "list") {
    check.Add(JoinPath(item_path, "type"),
              "a list's item cannot be a list; search each inner list as a "
              "list parameter of its own");
    return {};
  }
  if (item->contains("when")) {
    check.Add(JoinPath(item_path, "when"),
              "put \"when\" on the list itself: its elements are active "
              "together");
    return {};
  }
  std::optional<ParamSpec> element = ParseParam(check, name, *item, item_path);
  if (!element) return {};
  std::vector<ParamSpec> elements;
  for (int64_t i = 0; i < *length; ++i) {
    ParamSpec e = *element;
    e.name = name + "[" + std::to_string(i) + "]";
    e.list = name;
    e.index = static_cast<int>(i);
    elements.push_back(std::move(e));
  }
  return elements;
}

// True if `value` is a value that `parent` can take.
bool PossibleValue(const ParamSpec& parent, const json& value) {
  switch (parent.type) {
    case ParamType::kChoice:
      return Contains(parent.values, value);
    case ParamType::kInt: {
      if (!ExactInteger(value)) return false;
      double d = value.get<double>();
      if (d < parent.low || d > parent.high) return false;
      return static_cast<int64_t>(d - parent.low) % parent.step == 0;
    }
    default:
      return value.is_number() && value.get<double>() >= parent.low &&
             value.get<double>() <= parent.high;
  }
}

// Parses `when` of every parameter once all parameters are known, then
// rejects cycles.
void ParseConditions(JsonChecker& check, const json& space,
                     std::vector<ParamSpec>& params) {
  std::vector<std::string> names;  // Every key, valid or not.
  for (const auto& item : space.items()) names.push_back(item.key());
  auto find = [&params](const std::string& name) -> const ParamSpec* {
    for (const ParamSpec& p : params) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  for (ParamSpec& param : params) {
    // A list's `when` is read once, for its first element (below, the
    // others copy it).
    if (param.index > 0) continue;
    std::string path = JoinPath("search_space", param.setting());
    const json* when =
        check.Object(space[param.setting()], path, "when", false);
    if (when == nullptr) continue;
    path = JoinPath(path, "when");
    if (when->empty()) {
      check.Add(path,
                "empty object; name a parameter and its value, e.g. "
                "{\"scheduler\": \"cyclic\"}, or drop it");
      continue;
    }
    for (const auto& item : when->items()) {
      std::string item_path = JoinPath(path, item.key());
      const auto element = SplitElementName(item.key());
      if (item.key() == param.setting() ||
          (element && element->first == param.setting())) {
        check.Add(item_path, "a parameter cannot depend on itself");
        continue;
      }
      const ParamSpec* parent = find(item.key());
      if (parent == nullptr && space.contains(item.key()) &&
          space[item.key()].is_object() &&
          space[item.key()].value("type", "") == "list") {
        check.Add(item_path,
                  "a condition names one value; name one of the "
                  "list's elements, e.g. \"" +
                      item.key() + "[0]\"");
        continue;
      }
      if (parent == nullptr && space.contains(item.key())) {
        continue;  // The parent is invalid, and reported already.
      }
      if (parent == nullptr) {
        std::string hint = ClosestMatch(item.key(), names);
        check.Add(item_path,
                  "names no parameter of search_space" +
                      (hint.empty() ? std::string()
                                    : " (did you mean " + Quoted(hint) + "?)"));
        continue;
      }
      Condition condition;
      condition.param = item.key();
      const json& v = item.value();
      // A list means "any of these", unless the parent's values are lists and
      // this is one of them.
      if (v.is_array() && !PossibleValue(*parent, v)) {
        if (v.empty()) {
          check.Add(item_path, "empty list of values; give at least one");
          continue;
        }
        if (v.size() > kMaxValues) {
          check.Add(item_path, TooManyValues(v.size(), "give fewer"));
          continue;
        }
        for (const json& e : v) condition.any_of.push_back(e);
      } else {
        condition.any_of.push_back(v);
      }
      bool ok = true;
      for (const json& e : condition.any_of) {
        if (!PossibleValue(*parent, e)) {
          check.Add(item_path, "impossible value " + Brief(e) + ": " +
                                   Quoted(parent->name) + " never takes it");
          ok = false;
        }
      }
      if (ok) param.when.push_back(std::move(condition));
    }
  }
  for (ParamSpec& param : params) {
    if (param.index <= 0) continue;
    const ParamSpec* first = find(param.list + "[0]");
    if (first != nullptr) param.when = first->when;
  }
  // Cycles: depth-first search over "depends on" edges.
  std::map<std::string, int> color;  // 0 new, 1 on stack, 2 done.
  std::vector<std::string> stack;
  std::function<bool(const ParamSpec&)> visit = [&](const ParamSpec& p) {
    color[p.name] = 1;
    stack.push_back(p.name);
    for (const Condition& c : p.when) {
      const ParamSpec* parent = find(c.param);
      if (color[c.param] == 1) {
        std::string cycle;
        auto start = std::find(stack.begin(), stack.end(), c.param);
        for (auto s = start; s != stack.end(); ++s) cycle += *s + " -> ";
        check.Add(JoinPath("search_space", p.name) + ".when",
                  "conditions form a cycle (" + cycle + c.param +
                      "); break it so that one parameter is always active");
        return false;
      }
      if (color[c.param] == 0 && !visit(*parent)) return false;
    }
    stack.pop_back();
    color[p.name] = 2;
    return true;
  };
  for (const ParamSpec& p : params) {
    if (color[p.name] == 0 && !visit(p)) break;
  }
}

void ParseObjective(JsonChecker& check, const json& study, StudySpec& spec) {
  const json* objective = check.Object(study, "", "objective", true);
  if (objective == nullptr) return;
  check.CheckKeys(*objective, "objective", {"metric", "mode"}, "the objective");
  std::optional<std::string> metric =
      check.String(*objective, "objective", "metric", true);
  // A program of the user's own (trainer.command) reports metrics of its
  // own naming.
  const json* trainer = study.is_object() && study.contains("trainer")
                            ? &study["trainer"]
                            : nullptr;
  const bool own_metrics = trainer != nullptr && trainer->is_object() &&
                           trainer->contains("command");
  if (metric && own_metrics) {
    bool valid = !metric->empty() && metric->size() <= 64 &&
                 !std::isdigit(static_cast<unsigned char>((*metric)[0]));
    for (char c : *metric) {
      valid =
          valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    }
    if (valid) {
      spec.objective.metric = *metric;
    } else {
      check.Add("objective.metric",
                "must be a metric name the program reports: letters, digits "
                "and '_', not starting with a digit (got " +
                    Quoted(*metric) + ")");
    }
  } else if (metric) {
    const auto& known = KnownMetrics();
    if (std::find(known.begin(), known.end(), *metric) == known.end()) {
      std::string hint = ClosestMatch(*metric, known);
      std::string list;
      for (const auto& m : known) list += (list.empty() ? "" : ", ") + m;
      check.Add("objective.metric",
                "unknown metric " + Quoted(*metric) +
                    (hint.empty() ? " (workers report " + list + ")"
                                  : " (did you mean " + Quoted(hint) + "?)"));
    } else {
      spec.objective.metric = *metric;
    }
  }
  std::optional<std::string> mode =
      check.String(*objective, "objective", "mode", true);
  if (mode) {
    if (*mode == "min") {
      spec.objective.mode = ObjectiveMode::kMin;
    } else if (*mode == "max") {
      spec.objective.mode = ObjectiveMode::kMax;
    } else {
      check.Add("objective.mode",
                "must be \"min\" or \"max\" (got " + Quoted(*mode) + ")");
    }
  }
}

struct SamplerInfo {
  SamplerType type;
  const char* name;
  std::vector<std::string> keys;
};

const std::vector<SamplerInfo>& Samplers() {
  static const std::vector<SamplerInfo> samplers = {
      {SamplerType::kRandom, "random", {"type"}},
      {SamplerType::kTpe,
       "tpe",
       {"type", "n_startup_trials", "n_ei_candidates", "prior_weight",
        "consider_magic_clip", "consider_endpoints", "multivariate", "gamma",
        "gamma_max", "constant_liar", "observations"}},
      {SamplerType::kBohb,
       "bohb",
       {"type", "top_n_percent", "min_points_in_model", "min_bandwidth",
        "random_fraction", "num_samples", "bandwidth_factor", "constant_liar"}},
  };
  return samplers;
}

// A number in [low, high] (or (low, high] with `open_low`), else recorded.
std::optional<double> NumberIn(JsonChecker& check, const json& object,
                               const std::string& path, const std::string& key,
                               double low, double high, bool open_low) {
  std::optional<double> v = check.Number(object, path, key, false);
  if (!v) return std::nullopt;
  if ((open_low ? *v <= low : *v < low) || *v > high) {
    check.Add(JoinPath(path, key),
              std::string("must be ") + (open_low ? "> " : ">= ") +
                  FormatNumber(low) + " and <= " + FormatNumber(high) +
                  " (got " + FormatNumber(*v) + ")");
    return std::nullopt;
  }
  return v;
}

// `algorithm.sampler`: how new configurations are proposed.
void ParseSampler(JsonChecker& check, const json& algorithm, StudySpec& spec) {
  const json* body = check.Object(algorithm, "algorithm", "sampler", false);
  if (body == nullptr) return;
  const std::string path = "algorithm.sampler";
  std::optional<std::string> type = check.String(*body, path, "type", true);
  if (!type) return;
  const SamplerInfo* info = nullptr;
  std::vector<std::string> names;
  for (const SamplerInfo& s : Samplers()) {
    names.push_back(s.name);
    if (*type == s.name) info = &s;
  }
  if (info == nullptr) {
    std::string hint = ClosestMatch(*type, names);
    check.Add(path + ".type",
              "unknown sampler " + Quoted(*type) +
                  (hint.empty() ? " (use random, tpe or bohb)"
                                : " (did you mean " + Quoted(hint) + "?)"));
    return;
  }
  check.CheckKeys(*body, path, info->keys,
                  std::string("the ") + info->name + " sampler");
  SamplerSpec& s = spec.algorithm.sampler;
  s.type = info->type;
  const AlgorithmType algorithm_type = spec.algorithm.type;
  const bool multi_fidelity =
      algorithm_type == AlgorithmType::kSuccessiveHalving ||
      algorithm_type == AlgorithmType::kHyperband ||
      algorithm_type == AlgorithmType::kAsha;
  if (s.type == SamplerType::kBohb && !multi_fidelity) {
    check.Add(path + ".type",
              "bohb models each budget of a multi-fidelity schedule; use it "
              "with hyperband, successive_halving or asha, or use \"tpe\" "
              "with " +
                  ToString(algorithm_type));
  }
  s.constant_liar =
      check.Bool(*body, path, "constant_liar", false).value_or(true);
  const int d = static_cast<int>(spec.search_space.params.size());
  if (s.type == SamplerType::kTpe) {
    s.n_startup_trials = static_cast<int>(
        check.IntegerAtLeast(*body, path, "n_startup_trials", 0, false, 1000000)
            .value_or(s.n_startup_trials));
    s.n_ei_candidates = static_cast<int>(
        check.IntegerAtLeast(*body, path, "n_ei_candidates", 1, false, 100000)
            .value_or(s.n_ei_candidates));
    s.prior_weight = NumberIn(check, *body, path, "prior_weight", 0, 1e6, true)
                         .value_or(s.prior_weight);
    s.consider_magic_clip =
        check.Bool(*body, path, "consider_magic_clip", false).value_or(true);
    s.consider_endpoints =
        check.Bool(*body, path, "consider_endpoints", false).value_or(false);
    s.multivariate =
        check.Bool(*body, path, "multivariate", false).value_or(false);
    s.gamma = NumberIn(check, *body, path, "gamma", 0, 1, true).value_or(0.1);
    s.gamma_max = static_cast<int>(
        check.IntegerAtLeast(*body, path, "gamma_max", 1, false, 1000000)
            .value_or(s.gamma_max));
    std::optional<std::string> observations =
        check.String(*body, path, "observations", false);
    if (observations == "largest_budget") {
      s.observations = TpeObservations::kLargestBudget;
    } else if (observations && *observations != "furthest") {
      check.Add(path + ".observations",
                "unknown rule " + Quoted(*observations) +
                    " (use \"furthest\": trials ranked by epochs reached, "
                    "then value, or \"largest_budget\": values at the "
                    "largest epoch count enough trials reached)");
    }
  }
  if (s.type == SamplerType::kBohb) {
    s.top_n_percent =
        NumberIn(check, *body, path, "top_n_percent", 0, 100, true)
            .value_or(s.top_n_percent);
    std::optional<int64_t> min_points = check.IntegerAtLeast(
        *body, path, "min_points_in_model", 1, false, 1000000);
    if (min_points && *min_points < d + 1) {
      check.Add(path + ".min_points_in_model",
                "must be at least the number of searched parameters + 1 (" +
                    std::to_string(d + 1) +
                    "), or the good points cannot "
                    "span a density (got " +
                    std::to_string(*min_points) + ")");
    } else if (min_points) {
      s.min_points_in_model = static_cast<int>(*min_points);
    }
    s.min_bandwidth = NumberIn(check, *body, path, "min_bandwidth", 0, 1, true)
                          .value_or(s.min_bandwidth);
    s.random_fraction =
        NumberIn(check, *body, path, "random_fraction", 0, 1, false)
            .value_or(s.random_fraction);
    s.num_samples = static_cast<int>(
        check.IntegerAtLeast(*body, path, "num_samples", 1, false, 100000)
            .value_or(s.num_samples));
    s.bandwidth_factor =
        NumberIn(check, *body, path, "bandwidth_factor", 0, 1e6, true)
            .value_or(s.bandwidth_factor);
  }
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == words.size() ? " and " : ", ") + words[i];
  }
  return out;
}

// The parameters a PBT member may change when it resumes another member's
// checkpoint with hpo's own (LibTorch) trainers: the rest shape the model,
// the optimizer's or the LR scheduler's state, which the checkpoint holds.
const std::vector<std::string>& PbtMutableKeys() {
  static const std::vector<std::string> keys = {
      "lr",        "weight_decay", "dropout", "batch_size", "label_smoothing",
      "grad_clip", "augment"};
  return keys;
}

// Why a LibTorch trainer's setting `name` cannot mutate, for the error.
std::string PbtFixedReason(const std::string& name) {
  for (const char* shape :
       {"model", "module", "channels", "kernel_size", "padding", "pool",
        "batch_norm", "dense", "gru_hidden", "gru_layers", "bidirectional",
        "activation", "init", "wave_kernel", "wave_stride"}) {
    if (name == shape) return "it sets the model's shape";
  }
  if (name == "optimizer" || name == "scheduler") {
    return "the checkpoint holds that " + name + "'s state";
  }
  return "only " + JoinWords(PbtMutableKeys()) +
         " change in a restored training state";
}

void ParsePbt(JsonChecker& check, const json& algorithm, StudySpec& spec) {
  AlgorithmSpec& a = spec.algorithm;
  const std::string path = "algorithm";
  a.population = static_cast<int>(
      check.IntegerAtLeast(algorithm, path, "population", 2, true, 10000)
          .value_or(0));
  a.interval =
      static_cast<int>(check
                           .IntegerAtLeast(algorithm, path, "interval", 1, true,
                                           std::max(1, a.max_epochs))
                           .value_or(0));
  if (a.interval > 0 && a.interval >= a.max_epochs) {
    check.Add("algorithm.interval",
              "must be below max_epochs (" + std::to_string(a.max_epochs) +
                  "), or no member ever reaches a boundary to exploit at; "
                  "use \"random\" to train each trial to the end");
  }
  if (std::optional<double> q =
          check.Number(algorithm, path, "quantile", false)) {
    if (*q <= 0 || *q > 0.5) {
      check.Add("algorithm.quantile",
                "must be above 0 and at most 0.5: the share of the population "
                "in the top and in the bottom (got " +
                    FormatNumber(*q) + ")");
    } else {
      a.quantile = *q;
    }
  }
  a.resample_probability =
      NumberIn(check, algorithm, path, "resample_probability", 0, 1, false)
          .value_or(a.resample_probability);
  if (const json* factors =
          check.Array(algorithm, path, "perturb_factors", false)) {
    std::vector<double> values;
    for (size_t i = 0; i < factors->size(); ++i) {
      const json& f = (*factors)[i];
      if (!f.is_number() || f.get<double>() <= 0 || f.get<double>() > 100) {
        check.Add("algorithm.perturb_factors[" + std::to_string(i) + "]",
                  "must be a number above 0 and at most 100, like 0.8 or "
                  "1.2 (got " +
                      Brief(f) + ")");
      } else {
        values.push_back(f.get<double>());
      }
    }
    if (factors->empty()) {
      check.Add("algorithm.perturb_factors",
                "must list at least one factor, like [0.8, 1.2]");
    } else if (values.size() == factors->size()) {
      a.perturb_factors = values;
    }
  }
  const bool own_trainer = !spec.trainer.contains("command") &&
                           spec.trainer.value("model", "") != "synthetic";
  // A list element is the setting of its list ("channels[1]": channels).
  auto setting_of = [&](const std::string& name) {
    const ParamSpec* p = spec.search_space.Find(name);
    return p != nullptr ? p->setting() : name;
  };
  auto can_mutate = [&](const std::string& name) {
    if (!own_trainer) return true;
    const auto& keys = PbtMutableKeys();
    return std::find(keys.begin(), keys.end(), setting_of(name)) != keys.end();
  };
  std::vector<std::string> names;
  for (const ParamSpec& p : spec.search_space.params) names.push_back(p.name);
  bool listed_bad = false;
  if (const json* list = check.Array(algorithm, path, "mutable", false)) {
    const size_t before = check.problems().size();
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string item = "algorithm.mutable[" + std::to_string(i) + "]";
      const json& entry = (*list)[i];
      if (!entry.is_string()) {
        check.Add(item, "must be the name of a searched parameter (got " +
                            Brief(entry) + ")");
        continue;
      }
      const std::string name = entry.get<std::string>();
      // A list's name stands for all its elements.
      const std::vector<const ParamSpec*> elements =
          spec.search_space.Elements(name);
      if (!elements.empty()) {
        if (!can_mutate(elements[0]->name)) {
          check.Add(item, Quoted(name) + " cannot change during training (" +
                              PbtFixedReason(name) +
                              "); leave it out: a member that copies another "
                              "takes its value with the checkpoint");
          continue;
        }
        for (const ParamSpec* e : elements) {
          if (std::find(a.mutable_params.begin(), a.mutable_params.end(),
                        e->name) != a.mutable_params.end()) {
            check.Add(item, Quoted(e->name) + " is listed twice");
            break;
          }
          a.mutable_params.push_back(e->name);
        }
        continue;
      }
      if (spec.search_space.Find(name) == nullptr) {
        const std::string hint = ClosestMatch(name, names);
        check.Add(
            item,
            Quoted(name) + " is not in search_space" +
                (hint.empty() ? "" : " (did you mean " + Quoted(hint) + "?)") +
                "; PBT mutates searched parameters");
      } else if (!can_mutate(name)) {
        check.Add(item, Quoted(name) + " cannot change during training (" +
                            PbtFixedReason(setting_of(name)) +
                            "); leave it out: a member that copies another "
                            "takes its value with the checkpoint");
      } else if (std::find(a.mutable_params.begin(), a.mutable_params.end(),
                           name) != a.mutable_params.end()) {
        check.Add(item, Quoted(name) + " is listed twice");
      } else {
        a.mutable_params.push_back(name);
      }
    }
    listed_bad = check.problems().size() > before;
  } else {
    for (const std::string& name : names) {
      if (can_mutate(name)) a.mutable_params.push_back(name);
    }
  }
  if (a.mutable_params.empty() && !listed_bad) {
    check.Add("algorithm.mutable",
              own_trainer ? "nothing to mutate: search at least one of " +
                                JoinWords(PbtMutableKeys()) +
                                " (or list them in \"mutable\")"
                          : "nothing to mutate: list searched parameters in "
                            "\"mutable\"");
  }
  // A per-batch LR scheduler counts steps in batches: a new batch size
  // would move it to another point of its schedule.
  const bool batch_mutates =
      std::find(a.mutable_params.begin(), a.mutable_params.end(),
                "batch_size") != a.mutable_params.end();
  if (batch_mutates && own_trainer) {
    std::vector<json> schedulers;
    if (const ParamSpec* p = spec.search_space.Find("scheduler")) {
      schedulers = p->values;
    } else if (spec.trainer.contains("scheduler")) {
      schedulers.push_back(spec.trainer["scheduler"]);
    }
    for (const json& s : schedulers) {
      if (s == "onecycle" || s == "cyclic") {
        check.Add("algorithm.mutable",
                  "batch_size cannot mutate with the " + s.get<std::string>() +
                      " LR scheduler (it counts its steps in batches); "
                      "leave batch_size out or use an epoch scheduler");
        break;
      }
    }
  }
}

// Returns false when the algorithm type is missing or unknown.
bool ParseAlgorithm(JsonChecker& check, const json& study, StudySpec& spec) {
  const json* algorithm = check.Object(study, "", "algorithm", true);
  if (algorithm == nullptr) return false;
  const std::string path = "algorithm";
  std::optional<std::string> type =
      check.String(*algorithm, path, "type", true);
  if (!type) return false;
  const AlgorithmInfo* info = nullptr;
  std::vector<std::string> names;
  for (const AlgorithmInfo& a : Algorithms()) {
    names.push_back(a.name);
    if (*type == a.name) info = &a;
  }
  if (info == nullptr) {
    std::string hint = ClosestMatch(*type, names);
    check.Add("algorithm.type",
              "unknown algorithm " + Quoted(*type) +
                  (hint.empty() ? " (use random, grid, successive_halving, "
                                  "hyperband, asha, median or pbt)"
                                : " (did you mean " + Quoted(hint) + "?)"));
    return false;
  }
  AlgorithmSpec& a = spec.algorithm;
  a.type = info->type;
  // A key that another algorithm uses gets a specific message.
  for (const auto& item : algorithm->items()) {
    const auto& keys = info->keys;
    if (std::find(keys.begin(), keys.end(), item.key()) != keys.end()) continue;
    if (item.key() == "sampler") {
      check.Add("algorithm.sampler",
                "grid search enumerates the search space and takes no "
                "sampler; remove it, or use \"random\" with a sampler and "
                "a trial budget");
      continue;
    }
    for (const AlgorithmInfo& other : Algorithms()) {
      const auto& k = other.keys;
      if (std::find(k.begin(), k.end(), item.key()) != k.end()) {
        check.Add(JoinPath(path, item.key()), "not used by " + *type +
                                                  " (it is a setting of " +
                                                  other.name + "); remove it");
        break;
      }
    }
  }
  json unclaimed = json::object();
  for (const auto& item : algorithm->items()) {
    bool any = false;
    for (const AlgorithmInfo& other : Algorithms()) {
      const auto& k = other.keys;
      any = any || std::find(k.begin(), k.end(), item.key()) != k.end();
    }
    if (!any) unclaimed[item.key()] = item.value();
  }
  check.CheckKeys(unclaimed, path, info->keys, "the " + *type + " algorithm");

  const bool early_stopping = a.type == AlgorithmType::kSuccessiveHalving ||
                              a.type == AlgorithmType::kHyperband ||
                              a.type == AlgorithmType::kAsha;
  std::optional<int64_t> max_epochs = check.IntegerAtLeast(
      *algorithm, path, "max_epochs", 1, true, kMaxEpochsLimit);
  bool min_epochs_ok = true;
  bool eta_ok = true;
  if (early_stopping) {
    std::optional<int64_t> min_epochs = check.IntegerAtLeast(
        *algorithm, path, "min_epochs", 1, false, kMaxEpochsLimit);
    std::optional<int64_t> eta =
        check.IntegerAtLeast(*algorithm, path, "eta", 2, false, 100);
    // A missing key takes its default; a present, invalid one is reported.
    min_epochs_ok = min_epochs || !algorithm->contains("min_epochs");
    eta_ok = eta || !algorithm->contains("eta");
    a.min_epochs = static_cast<int>(min_epochs.value_or(1));
    a.eta = static_cast<int>(eta.value_or(3));
  }
  // Cross-checks need valid epochs and eta; every key is still read, so that
  // its own problems are reported in the same run.
  bool epochs_ok = max_epochs && min_epochs_ok;
  if (max_epochs) a.max_epochs = static_cast<int>(*max_epochs);
  if (epochs_ok && early_stopping) {
    if (a.min_epochs > a.max_epochs) {
      check.Add("algorithm.min_epochs",
                "min_epochs (" + std::to_string(a.min_epochs) +
                    ") > max_epochs (" + std::to_string(a.max_epochs) +
                    "); swap them");
      epochs_ok = false;
    } else if (eta_ok &&
               static_cast<int64_t>(a.min_epochs) * a.eta > a.max_epochs) {
      check.Add("algorithm.max_epochs",
                "must be at least min_epochs * eta (" +
                    std::to_string(a.min_epochs * a.eta) + ") for " + *type +
                    " to stop anything early (got " +
                    std::to_string(a.max_epochs) +
                    "); raise max_epochs or use \"random\"");
      epochs_ok = false;
    }
  }
  const bool shape_ok = epochs_ok && eta_ok;
  const int s_max =
      shape_ok ? FloorLogRatio(a.min_epochs, a.max_epochs, a.eta) : 0;
  if (a.type == AlgorithmType::kSuccessiveHalving) {
    const int64_t needed = IntPow(a.eta, s_max);
    std::optional<int64_t> n =
        check.IntegerAtLeast(*algorithm, path, "n", 1, false, 1000000);
    a.n = n.value_or(needed);
    if (shape_ok && n && *n < needed) {
      check.Add("algorithm.n",
                "too small: with eta " + std::to_string(a.eta) + " and " +
                    std::to_string(s_max + 1) + " rungs (" +
                    std::to_string(a.min_epochs) + " to " +
                    std::to_string(a.max_epochs) + " epochs) at least " +
                    std::to_string(needed) +
                    " trials are needed for one to reach max_epochs (got " +
                    std::to_string(*n) + ")");
    }
  }
  if (a.type == AlgorithmType::kHyperband) {
    a.iterations = static_cast<int>(
        check.IntegerAtLeast(*algorithm, path, "iterations", 1, false, 1000)
            .value_or(1));
  }
  if (a.type == AlgorithmType::kAsha) {
    a.brackets =
        static_cast<int>(check
                             .IntegerAtLeast(*algorithm, path, "brackets", 1,
                                             false, shape_ok ? s_max + 1 : 100)
                             .value_or(1));
  }
  if (a.type == AlgorithmType::kMedian) {
    a.warmup_epochs = static_cast<int>(
        check
            .IntegerAtLeast(*algorithm, path, "warmup_epochs", 0, false,
                            epochs_ok ? a.max_epochs : kMaxEpochsLimit)
            .value_or(1));
    a.min_trials = static_cast<int>(
        check.IntegerAtLeast(*algorithm, path, "min_trials", 1, false, 100000)
            .value_or(3));
  }
  if (a.type == AlgorithmType::kPbt) ParsePbt(check, *algorithm, spec);
  if (a.type == AlgorithmType::kGrid) {
    a.sampler.type = SamplerType::kGrid;
  } else {
    ParseSampler(check, *algorithm, spec);
  }
  return true;
}

// `algorithm_known`: whether the algorithm type parsed (an unknown one has
// no budget requirements to check).
void ParseBudget(JsonChecker& check, const json& study, StudySpec& spec,
                 bool algorithm_known) {
  const json* budget = check.Object(study, "", "budget", false);
  const AlgorithmType type = spec.algorithm.type;
  const bool needs_trials =
      algorithm_known &&
      (type == AlgorithmType::kRandom || type == AlgorithmType::kAsha ||
       type == AlgorithmType::kMedian);
  const bool has_trials = budget != nullptr && budget->contains("max_trials");
  if (algorithm_known && type == AlgorithmType::kPbt && has_trials) {
    check.Add("budget.max_trials",
              "pbt trains algorithm.population members, each to max_epochs; "
              "remove max_trials");
  }
  if (needs_trials && !has_trials &&
      (budget != nullptr || !study.contains("budget"))) {
    check.Add("budget.max_trials",
              "missing: " + ToString(type) +
                  " search needs a trial budget, e.g. \"budget\": "
                  "{\"max_trials\": 50}");
  }
  if (budget == nullptr) return;
  check.CheckKeys(*budget, "budget", {"max_trials", "max_hours"}, "the budget");
  std::optional<int64_t> trials =
      check.IntegerAtLeast(*budget, "budget", "max_trials", 1, false, 10000000);
  spec.budget.max_trials = trials.value_or(0);
  spec.budget.max_hours =
      check.PositiveNumber(*budget, "budget", "max_hours", false).value_or(0);
}

void ParseExecution(JsonChecker& check, const json& study, StudySpec& spec) {
  const json* execution = check.Object(study, "", "execution", false);
  if (execution == nullptr) return;
  const std::string path = "execution";
  check.CheckKeys(*execution, path,
                  {"max_attempts", "heartbeat_s", "lease_timeout_s",
                   "stop_grace_s", "epoch_timeout_s"},
                  "execution settings");
  ExecutionSpec& e = spec.execution;
  e.max_attempts = static_cast<int>(
      check.IntegerAtLeast(*execution, path, "max_attempts", 1, false, 100)
          .value_or(e.max_attempts));
  e.heartbeat_s = check.PositiveNumber(*execution, path, "heartbeat_s", false)
                      .value_or(e.heartbeat_s);
  std::optional<double> lease =
      check.PositiveNumber(*execution, path, "lease_timeout_s", false);
  e.lease_timeout_s =
      lease.value_or(std::max(e.lease_timeout_s, 5 * e.heartbeat_s));
  for (auto [key, field] : {std::pair{"stop_grace_s", &e.stop_grace_s},
                            std::pair{"epoch_timeout_s", &e.epoch_timeout_s}}) {
    std::optional<double> v = check.Number(*execution, path, key, false);
    if (v && (*v < 0 || *v > 7 * 86400)) {
      check.Add(path + "." + key, "must be from 0 to 604800 seconds (got " +
                                      FormatNumber(*v) + ")");
    } else if (v) {
      *field = *v;
    }
  }
  if (e.lease_timeout_s <= 2 * e.heartbeat_s) {
    check.Add("execution.lease_timeout_s",
              "must be more than twice heartbeat_s (" +
                  FormatNumber(e.heartbeat_s) +
                  " s), or a healthy worker "
                  "would lose its trials (got " +
                  FormatNumber(e.lease_timeout_s) + ")");
  }
}

void ParseSearchSpace(JsonChecker& check, const json& study, StudySpec& spec) {
  const json* space = check.Object(study, "", "search_space", true);
  if (space == nullptr) return;
  if (space->size() > kMaxParams) {
    check.Add("search_space", std::to_string(space->size()) +
                                  " parameters, more than " +
                                  std::to_string(kMaxParams) +
                                  "; fix some of them in \"trainer\"");
    return;
  }
  size_t count = 0;  // Parameters, a list's elements each counting.
  for (const auto& item : space->items()) {
    const std::string path = JoinPath("search_space", item.key());
    if (SplitElementName(item.key()) ||
        item.key().find_first_of("[]{}") != std::string::npos) {
      check.Add(path,
                "a parameter's name cannot hold [ ] { }; search a list's "
                "elements with {\"type\": \"list\", \"length\": N, "
                "\"item\": {...}}");
      continue;
    }
    if (item.value().is_object() && item.value().contains("type") &&
        item.value()["type"] == "list") {
      std::vector<ParamSpec> elements =
          ParseList(check, item.key(), item.value(), path);
      count += elements.size();
      for (ParamSpec& e : elements) {
        spec.search_space.params.push_back(std::move(e));
      }
      continue;
    }
    std::optional<ParamSpec> param =
        ParseParam(check, item.key(), item.value(), path);
    ++count;
    if (param) spec.search_space.params.push_back(std::move(*param));
  }
  if (count > kMaxParams) {
    check.Add("search_space", std::to_string(count) +
                                  " parameters counting each list element, "
                                  "more than " +
                                  std::to_string(kMaxParams) +
                                  "; fix some of them in \"trainer\"");
  }
  ParseConditions(check, *space, spec.search_space.params);
}

// `enqueue`: configurations to run first, checked like sampled ones.
void ParseEnqueue(JsonChecker& check, const json& study, StudySpec& spec) {
  const json* list = check.Array(study, "", "enqueue", false);
  if (list == nullptr) return;
  if (spec.algorithm.type == AlgorithmType::kGrid) {
    check.Add("enqueue",
              "grid search runs every point of its grid; enqueue "
              "configurations with random, successive_halving, hyperband, "
              "asha or median");
    return;
  }
  if (list->size() > kMaxValues) {
    check.Add("enqueue",
              TooManyValues(list->size(), "enqueue the most promising ones"));
    return;
  }
  std::vector<std::string> names;
  for (const ParamSpec& p : spec.search_space.params) names.push_back(p.name);
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    const std::string path = "enqueue[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      check.Add(path,
                "must be an object of searched parameters' values, "
                "like {\"lr\": 0.01} (got " +
                    TypeName(entry) + " " + Brief(entry) + ")");
      continue;
    }
    json config = json::object();
    bool ok = true;
    // A list parameter given whole ("channels": [64, 128]) stands for its
    // elements.
    json flat = json::object();
    for (const auto& item : entry.items()) {
      const std::vector<const ParamSpec*> elements =
          spec.search_space.Elements(item.key());
      if (elements.empty()) {
        flat[item.key()] = item.value();
      } else if (!item.value().is_array() ||
                 item.value().size() != elements.size()) {
        check.Add(JoinPath(path, item.key()),
                  "must be a list of " + std::to_string(elements.size()) +
                      " values, one per element (got " + Brief(item.value()) +
                      ")");
        ok = false;
      } else {
        for (size_t k = 0; k < elements.size(); ++k) {
          flat[elements[k]->name] = item.value()[k];
        }
      }
    }
    for (const auto& item : flat.items()) {
      const std::string key_path = JoinPath(path, item.key());
      const ParamSpec* p = spec.search_space.Find(item.key());
      if (p == nullptr) {
        std::string hint = ClosestMatch(item.key(), names);
        check.Add(key_path,
                  "not a searched parameter" +
                      (hint.empty() ? std::string()
                                    : " (did you mean " + Quoted(hint) + "?)") +
                      "; fixed settings belong in \"trainer\"");
        ok = false;
        continue;
      }
      if (!PossibleValue(*p, item.value())) {
        std::string domain =
            p->type == ParamType::kChoice
                ? "one of its " + std::to_string(p->values.size()) + " values"
                : FormatNumber(p->low) + " to " + FormatNumber(p->high) +
                      (p->type == ParamType::kInt
                           ? ", an integer" +
                                 (p->step > 1 ? " in steps of " +
                                                    std::to_string(p->step) +
                                                    " from low"
                                              : std::string())
                           : std::string());
        check.Add(key_path, Brief(item.value()) + " is not a value of this " +
                                ToString(p->type) + " parameter (" + domain +
                                ")");
        ok = false;
        continue;
      }
      config[item.key()] = p->type == ParamType::kInt
                               ? json(*ExactInteger(item.value()))
                               : item.value();
    }
    // A conditional parameter given where its condition cannot hold.
    for (const auto& item : config.items()) {
      const ParamSpec* p = spec.search_space.Find(item.key());
      for (const Condition& c : p->when) {
        auto parent = config.find(c.param);
        if (parent == config.end()) continue;  // The sampler decides it.
        if (!c.HoldsFor(*parent)) {
          check.Add(JoinPath(path, item.key()),
                    "inactive in this entry: its \"when\" needs " + c.param +
                        " to be " + Brief(json(c.any_of)) + " (here " +
                        Brief(*parent) + "); remove it");
          ok = false;
        }
      }
    }
    if (ok) spec.enqueue.push_back(std::move(config));
  }
}

// JSON values in `value`, itself included: 1 for a number, 3 for [32, 64].
size_t CountValues(const json& value) {
  size_t count = 1;
  if (value.is_structured()) {
    for (const json& element : value) count += CountValues(element);
  }
  return count;
}

// Grid search needs a finite set of values for every parameter.
void CheckGrid(JsonChecker& check, StudySpec& spec) {
  if (spec.algorithm.type != AlgorithmType::kGrid) return;
  double points = 1;
  double values = 0;  // JSON values in one point, at most.
  for (const ParamSpec& p : spec.search_space.params) {
    double count = 0;
    if (!p.grid.empty()) {
      count = static_cast<double>(p.grid.size());
    } else if (p.type == ParamType::kChoice) {
      count = static_cast<double>(p.values.size());
    } else if (p.type == ParamType::kInt) {
      count = std::floor((p.high - p.low) / static_cast<double>(p.step)) + 1;
    } else {
      check.Add(JoinPath("search_space", p.name),
                "grid search needs a \"grid\" list for a continuous "
                "parameter, e.g. \"grid\": [" +
                    FormatNumber(p.low) + ", " + FormatNumber(p.high) + "]");
      continue;
    }
    points *= count;
    size_t largest = 1;
    if (p.grid.empty() && p.type == ParamType::kChoice) {
      for (const json& v : p.values)
        largest = std::max(largest, CountValues(v));
    }
    values += static_cast<double>(largest);
  }
  if (points > kMaxGridPoints) {
    check.Add("search_space",
              "the grid has " + FormatNumber(points) + " points, more than " +
                  FormatNumber(kMaxGridPoints) +
                  "; add \"step\" to int ranges or use random search");
  } else if (points * values > kMaxGridValues) {
    check.Add("search_space",
              "the grid's " + FormatNumber(points) + " points hold up to " +
                  FormatNumber(points * values) + " JSON values, more than " +
                  FormatNumber(kMaxGridValues) +
                  "; search fewer parameters or shorter choices, or use "
                  "random search");
  }
}

}  // namespace

bool Condition::HoldsFor(const json& value) const {
  for (const json& v : any_of) {
    if (v == value || (v.is_number() && value.is_number() &&
                       v.get<double>() == value.get<double>())) {
      return true;
    }
  }
  return false;
}

std::vector<const ParamSpec*> SearchSpaceSpec::Elements(
    const std::string& list) const {
  std::vector<const ParamSpec*> elements;
  for (const ParamSpec& p : params) {
    if (!list.empty() && p.list == list) elements.push_back(&p);
  }
  std::sort(elements.begin(), elements.end(),
            [](const ParamSpec* a, const ParamSpec* b) {
              return a->index < b->index;
            });
  return elements;
}

std::optional<std::pair<std::string, int>> SplitElementName(
    const std::string& name) {
  const size_t open = name.rfind('[');
  if (open == std::string::npos || open == 0 || name.back() != ']') {
    return std::nullopt;
  }
  const std::string digits = name.substr(open + 1, name.size() - open - 2);
  if (digits.empty() || digits.size() > 4 ||
      (digits.size() > 1 && digits[0] == '0') ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::pair{name.substr(0, open), std::stoi(digits)};
}

json WithLists(const json& base, const json& params, bool keep_elements) {
  json merged = base.is_object() ? base : json::object();
  if (!params.is_object()) return merged;
  std::map<std::string, std::map<int, json>> lists;
  for (const auto& [key, value] : params.items()) {
    const auto element = SplitElementName(key);
    if (element) lists[element->first][element->second] = value;
    if (!element || keep_elements) merged[key] = value;
  }
  for (auto& [name, elements] : lists) {
    json& list = merged[name];
    list = json::array();  // A searched list replaces a fixed one whole.
    for (auto& [index, value] : elements) {
      while (list.size() <= static_cast<size_t>(index)) list.push_back(nullptr);
      list[static_cast<size_t>(index)] = std::move(value);
    }
  }
  return merged;
}

const ParamSpec* SearchSpaceSpec::Find(const std::string& name) const {
  for (const ParamSpec& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const std::vector<std::string>& KnownMetrics() {
  static const std::vector<std::string> metrics = {
      "train_loss",         "val_loss",       "val_accuracy",
      "val_track_accuracy", "val_track_loss", "epoch_seconds",
      "samples_per_second"};
  return metrics;
}

std::string ToString(ParamType type) {
  return ParamTypeNames()[static_cast<size_t>(type)];
}

std::string ToString(AlgorithmType type) {
  for (const AlgorithmInfo& a : Algorithms()) {
    if (a.type == type) return a.name;
  }
  return "?";
}

std::string ToString(ObjectiveMode mode) {
  return mode == ObjectiveMode::kMin ? "min" : "max";
}

std::string ToString(SamplerType type) {
  if (type == SamplerType::kGrid) return "grid";
  for (const SamplerInfo& s : Samplers()) {
    if (s.type == type) return s.name;
  }
  return "?";
}

std::string SamplerSummary(const std::string& study_text) {
  const json study = json::parse(study_text, nullptr, false);
  if (!study.is_object()) return "?";
  const json algorithm = study.value("algorithm", json::object());
  if (!algorithm.is_object()) return "?";
  std::string out =
      algorithm.value("type", json()) == "grid" ? "grid" : "random";
  const json sampler = algorithm.value("sampler", json::object());
  if (sampler.is_object() && sampler.value("type", json()).is_string()) {
    out = sampler["type"].get<std::string>();
    if (sampler.value("multivariate", json()) == true) out += " multivariate";
  }
  const json enqueue = study.value("enqueue", json());
  if (enqueue.is_array() && !enqueue.empty()) {
    out += ", " + std::to_string(enqueue.size()) + " enqueued";
  }
  return out;
}

std::string TrainerSummary(const std::string& study_text) {
  const json study = json::parse(study_text, nullptr, false);
  if (!study.is_object()) return "?";
  const json trainer = study.value("trainer", json::object());
  if (!trainer.is_object()) return "?";
  const json command = trainer.value("command", json());
  if (command.is_array()) {
    std::vector<std::string> argv;
    for (const json& a : command) {
      argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
    }
    return command::JoinArgv(argv);
  }
  const json model = trainer.value("model", json());
  return model.is_string() ? model.get<std::string>() : "?";
}

std::string ToString(TpeObservations observations) {
  return observations == TpeObservations::kFurthest ? "furthest"
                                                    : "largest_budget";
}

namespace {

// The synthetic trainer (analytic learning curves, for tests and benchmarks)
// takes only these settings.
void CheckSyntheticTrainer(JsonChecker& check, const json& trainer) {
  check.CheckKeys(trainer, "trainer",
                  {"model", "epoch_seconds", "noise", "time_spread",
                   "divergence_rate", "classes", "curves"},
                  "the synthetic trainer");
  std::optional<std::string> curves =
      check.String(trainer, "trainer", "curves", false);
  if (curves && *curves != "static" && *curves != "annealing") {
    check.Add("trainer.curves",
              "must be \"static\" (a pure function of the parameters and "
              "the epoch) or \"annealing\" (the best lr falls as training "
              "goes on; state in checkpoints), got " +
                  Quoted(*curves));
  }
  for (const char* key : {"epoch_seconds", "noise", "time_spread"}) {
    std::optional<double> v = check.Number(trainer, "trainer", key, false);
    if (v && (*v < 0 || *v > 3600)) {
      check.Add(std::string("trainer.") + key,
                "must be from 0 to 3600 (got " + FormatNumber(*v) + ")");
    }
  }
  std::optional<double> rate =
      check.Number(trainer, "trainer", "divergence_rate", false);
  if (rate && (*rate < 0 || *rate > 1)) {
    check.Add(
        "trainer.divergence_rate",
        "must be a fraction from 0 to 1 (got " + FormatNumber(*rate) + ")");
  }
  check.IntegerAtLeast(trainer, "trainer", "classes", 2, false, 100000);
}

// The command trainer (README, "Your own training script"): the program,
// where it runs, what it adds to the environment, and that every `{name}`
// in its arguments is a parameter every trial has.
void CheckCommandTrainer(JsonChecker& check, StudySpec& spec) {
  const json& trainer = spec.trainer;
  check.CheckKeys(trainer, "trainer", {"command", "cwd", "env"},
                  "the command trainer");
  const json& command = trainer["command"];
  if (!command.is_array() || command.empty() || command.size() > 1024) {
    check.Add("trainer.command",
              "must be a list of 1 to 1024 strings, the program and its "
              "arguments (got " +
                  TypeName(command) + ")");
    return;
  }
  std::vector<std::string> argv;
  for (size_t i = 0; i < command.size(); ++i) {
    const std::string path = "trainer.command[" + std::to_string(i) + "]";
    if (!command[i].is_string() || (i == 0 && command[i] == "")) {
      check.Add(path,
                i == 0 ? "must be the program to run, a non-empty string"
                       : "must be a string (got " + TypeName(command[i]) + ")");
      continue;
    }
    const std::string arg = command[i].get<std::string>();
    argv.push_back(arg);
    std::vector<std::string> names;
    try {
      names = command::ReferencedParams({arg});
    } catch (const Error& e) {
      std::string what = e.what();
      const std::string prefix = "trainer.command: ";
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      check.Add(path, what);
      continue;
    }
    for (const std::string& name : names) {
      const ParamSpec* p = spec.search_space.Find(name);
      // {channels}: a list parameter, substituted as a JSON list.
      const std::vector<const ParamSpec*> elements =
          spec.search_space.Elements(name);
      if (p == nullptr && !elements.empty()) p = elements[0];
      if (p == nullptr) {
        std::vector<std::string> known;
        for (const ParamSpec& q : spec.search_space.params) {
          known.push_back(q.name);
        }
        const std::string hint = ClosestMatch(name, known);
        check.Add(path,
                  "{" + name + "} is not a parameter of the search space" +
                      (hint.empty() ? "" : " (did you mean {" + hint + "}?)") +
                      "; write {{ and }} for literal braces");
      } else if (!p->when.empty()) {
        check.Add(path, "{" + name +
                            "} is conditional, so some trials have no value "
                            "for it; read it from HPO_PARAMS instead");
      }
    }
  }
  if (trainer.contains("cwd") &&
      (!trainer["cwd"].is_string() || trainer["cwd"] == "")) {
    check.Add("trainer.cwd",
              "must be a directory (a non-empty string; relative to where "
              "hpo-worker runs)");
  }
  if (trainer.contains("env")) {
    const json& env = trainer["env"];
    if (!env.is_object()) {
      check.Add("trainer.env", "must be an object of NAME: \"value\" strings");
    } else {
      for (const auto& [name, value] : env.items()) {
        const std::string path = "trainer.env." + name;
        bool valid =
            !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
        for (char c : name) {
          valid = valid &&
                  (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
        }
        if (!valid) {
          check.Add(path, "is not a variable name (letters, digits, '_')");
        } else if (name.rfind("HPO_", 0) == 0 ||
                   name == "CUDA_VISIBLE_DEVICES") {
          check.Add(path, "is set by hpo-worker for each job; leave it out");
        } else if (!value.is_string()) {
          check.Add(path, "must be a string (got " + TypeName(value) + ")");
        }
      }
    }
  }
  spec.command = std::move(argv);
}

// A LibTorch trainer's fixed settings, and that every searched parameter is
// a setting it reads.
void CheckRealTrainer(JsonChecker& check, const StudySpec& spec,
                      const std::string& source) {
  const json& trainer = spec.trainer;
  if (!trainer.contains("model") || !trainer["model"].is_string()) return;
  const std::string model = trainer["model"].get<std::string>();
  if (model == "synthetic") return;
  try {
    ParseTrainConfig(trainer, json::object(), source);
  } catch (const ValidationError& e) {
    for (const std::string& p : e.problems()) {
      // "SOURCE: PATH: message"; the checker adds the source again.
      const std::string rest = p.substr(std::min(p.size(), source.size() + 2));
      const size_t colon = rest.find(": ");
      check.Add(rest.substr(0, colon),
                colon == std::string::npos ? "" : rest.substr(colon + 2));
    }
  }
  for (const ParamSpec& p : spec.search_space.params) {
    const auto& keys = TrainConfigKeys();
    if (p.index > 0) continue;  // A list is reported once.
    const std::string& name = p.setting();
    if (std::find(keys.begin(), keys.end(), name) != keys.end()) continue;
    std::string hint = ClosestMatch(name, keys);
    check.Add("search_space." + name,
              "the " + model + " trainer has no setting \"" + name + "\"" +
                  (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)") +
                  "; see README, Study files");
  }
  // Every value a searched setting can take (each choice, each grid point,
  // the ends of a range) must be one the trainer accepts, so that a bad
  // value fails now and not in the middle of the study. Each value is laid
  // over the fixed settings and, for the other searched settings, a value
  // of theirs that is fine on its own (nesterov needs momentum > 0: with
  // momentum searched, one of its values). Only problems with that setting
  // itself count.
  const auto& keys = TrainConfigKeys();
  std::map<std::string, std::vector<json>> candidates;
  for (const ParamSpec& p : spec.search_space.params) {
    if (p.index > 0) continue;
    if (std::find(keys.begin(), keys.end(), p.setting()) == keys.end()) {
      continue;
    }
    std::vector<json> values = p.type == ParamType::kChoice ? p.values : p.grid;
    if (values.empty()) {
      if (p.type == ParamType::kInt) {
        values = {json(static_cast<int64_t>(p.low)),
                  json(static_cast<int64_t>(p.high))};
      } else {
        values = {json(p.low), json(p.high)};
      }
    }
    // A list: each value in every element at once.
    if (!p.list.empty()) {
      const size_t length = spec.search_space.Elements(p.list).size();
      for (json& v : values) v = json(std::vector<json>(length, v));
    }
    candidates[p.setting()] = std::move(values);
  }
  // The first problem with `name` itself when `params` go over the trainer.
  auto problem_with = [&](const std::string& name,
                          const json& params) -> std::string {
    try {
      ParseTrainConfig(trainer, params, source);
    } catch (const ValidationError& e) {
      const std::string path = "trainer." + name;
      for (const std::string& problem : e.problems()) {
        const size_t at = problem.find(path);
        if (at == std::string::npos) continue;
        const size_t colon = problem.find(": ", at);
        if (colon == std::string::npos) continue;
        // The path may go on into a nested key (augment.masks).
        const std::string key = problem.substr(at, colon - at);
        if (key == path || key.rfind(path + ".", 0) == 0 ||
            key.rfind(path + "[", 0) == 0) {
          return problem.substr(colon + 2);
        }
      }
    }
    return "";
  };
  json fine = json::object();
  for (const auto& [name, values] : candidates) {
    for (const json& v : values) {
      if (problem_with(name, json{{name, v}}).empty()) {
        fine[name] = v;
        break;
      }
    }
  }
  for (const auto& [name, values] : candidates) {
    json params = fine;
    for (const json& v : values) {
      params[name] = v;
      const std::string problem = problem_with(name, params);
      if (!problem.empty()) {
        check.Add(
            "search_space." + name,
            "value " + v.dump() + " is refused by the trainer: " + problem);
      }
    }
  }
}

}  // namespace

StudySpec ParseStudy(const json& study, const std::string& source) {
  JsonChecker check(source);
  StudySpec spec;
  if (!study.is_object()) {
    check.Add("",
              "a study must be a JSON object (got " + TypeName(study) + ")");
    check.ThrowIfAny();
  }
  check.CheckKeys(study, "", kStudyKeys, "a study");
  std::optional<std::string> name = check.String(study, "", "name", true);
  if (name) {
    bool valid = !name->empty() && name->size() <= 64;
    for (char c : *name) {
      valid = valid && (std::isalnum(static_cast<unsigned char>(c)) ||
                        c == '_' || c == '-' || c == '.');
    }
    if (valid) {
      spec.name = *name;
    } else {
      check.Add("name",
                "must be 1 to 64 letters, digits, '_', '-' or '.' "
                "(got " +
                    Quoted(*name) + ")");
    }
  }
  spec.description = check.String(study, "", "description", false).value_or("");
  std::optional<int64_t> seed =
      check.IntegerAtLeast(study, "", "seed", 0, false);
  spec.seed = static_cast<uint64_t>(seed.value_or(0));
  ParseObjective(check, study, spec);
  if (const json* data = check.Object(study, "", "data", false)) {
    check.CheckKeys(*data, "data", {"shards"}, "data");
    std::optional<std::string> shards =
        check.String(*data, "data", "shards", true);
    if (shards && shards->empty()) {
      check.Add("data.shards",
                "must not be empty; give the shard directory "
                "that hpo-prep wrote");
    }
    spec.data_shards = shards.value_or("");
  }
  if (const json* trainer = check.Object(study, "", "trainer", false)) {
    spec.trainer = *trainer;
    std::optional<std::string> model =
        check.String(*trainer, "trainer", "model", false);
    if (model == "synthetic") CheckSyntheticTrainer(check, *trainer);
    if (model && trainer->contains("command")) {
      check.Add("trainer.model",
                "a trainer has either \"model\" (hpo trains it) or "
                "\"command\" (your program trains), not both");
    }
  }
  ParseSearchSpace(check, study, spec);
  if (spec.trainer.contains("command") && !spec.trainer.contains("model")) {
    CheckCommandTrainer(check, spec);
  } else if (!spec.trainer.contains("command")) {
    CheckRealTrainer(check, spec, source);
  }
  const bool algorithm_known = ParseAlgorithm(check, study, spec);
  spec.keep_best = spec.trainer.is_object() &&
                   spec.trainer.value("keep", json("last")) == json("best");
  if (spec.search_space.Find("keep") != nullptr) {
    check.Add("search_space.keep",
              "trainer.keep is the study's choice of which checkpoint to "
              "evaluate, not a training setting; set it in trainer");
  }
  if (spec.keep_best && algorithm_known &&
      spec.algorithm.type == AlgorithmType::kPbt) {
    check.Add("trainer.keep",
              "\"best\" is not for population-based training (members take "
              "each other's weights, so a member's best epoch may be another "
              "member's model); use \"last\"");
  }
  ParseBudget(check, study, spec, algorithm_known);
  ParseExecution(check, study, spec);
  ParseEnqueue(check, study, spec);
  CheckGrid(check, spec);
  check.ThrowIfAny();
  return spec;
}

SearchSpaceSpec ParseSearchSpaceOf(const json& study,
                                   const std::string& source) {
  JsonChecker check(source);
  StudySpec spec;
  if (study.is_object()) ParseSearchSpace(check, study, spec);
  check.ThrowIfAny();
  return spec.search_space;
}

StudySpec LoadStudyFile(const std::string& path) {
  std::string text = ReadTextFile(path);
  json study = ParseJsonText(text, path);
  return ParseStudy(study, path);
}

}  // namespace hpo
