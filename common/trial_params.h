// The parameters of a trial as a coordinator sends them ("assign",
// "evaluate"), checked against the study before a worker trains with them,
// as a study file is checked: a peer on the network must not make a worker
// train with settings outside the study's search space.
#ifndef HPO_COMMON_TRIAL_PARAMS_H_
#define HPO_COMMON_TRIAL_PARAMS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "common/study_spec.h"

namespace hpo {

// Checks that `params` is an object whose every key is a parameter of
// `spec`'s search space whose `when` conditions hold in `params`, and whose
// every value is one that parameter can take: a number within [low, high]
// (an integer on the step's lattice for `int`), one of the `choice` values,
// or one of the parameter's `grid` points. Missing parameters are not an
// error (the trainer's fixed values and defaults apply). Throws
// hpo::ValidationError with one line per problem, as
// `SOURCE: params.NAME: what is wrong`.
void CheckTrialParams(const StudySpec& spec, const nlohmann::json& params,
                      const std::string& source);

}  // namespace hpo

#endif  // HPO_COMMON_TRIAL_PARAMS_H_
