#include "common/trial_params.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/json_checker.h"
#include "common/json_util.h"

namespace hpo {

using nlohmann::json;

namespace {

bool Contains(const std::vector<json>& values, const json& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

// True if every `when` condition of `param` holds in `params`.
bool Active(const ParamSpec& param, const json& params) {
  for (const Condition& c : param.when) {
    auto it = params.find(c.param);
    if (it == params.end() || !Contains(c.any_of, *it)) return false;
  }
  return true;
}

// Why `v` is not a value of `p`, or "" when it is.
std::string ValueProblem(const ParamSpec& p, const json& v) {
  if (Contains(p.grid, v)) return "";
  if (p.type == ParamType::kChoice) {
    return Contains(p.values, v) ? "" : "not one of the parameter's choices";
  }
  if (!v.is_number()) return "not a number (it is " + TypeName(v) + ")";
  const double d = v.get<double>();
  if (!std::isfinite(d)) return "not finite";
  // Samplers clamp to the range; a relative slack covers a value that made a
  // round trip through text (a resumed study's database).
  const double slack = 1e-12 * std::max(std::abs(p.low), std::abs(p.high));
  if (d < p.low - slack || d > p.high + slack) {
    return "out of the range [" + FormatNumber(p.low) + ", " +
           FormatNumber(p.high) + "]";
  }
  if (p.type == ParamType::kInt) {
    if (d != std::floor(d)) return "not an integer";
    const auto k = static_cast<int64_t>(d) - static_cast<int64_t>(p.low);
    if (!p.log && p.step > 1 && k % p.step != 0) {
      return "not on the step " + std::to_string(p.step) + " from " +
             FormatNumber(p.low);
    }
  }
  return "";
}

}  // namespace

void CheckTrialParams(const StudySpec& spec, const json& params,
                      const std::string& source) {
  if (!params.is_object()) {
    throw ValidationError({source + ": params: must be an object (got " +
                           TypeName(params) + ")"});
  }
  std::vector<std::string> problems;
  for (const auto& [name, value] : params.items()) {
    const std::string where = source + ": params." + name + ": ";
    const ParamSpec* p = spec.search_space.Find(name);
    if (p == nullptr) {
      problems.push_back(where + "not a parameter of study \"" + spec.name +
                         "\"'s search space");
      continue;
    }
    if (!Active(*p, params)) {
      problems.push_back(where +
                         "its \"when\" conditions do not hold in this trial");
      continue;
    }
    std::string problem = ValueProblem(*p, value);
    if (!problem.empty()) {
      problems.push_back(where + Brief(value) + " is " + problem);
    }
  }
  if (!problems.empty()) throw ValidationError(std::move(problems));
}

}  // namespace hpo
