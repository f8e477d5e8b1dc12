// `importance [EPOCH]`: which searched parameters explain the objective
// (fANOVA over a random forest, results/study_importance.h).
#include <string>

#include "common/error.h"
#include "common/parse_int.h"
#include "results/query_commands.h"
#include "results/study_importance.h"

namespace hpo {
namespace query {

Answer ShowImportance(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  int epoch = 0;
  if (!query.args.empty()) {
    const std::string& text = query.args[0];
    const std::optional<int64_t> n = hpo::ParseInt(text);
    epoch = n && *n >= 1 && *n <= (1 << 30) ? static_cast<int>(*n) : 0;
    if (epoch < 1) {
      throw hpo::BadInput("importance " + text +
                          ": EPOCH is an epoch count (1 or more), e.g. "
                          "importance 9; leave it out to pick the largest "
                          "epoch that at least " +
                          std::to_string(hpo::kImportanceMinTrials) +
                          " trials reached");
    }
  }
  const std::vector<hpo::TrialRow> trials = query.store->Trials(study.id);
  const std::vector<hpo::MetricRow> metrics =
      query.store->Metrics(study.id, -1);
  const hpo::StudyImportance imp =
      hpo::ComputeStudyImportance(study, trials, metrics, epoch);

  Answer out;
  out.rows.columns = {
      {"parameter"}, {"importance"}, {"variance_fraction"}, {"fraction_std"}};
  ordered_json params = ordered_json::array();
  for (const hpo::ParamImportance& p : imp.result.params) {
    ordered_json row;
    row["parameter"] = p.name;
    row["importance"] = p.importance;
    row["variance_fraction"] = p.fraction;
    row["fraction_std"] = p.fraction_std;
    params.push_back(row);
    out.rows.rows.push_back(std::move(row));
  }
  hpo::ResultSet pairs;
  pairs.columns = {{"first"}, {"second"}, {"variance_fraction"}};
  ordered_json pair_list = ordered_json::array();
  for (const hpo::PairImportance& p : imp.result.pairs) {
    ordered_json row;
    row["first"] = p.first;
    row["second"] = p.second;
    row["variance_fraction"] = p.fraction;
    pair_list.push_back(row);
    // The table shows the largest three; JSON has every pair computed.
    if (pairs.rows.size() < 3) pairs.rows.push_back(std::move(row));
  }
  ordered_json document;
  document["study"] = study.name;
  document["metric"] = study.metric;
  document["epoch"] = imp.epoch;
  document["trials"] = imp.result.trials;
  document["params"] = std::move(params);
  document["pairs"] = std::move(pair_list);
  out.document = std::move(document);

  const std::string title =
      "study " + study.name + ": importance of " +
      std::to_string(imp.result.params.size()) + " parameters for " +
      study.metric + " after epoch " + std::to_string(imp.epoch) + " (" +
      std::to_string(imp.result.trials) + " trials" +
      (imp.chosen ? "" : ", the largest epoch that enough trials reached") +
      "; fANOVA over a random forest of 64 trees)";
  out.sections.push_back(Table(title, out.rows));
  if (!pairs.rows.empty()) {
    out.sections.push_back(
        Table("largest interactions: the variance a pair explains beyond its "
              "two parameters alone",
              pairs));
  }
  return out;
}

}  // namespace query
}  // namespace hpo
