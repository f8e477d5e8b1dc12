// Resources a test names after its process id (network namespaces, mount
// points) so that the next run can clean up after one that was killed.
#ifndef HPO_TESTS_UTIL_LEFTOVERS_H_
#define HPO_TESTS_UTIL_LEFTOVERS_H_

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace hpo::testutil {

// True while process `pid` runs: it exists and is not a zombie waiting to
// be reaped (a test killed with SIGKILL is one for a while).
inline bool OwnerRuns(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // No /proc: assume it runs.
  // "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
  const size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ||
         line[close + 2] != 'Z';
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_LEFTOVERS_H_
