// Runs the real hpo-coordinator binary: --plan output, exit codes and
// messages for bad study files, and that every study under studies/ plans.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Output {
  int exit_code;
  std::string text;  // stdout, then stderr.
};

Output RunCoordinator(const std::string& args) {
  std::string command = std::string(HPO_COORDINATOR) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string text;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    text.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

std::string WriteStudy(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const char kHyperband81[] = R"({
  "name": "hb81", "seed": 1,
  "objective": {"metric": "val_accuracy", "mode": "max"},
  "search_space": {"lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1}},
  "algorithm": {"type": "hyperband", "min_epochs": 1, "max_epochs": 81, "eta": 3}
})";

TEST(CoordinatorPlanTest, HyperbandPlanIsThePapersTable) {
  Output out =
      RunCoordinator("--plan --study " + WriteStudy("hb81.json", kHyperband81));
  ASSERT_EQ(out.exit_code, 0) << out.text;
  auto plan = nlohmann::json::parse(out.text);
  EXPECT_EQ(plan["algorithm"], "hyperband");
  EXPECT_EQ(plan["brackets"].size(), 5u);
  EXPECT_EQ(plan["brackets"][1]["rungs"][0]["trials"], 34);
  EXPECT_EQ(plan["brackets"][4]["rungs"][0],
            (nlohmann::json{{"trials", 5}, {"epochs", 81}}));
  EXPECT_EQ(plan["total_epochs"], 1581);
}

TEST(CoordinatorPlanTest, InvalidStudyExitsTwoWithEveryProblem) {
  std::string path = WriteStudy("bad.json", R"({
    "name": "bad",
    "objective": {"metric": "val_accuracy", "mode": "max"},
    "search_space": {"lr": {"type": "loguniform", "low": 0, "high": 1e-1}},
    "algorithm": {"typ": "hyperband", "type": "hyperband", "max_epochs": 27}
  })");
  Output out = RunCoordinator("--plan --study " + path);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.text.find(path + ": search_space.lr.low: must be > 0 for "
                                 "loguniform (got 0)"),
            std::string::npos)
      << out.text;
  EXPECT_NE(out.text.find(path + ": algorithm.typ: unknown key (did you mean "
                                 "\"type\"?)"),
            std::string::npos)
      << out.text;
}

TEST(CoordinatorPlanTest, NonJsonFileGivesLineAndColumn) {
  std::string path =
      WriteStudy("broken.json", "{\n  \"name\": \"x\"\n  \"seed\": 1\n}\n");
  Output out = RunCoordinator("--plan --study " + path);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.text.rfind(path + ":3:8: not valid JSON", 0), 0u) << out.text;
}

TEST(CoordinatorPlanTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCoordinator("--plan").exit_code, 2);
  EXPECT_EQ(RunCoordinator("--study").exit_code, 2);
  EXPECT_EQ(RunCoordinator("--no-such-flag").exit_code, 2);
  EXPECT_EQ(RunCoordinator("--plan --study /nonexistent.json").exit_code, 2);
  Output help = RunCoordinator("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.text.find("--study"), std::string::npos);
}

TEST(CoordinatorPlanTest, DbSyncMustBeNormalOrFull) {
  const std::string study = WriteStudy("sync.json", kHyperband81);
  const std::string db = testing::TempDir() + "/sync.db";
  std::remove(db.c_str());
  Output out = RunCoordinator("--study " + study + " --db " + db +
                              " --db-sync sometimes");
  EXPECT_EQ(out.exit_code, 2) << out.text;
  EXPECT_NE(out.text.find("--db-sync sometimes: expected normal or full"),
            std::string::npos)
      << out.text;
  // Refused before the database was created.
  EXPECT_FALSE(std::ifstream(db).good());
}

TEST(CoordinatorPlanTest, EveryStudyFileValidatesAndPlans) {
  std::string dir = std::string(HPO_SOURCE_DIR) + "/studies";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  int count = 0;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    Output out = RunCoordinator("--plan --study " + dir + "/" + name);
    EXPECT_EQ(out.exit_code, 0) << name << ": " << out.text;
    ++count;
  }
  closedir(d);
  EXPECT_GT(count, 0);
}

}  // namespace
