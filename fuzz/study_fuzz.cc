// libFuzzer target for study files: the bytes of a study file, read the way
// LoadStudyFile() reads one, and a trainer object as ParseTrainConfig() gets
// it from a welcome message's spec and an assign message's params.
//
// Contract checked: ParseJsonText(), ParseStudy() and ParseTrainConfig()
// return or throw hpo::Error (a ValidationError for bad contents); they never
// crash, hang or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/json_util.h"
#include "common/study_spec.h"
#include "common/train_config.h"

namespace {

using nlohmann::json;

void Study(const json& study) {
  try {
    const hpo::StudySpec spec = hpo::ParseStudy(study, "fuzz.json");
    // What --plan and the store print of a valid study.
    (void)spec.trainer.dump();
    for (const hpo::ParamSpec& p : spec.search_space.params) {
      (void)hpo::ToString(p.type);
    }
    (void)hpo::ToString(spec.algorithm.type);
  } catch (const hpo::Error&) {
  }
}

// The study's "trainer" with the top-level "params" laid over it, as a
// worker merges a trial's parameters; any JSON may stand in for either.
void Trainer(const json& study) {
  json trainer = json::object();
  json params = json::object();
  if (study.is_object()) {
    trainer = study.contains("trainer") ? study["trainer"] : study;
    if (study.contains("params")) params = study["params"];
  } else if (study.is_array() && study.size() == 2) {
    trainer = study[0];
    params = study[1];
  }
  try {
    (void)hpo::ParseTrainConfig(trainer, params, "fuzz.json");
  } catch (const hpo::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json study;
  try {
    study = hpo::ParseJsonText(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const hpo::Error&) {
    return 0;  // Not JSON, or a key given twice.
  }
  Study(study);
  Trainer(study);
  return 0;
}
