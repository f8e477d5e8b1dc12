// The study files under studies/: each one validates (in process with
// LoadStudyFile, and through the real hpo-coordinator --plan), plans a
// non-empty schedule, offers only values the trainer accepts, and says in its
// description how to make the shards it trains on. Files are found by listing
// the directory, so a new study is covered without touching this test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/study_spec.h"
#include "common/train_config.h"
#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string StudiesDir() { return std::string(HPO_SOURCE_DIR) + "/studies"; }

// Every *.json under studies/, sorted.
std::vector<fs::path> StudyFiles() {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(StudiesDir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool UsesLibTorch(const StudySpec& spec) {
  return spec.trainer.value("model", "") != "synthetic";
}

// The values a parameter can take that are worth checking one by one: every
// choice and grid value, and both ends of a range.
std::vector<json> EdgeValues(const ParamSpec& param) {
  if (param.type == ParamType::kChoice) return param.values;
  std::vector<json> values = param.grid;
  if (param.type == ParamType::kInt) {
    values.push_back(static_cast<int64_t>(param.low));
    values.push_back(static_cast<int64_t>(param.high));
  } else {
    values.push_back(param.low);
    values.push_back(param.high);
  }
  return values;
}

// True if `text` holds `option` + `value` as a whole word, e.g. "--out
// shards/x" but not "--out shards/x_44k".
bool HasOption(const std::string& text, const std::string& option,
               const std::string& value) {
  const std::string needle = option + " " + value;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    if (end == text.size()) return true;
    const char next = text[end];
    if (!std::isalnum(static_cast<unsigned char>(next)) && next != '_' &&
        next != '-' && next != '/') {
      return true;
    }
  }
  return false;
}

TEST(StudiesTest, DirectoryHoldsTheDesignsStudies) {
  std::vector<std::string> names;
  for (const fs::path& file : StudyFiles()) {
    names.push_back(file.filename().string());
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "lr_sweep.json"),
            names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "demo.json"), names.end());
  // A file per seed study (../shared/seeds/000 .. 004); seed 001 also
  // has its BOHB variant, seed 004 one per input it compared.
  for (const auto& [seed, files] :
       std::vector<std::pair<std::string, int>>{{"seed000_", 1},
                                                {"seed001_", 2},
                                                {"seed002_", 1},
                                                {"seed003_", 1},
                                                {"seed004_", 3}}) {
    const auto count = std::count_if(
        names.begin(), names.end(),
        [&](const std::string& n) { return n.rfind(seed, 0) == 0; });
    EXPECT_EQ(count, files) << "studies/" << seed << "*.json";
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "seed001_bohb.json"),
            names.end());
}

TEST(StudiesTest, EveryStudyParsesAndOffersOnlyValidTrainerSettings) {
  const std::vector<fs::path> files = StudyFiles();
  ASSERT_FALSE(files.empty()) << StudiesDir();
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    StudySpec spec;
    try {
      spec = LoadStudyFile(file.string());
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    // The study's name is its file's name, so `hpo-query --study` is
    // predictable from the file.
    EXPECT_EQ(spec.name, file.stem().string());
    EXPECT_FALSE(spec.description.empty());
    if (!UsesLibTorch(spec)) continue;

    // Each value of each parameter, laid over the fixed settings, is one the
    // trainer accepts (ParseStudy checks the fixed settings and the
    // parameter names, not what a trial will receive).
    for (const ParamSpec& param : spec.search_space.params) {
      for (const json& value : EdgeValues(param)) {
        // A list element comes with its list's other elements (each at
        // its first edge value), so the trainer sees a whole list.
        json params = json::object();
        if (!param.list.empty()) {
          for (const ParamSpec* e : spec.search_space.Elements(param.list)) {
            params[e->name] = EdgeValues(*e).front();
          }
        }
        params[param.name] = value;
        try {
          ParseTrainConfig(spec.trainer, params, file.string());
        } catch (const Error& e) {
          ADD_FAILURE() << param.name << " = " << value.dump() << ": "
                        << e.what();
        }
      }
    }
    // A real study names its shards and says which hpo-prep command makes
    // them (--out is relative to the workers' --data directory).
    ASSERT_FALSE(spec.data_shards.empty()) << "no data.shards";
    EXPECT_NE(spec.description.find("hpo-prep "), std::string::npos)
        << spec.description;
    EXPECT_TRUE(HasOption(spec.description, "--out", spec.data_shards))
        << "the description's hpo-prep command should write --out "
        << spec.data_shards << ": " << spec.description;
  }
}

TEST(StudiesTest, EveryStudyPlansWithTheCoordinator) {
  testutil::ScratchDir scratch("studies");
  const std::vector<fs::path> files = StudyFiles();
  ASSERT_FALSE(files.empty()) << StudiesDir();
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    testutil::CommandResult r = testutil::RunCommand(
        {HPO_COORDINATOR, "--study", file.string(), "--plan"}, scratch.path());
    ASSERT_EQ(r.code, 0) << r.err;
    json plan;
    try {
      plan = json::parse(r.out);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "--plan did not print JSON: " << e.what() << "\n"
                    << r.out;
      continue;
    }
    const StudySpec spec = LoadStudyFile(file.string());
    EXPECT_EQ(plan.value("algorithm", ""), ToString(spec.algorithm.type));
    // Bracket algorithms list rungs; the others count trials.
    int64_t first_rung_trials = 0;
    for (const json& bracket : plan.value("brackets", json::array())) {
      ASSERT_FALSE(bracket["rungs"].empty()) << plan.dump();
      const json& rung = bracket["rungs"][0];
      first_rung_trials += rung.value("trials", int64_t{0}) +
                           rung.value("expected_trials", int64_t{0});
    }
    EXPECT_GT(first_rung_trials + plan.value("trials", int64_t{0}), 0)
        << plan.dump();
    EXPECT_GT(plan.value("total_epochs", int64_t{0}) +
                  plan.value("expected_total_epochs", int64_t{0}) +
                  plan.value("max_total_epochs", int64_t{0}),
              0)
        << plan.dump();
  }
}

}  // namespace
}  // namespace hpo
