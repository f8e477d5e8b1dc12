// A fixture for tests that run real hpo-coordinator and hpo-worker processes
// (HPO_COORDINATOR and HPO_WORKER, the binaries' paths, are compile
// definitions of the test target) in a scratch directory, talking over real
// ZeroMQ sockets on loopback. Every process is killed when the test ends;
// its logs are kept, and their directory printed, when the test fails.
#ifndef HPO_TESTS_UTIL_PROCESS_CLUSTER_H_
#define HPO_TESTS_UTIL_PROCESS_CLUSTER_H_

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/study_checks.h"

namespace hpo {
namespace testutil {

// Runs the study file `study` to the end on a coordinator (DIR/coordinator.log,
// results in `db`) and two LibTorch CPU workers w1 and w2 (DIR/w1.log,
// DIR/w2.log; --data `data`, one thread, --exit-when-done), all on loopback.
// Fails the test when the study does not finish within `seconds` or any of
// the three exits other than 0. Returns the logs, coordinator's first.
inline std::string RunStudyOnTwoCpuWorkers(const std::string& study,
                                           const std::string& db,
                                           const std::string& data,
                                           const std::string& dir,
                                           double seconds) {
  const std::string log = dir + "/coordinator.log";
  std::vector<std::unique_ptr<Process>> processes;
  processes.push_back(std::make_unique<Process>(
      std::vector<std::string>{HPO_COORDINATOR, "--study", study, "--db", db,
                               "--bind", "tcp://127.0.0.1:*"},
      log));
  const std::string endpoint = WaitForEndpoint(log, 20, processes[0].get());
  EXPECT_FALSE(endpoint.empty()) << ReadFile(log);
  if (endpoint.empty()) return ReadFile(log);
  for (const char* worker : {"w1", "w2"}) {
    processes.push_back(std::make_unique<Process>(
        std::vector<std::string>{HPO_WORKER, "--connect", endpoint, "--name",
                                 worker, "--data", data, "--device", "cpu",
                                 "--threads", "1", "--exit-when-done"},
        dir + "/" + worker + ".log"));
  }
  auto code = processes[0]->Wait(seconds);
  EXPECT_TRUE(code.has_value()) << "the study did not finish\n"
                                << ReadFile(log);
  EXPECT_EQ(code.value_or(-1), 0) << ReadFile(log);
  for (size_t i = 1; i < processes.size(); ++i) {
    EXPECT_EQ(processes[i]->Wait(30).value_or(-1), 0) << processes[i]->log();
  }
  return ReadFile(log) + processes[1]->log() + processes[2]->log();
}

class ProcessClusterTest : public ::testing::Test {
 protected:
  explicit ProcessClusterTest(const std::string& prefix) : scratch_(prefix) {}

  void SetUp() override { ASSERT_FALSE(dir_.empty()); }
  void TearDown() override {
    processes_.clear();
    if (HasFailure()) {
      scratch_.Keep();
      std::cerr << "logs kept in " << dir_ << "\n";
    }
  }

  // Writes `study` to `file` in the scratch directory; returns its path.
  std::string WriteStudy(const nlohmann::json& study, const std::string& file) {
    const std::string path = dir_ + "/" + file;
    std::ofstream(path) << study.dump(2);
    return path;
  }

  // Starts a coordinator (log: coordinator-N.log) and returns it, with the
  // endpoint it bound. `extra` follows --study, --db and --bind.
  Process* StartCoordinator(const std::string& study, const std::string& db,
                            const std::string& bind, bool resume,
                            std::string* endpoint,
                            const std::vector<std::string>& extra = {}) {
    const std::string log =
        dir_ + "/coordinator-" + std::to_string(++coordinators_) + ".log";
    std::vector<std::string> argv = {
        HPO_COORDINATOR, "--study", study, "--db", db, "--bind", bind};
    if (resume) argv.push_back("--resume");
    argv.insert(argv.end(), extra.begin(), extra.end());
    processes_.push_back(std::make_unique<Process>(argv, log));
    *endpoint = WaitForEndpoint(log, 20);
    EXPECT_FALSE(endpoint->empty()) << ReadFile(log);
    return processes_.back().get();
  }

  // Starts a worker named `name` (log: NAME.log) with `extra` options.
  Process* StartWorker(const std::string& endpoint, const std::string& name,
                       const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {HPO_WORKER, "--connect", endpoint,
                                     "--name", name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    processes_.push_back(
        std::make_unique<Process>(argv, dir_ + "/" + name + ".log"));
    return processes_.back().get();
  }

  ScratchDir scratch_;
  const std::string dir_ = scratch_.path();
  int coordinators_ = 0;
  std::vector<std::unique_ptr<Process>> processes_;
};

}  // namespace testutil
}  // namespace hpo

#endif  // HPO_TESTS_UTIL_PROCESS_CLUSTER_H_
