#include "results/db_args.h"

#include <filesystem>
#include <system_error>

#include "common/error.h"
#include "common/json_util.h"

namespace hpo {

std::string NameList(const std::vector<std::string>& names) {
  constexpr size_t kMaxNames = 20;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxNames; ++i) {
    out += (i > 0 ? ", " : "") + names[i];
  }
  if (names.size() > kMaxNames) {
    out += " and " + std::to_string(names.size() - kMaxNames) +
           " more (hpo-query studies lists them all)";
  }
  return out;
}

const std::string& RequireDbArg(const std::string& program,
                                const std::string* db) {
  if (db == nullptr || db->empty()) {
    throw BadInput(program +
                   ": --db FILE is required: the results database that "
                   "hpo-coordinator writes (see --help)");
  }
  return *db;
}

void CheckDatabaseFile(const std::string& db) {
  std::error_code error;
  std::filesystem::file_status status = std::filesystem::status(db, error);
  if (!std::filesystem::exists(status)) {
    throw BadInput(db +
                   ": no such file; pass the --db that hpo-coordinator "
                   "wrote (hpo.db unless its --db said otherwise)");
  }
  if (std::filesystem::is_directory(status)) {
    throw BadInput(db +
                   ": is a directory; pass the results database file "
                   "with --db");
  }
  if (std::filesystem::is_regular_file(status) &&
      std::filesystem::file_size(db, error) == 0 && !error) {
    throw BadInput(db +
                   ": empty file, not an hpo results database; pass the "
                   "--db that hpo-coordinator wrote");
  }
}

StudyRow ResolveStudy(Store& store, const std::string& db,
                      const std::string& name) {
  std::vector<StudyRow> studies = store.Studies();
  std::vector<std::string> names;
  for (const StudyRow& study : studies) {
    if (!name.empty() && study.name == name) return study;
    names.push_back(study.name);
  }
  if (studies.empty()) {
    throw BadInput(db +
                   ": holds no studies yet; run hpo-coordinator --study "
                   "FILE.json --db " +
                   db + " first, or pass another --db");
  }
  if (name.empty()) {
    if (studies.size() == 1) return studies[0];
    throw BadInput(db + ": holds " + std::to_string(studies.size()) +
                   " studies (" + NameList(names) +
                   "); pass one with --study NAME");
  }
  const std::string match = ClosestMatch(name, names);
  throw BadInput(db + ": no study named \"" + name + "\"" +
                 (match.empty() ? "" : " (did you mean \"" + match + "\"?)") +
                 "; it holds " + NameList(names) +
                 " (pass one of them with --study)");
}

}  // namespace hpo
