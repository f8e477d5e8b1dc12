// A program hpo-worker runs for a job (the command trainer), in a process
// group of its own, with its stdout and stderr read line by line.
//
// No orphans: between the worker and the program sits a small guardian
// process (a fork of the worker that never execs). The kernel tells the
// guardian when the worker thread that started it dies (PR_SET_PDEATHSIG),
// however it dies, SIGKILL included; the guardian then kills the program's
// whole process group. When the program exits by itself, the guardian kills
// what it left running in its group before reporting the exit status. Only
// processes that leave the group (setsid, setpgid) escape.
//
// A ChildProcess is used from one thread, the one that created it (the
// guardian watches that thread).
#ifndef HPO_WORKER_CHILD_PROCESS_H_
#define HPO_WORKER_CHILD_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hpo {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is looked up on PATH
                                    // (of `env`) unless it has a '/'.
    std::vector<std::string> env;   // NAME=value, the whole environment.
    std::string cwd;                // Empty: the worker's own.
  };

  // What the program did next.
  struct Event {
    enum class Kind {
      kStdout,   // A line on stdout (`line`, without its newline).
      kStderr,   // A line on stderr.
      kExited,   // It has ended and its output is read: see exit_code() etc.
      kTimeout,  // Nothing within the time asked for.
      kCancel,   // The cancel flag became true.
    };
    Kind kind = Kind::kTimeout;
    std::string line;
  };

  // Starts the program. Throws hpo::Error (bad input) for a program that is
  // not found or not executable, or a cwd that is not a directory, and
  // hpo::RuntimeFailure when fork or pipe fail.
  explicit ChildProcess(const Options& options);
  // Kills the group (SIGKILL) if it still runs and reaps it.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line or the end, waiting at most `timeout_s` (< 0: no limit)
  // and returning kCancel soon after `*cancel` becomes true.
  Event Next(double timeout_s, const std::atomic<bool>* cancel = nullptr);

  // SIGTERM to the group, then SIGKILL if the program has not ended after
  // `grace_s`; returns once it has ended. Output read meanwhile goes to
  // `on_line` (stderr lines prefixed with "stderr: ") unless it is null.
  void Terminate(double grace_s,
                 const std::function<void(const std::string&)>& on_line = {});

  bool exited() const { return exited_; }
  pid_t pid() const { return pid_; }  // The program's; its group's id too.
  // After kExited: the exit code, or the signal that ended it (one of the
  // two is set), or neither when the guardian itself was killed.
  std::optional<int> exit_code() const { return exit_code_; }
  std::optional<int> signal() const { return signal_; }
  // "exit code 3", "killed by SIGKILL", ...
  std::string Describe() const;

 private:
  void ReadStatus();
  bool ReadStream(int index);  // false at end of file.
  void Kill(int sig);
  void Reap();

  pid_t guardian_ = -1;
  pid_t pid_ = -1;
  int fds_[3] = {-1, -1, -1};  // stdout, stderr, status (read ends).
  std::string partial_[2];
  std::deque<Event> ready_;
  std::string status_bytes_;
  bool status_done_ = false;
  bool exited_ = false;
  double status_at_ = 0;  // When the status came (monotonic seconds).
  std::optional<int> exit_code_;
  std::optional<int> signal_;
};

}  // namespace hpo

#endif  // HPO_WORKER_CHILD_PROCESS_H_
