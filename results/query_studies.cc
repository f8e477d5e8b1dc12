#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json_util.h"
#include "common/leaderboard.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "results/db_args.h"
#include "results/query_commands.h"

namespace hpo {
namespace query {

using hpo::CheckDatabaseFile;
using hpo::NameList;

Answer ListStudies(Query& query) {
  std::vector<hpo::StudyRow> studies;
  if (query.study.empty()) {
    studies = query.store->Studies();
  } else {
    studies.push_back(ResolveStudy(query));
  }
  hpo::ResultSet out;
  out.columns = {{"name"},     {"state"},  {"algorithm"}, {"sampler"},
                 {"trainer"},  {"metric"}, {"mode"},      {"trials"},
                 {"complete"}, {"pruned"}, {"failed"},    {"best_value"},
                 {"elapsed_s"}};
  for (const hpo::StudyRow& study : studies) {
    std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
    int complete = 0, pruned = 0, failed = 0;
    std::optional<double> best;
    for (const hpo::TrialRow& trial : trials) {
      complete += trial.state == hpo::TrialState::kComplete;
      pruned += trial.state == hpo::TrialState::kPruned;
      failed += trial.state == hpo::TrialState::kFailed;
      if (!trial.value) continue;
      if (!best ||
          (study.mode == "max" ? *trial.value > *best : *trial.value < *best)) {
        best = trial.value;
      }
    }
    ordered_json row;
    row["name"] = study.name;
    row["state"] = study.state;
    row["algorithm"] = study.algorithm;
    row["sampler"] = hpo::SamplerSummary(study.spec);
    row["trainer"] = hpo::TrainerSummary(study.spec);
    row["metric"] = study.metric;
    row["mode"] = study.mode;
    row["trials"] = trials.size();
    row["complete"] = complete;
    row["pruned"] = pruned;
    row["failed"] = failed;
    row["best_value"] = OrNull(best);
    row["elapsed_s"] = study.elapsed_s;
    out.rows.push_back(std::move(row));
  }
  return Rows(std::move(out));
}

// `trials`: the trials of one study by number, those in --state only when
// it is given.
// The rows of `trials` (ListTrials and Leaderboard), `rank` first when
// `ranked`.
hpo::ResultSet TrialRows(const std::vector<hpo::TrialRow>& trials,
                         bool ranked) {
  hpo::ResultSet out;
  if (ranked) out.columns.push_back({"rank"});
  for (const char* name : {"number", "state", "value", "best_value", "epochs",
                           "attempts", "bracket", "rung", "worker"}) {
    out.columns.push_back({name});
  }
  out.columns.push_back({"params", /*spread=*/true});
  out.columns.push_back({"error"});
  int64_t rank = 0;
  for (const hpo::TrialRow& trial : trials) {
    ordered_json row;
    if (ranked) row["rank"] = ++rank;
    row["number"] = trial.number;
    AddTrialFields(trial, row);
    // The store keeps parameters as JSON text; a row it could not parse
    // reads as "discarded", which must not reach the output.
    row["params"] = Params(trial);
    row["error"] = OrNull(trial.error);
    out.rows.push_back(std::move(row));
  }
  return out;
}

Answer ListTrials(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  return Rows(TrialRows(query.store->Trials(study.id, query.state), false));
}

}  // namespace query
}  // namespace hpo
