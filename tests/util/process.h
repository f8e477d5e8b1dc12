// Real child processes for integration tests: started with fork/exec, output
// to files, stopped with real signals.
#ifndef HPO_TESTS_UTIL_PROCESS_H_
#define HPO_TESTS_UTIL_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hpo::testutil {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 10 ms for up to `seconds`; true once it holds.
inline bool WaitFor(const std::function<bool()>& done, double seconds) {
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class Process {
 public:
  // Runs `argv` with stdout and stderr appended to `log` (stdout to
  // `out` instead when given).
  Process(std::vector<std::string> argv, const std::string& log,
          const std::string& out = "")
      : argv_(std::move(argv)), log_(log) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int out_fd = out.empty()
                       ? fd
                       : open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out_fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (std::string& a : argv_) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() {
    if (!exit_code_) {
      kill(pid_, SIGKILL);
      Wait(10);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_; }
  std::string log() const { return ReadFile(log_); }

  void Signal(int sig) { kill(pid_, sig); }

  // Waits up to `seconds` for the process to end; returns its exit code
  // (128 + signal when killed), or nullopt if it still runs.
  std::optional<int> Wait(double seconds) {
    if (exit_code_) return exit_code_;
    WaitFor(
        [this] {
          int status = 0;
          pid_t r = waitpid(pid_, &status, WNOHANG);
          if (r == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                           : 128 + WTERMSIG(status);
          }
          return exit_code_.has_value();
        },
        seconds);
    return exit_code_;
  }

 private:
  std::vector<std::string> argv_;
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct CommandResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion; `dir` holds its output files.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const std::string& dir) {
  const std::string out = dir + "/cmd.out", err = dir + "/cmd.err";
  std::remove(out.c_str());
  std::remove(err.c_str());
  CommandResult r;
  {
    Process p(argv, err, out);
    r.code = p.Wait(120).value_or(-1);
  }
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_PROCESS_H_
