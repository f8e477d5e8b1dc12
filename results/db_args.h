// What the commands that read a results database (hpo-query, hpo-report)
// do with --db and --study, and how they word their errors.
#ifndef HPO_RESULTS_DB_ARGS_H_
#define HPO_RESULTS_DB_ARGS_H_

#include <string>
#include <vector>

#include "common/store.h"

namespace hpo {

// Names for a message: "a, b, c", cut after the first 20.
std::string NameList(const std::vector<std::string>& names);

// `db`, the --db value given to `program` ("hpo-query", "hpo-report"; nullptr
// when there was none). Throws hpo::Error (bad input) when it is missing or
// empty.
const std::string& RequireDbArg(const std::string& program,
                                const std::string* db);

// Throws hpo::Error (bad input) unless `db` is an existing, non-empty file,
// so that a mistyped path gets a plain message and nothing creates it.
void CheckDatabaseFile(const std::string& db);

// The study that `name` names or, when `name` is empty, the only study in
// the database `db`. Throws hpo::Error (bad input) listing the studies
// otherwise, with a "did you mean" for a mistyped name.
StudyRow ResolveStudy(Store& store, const std::string& db,
                      const std::string& name);

}  // namespace hpo

#endif  // HPO_RESULTS_DB_ARGS_H_
