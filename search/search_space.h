// A validated search space with the operations samplers need: the order in
// which parameters can be decided (parents before the parameters whose
// `when` names them), activity of conditional parameters, and mapping between
// a parameter's values and the unit interval.
#ifndef HPO_SEARCH_SEARCH_SPACE_H_
#define HPO_SEARCH_SEARCH_SPACE_H_

#include <nlohmann/json.hpp>
#include <vector>

#include "common/study_spec.h"

namespace hpo {

class SearchSpace {
 public:
  // `spec` must come from ParseStudy() (no cycles, conditions valid).
  explicit SearchSpace(SearchSpaceSpec spec);

  // Parameters ordered so that every parameter comes after those its `when`
  // names; ties in name order.
  const std::vector<ParamSpec>& ordered() const { return ordered_; }

  // True if every condition of `param` holds in `config`; a condition on a
  // parameter absent from `config` (itself inactive) does not hold.
  static bool IsActive(const ParamSpec& param, const nlohmann::json& config);

  // The value of `param` at position `u` in [0, 1): uniform over the range
  // (on a log scale for log parameters), over the integers (honouring step),
  // or over the choices.
  static nlohmann::json ValueAt(const ParamSpec& param, double u);

  // The inverse of ValueAt, up to rounding: where `value` lies in [0, 1].
  // Choices map to (index + 0.5) / count.
  static double PositionOf(const ParamSpec& param, const nlohmann::json& value);

  // Where `value` sits in [0, 1] such that ValueAt(param, UnitOf(param,
  // value)) == value: the centre of its cell for integers and choices (an
  // integer's cell spans +-0.5 on the log scale of a log int), the position
  // on the (log) scale for continuous parameters.
  static double UnitOf(const ParamSpec& param, const nlohmann::json& value);

  // The values a grid search tries for `param`: its "grid" list, its
  // choices, or every step of an int range. Empty for continuous parameters
  // without a grid.
  static std::vector<nlohmann::json> GridValues(const ParamSpec& param);

 private:
  std::vector<ParamSpec> ordered_;
};

}  // namespace hpo

#endif  // HPO_SEARCH_SEARCH_SPACE_H_
