#include <string>
#include <utility>
#include <vector>

#include "results/query_commands.h"

namespace hpo {
namespace query {

// ---------------------------------------------------------------------------
// PBT lineage.

namespace {

// A parameter value for the table: strings bare, numbers as tables show
// them (4 significant digits), a missing value "-", anything else as
// compact JSON.
std::string ChangedValue(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return hpo::ReadableNumber(value.get<double>());
  return value.dump();
}

// "lr 0.01->0.012, dropout 0.3->0.24"; "-" when nothing changed.
std::string ChangedText(const nlohmann::json& changed) {
  std::string text;
  for (const auto& [name, pair] : changed.items()) {
    if (!pair.is_array() || pair.size() != 2) continue;
    if (!text.empty()) text += ", ";
    text += name + " " + ChangedValue(pair[0]) + "->" + ChangedValue(pair[1]);
  }
  return text.empty() ? "-" : text;
}

}  // namespace

Answer ShowLineage(Query& query) {
  hpo::StudyRow study = ResolveStudy(query);
  const std::vector<hpo::ExploitRow> exploits = query.store->Exploits(study.id);
  Answer out;
  out.rows.columns = {{"trial"},
                      {"epoch"},
                      {"parent"},
                      {"parent_epoch"},
                      {"changed"},
                      {"old_params", /*spread=*/true},
                      {"new_params", /*spread=*/true},
                      {"recorded_at"}};
  hpo::ResultSet table;
  table.columns = {
      {"trial"}, {"epoch"}, {"parent"}, {"parent_epoch"}, {"changed"}};
  for (const hpo::ExploitRow& x : exploits) {
    const nlohmann::json changed =
        hpo::ChangedParams(x.old_params, x.new_params);
    ordered_json row;
    row["trial"] = x.trial;
    row["epoch"] = x.epoch;
    row["parent"] = x.parent;
    row["parent_epoch"] = x.parent_epoch;
    ordered_json line = row;
    line["changed"] = ChangedText(changed);
    table.rows.push_back(std::move(line));
    row["changed"] = Ordered(changed);
    row["old_params"] = Ordered(x.old_params);
    row["new_params"] = Ordered(x.new_params);
    row["recorded_at"] = x.recorded_at;
    out.rows.rows.push_back(std::move(row));
  }
  if (exploits.empty()) {
    out.sections.push_back(
        Note(study.algorithm == "pbt"
                 ? "study " + study.name + ": no exploits yet"
                 : "no exploits: study " + study.name +
                       " is not a PBT study (" + study.algorithm + ")"));
    return out;
  }
  const size_t n = exploits.size();
  out.sections.push_back(Table(
      "study " + study.name + ": " + std::to_string(n) +
          (n == 1 ? " exploit" : " exploits") +
          " (after epoch epochs, trial continued from parent's checkpoint "
          "after parent_epoch epochs)",
      std::move(table)));
  return out;
}

}  // namespace query
}  // namespace hpo
