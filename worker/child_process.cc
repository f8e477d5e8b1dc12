#include "worker/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/clock.h"
#include "common/error.h"

namespace hpo {

namespace {

constexpr size_t kMaxLine = 1 << 20;  // Longer lines are cut here.
// After the program has ended, how long to wait for the end of its output
// (a descendant outside its group may hold the pipes open).
constexpr double kDrainSeconds = 2.0;

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

// argv[0] as execve needs it: looked up on `env`'s PATH unless it has a
// slash (then relative to `cwd`, as the child sees it after chdir).
std::string ResolveProgram(const std::string& program,
                           const std::vector<std::string>& env,
                           const std::string& cwd) {
  if (program.find('/') != std::string::npos) {
    const std::string seen =
        program[0] == '/' || cwd.empty() ? program : cwd + "/" + program;
    if (!IsExecutableFile(seen)) {
      throw BadInput("trainer.command[0]: " + program +
                     (access(seen.c_str(), F_OK) == 0
                          ? " is not an executable file (chmod +x it, or run "
                            "it with its interpreter: [\"python3\", ...])"
                          : " does not exist on this worker" +
                                (cwd.empty() ? std::string()
                                             : " (looked in " + cwd + ")")));
    }
    return program;
  }
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + program;
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  throw BadInput("trainer.command[0]: " + program +
                 " is not on this worker's PATH (" + path +
                 "); install it there or give its full path");
}

// Closes every descriptor from 3 up but the four in `keep`. Runs between
// fork and exec: no allocation, only system calls.
void CloseAllBut(int (&keep)[4], int max_fd) {
  for (int i = 1; i < 4; ++i) {  // Insertion sort.
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      const int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  }
  int from = 3;
  for (int fd : keep) {
    if (fd < from) continue;
    if (fd > from) {
      if (syscall(SYS_close_range, from, fd - 1, 0) != 0) {
        for (int i = from; i < fd; ++i) close(i);
      }
    }
    from = fd + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) != 0) {
    for (int i = from; i < max_fd; ++i) close(i);
  }
}

void WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void WriteText(int fd, const char* text) { WriteAll(fd, text, strlen(text)); }

}  // namespace

ChildProcess::ChildProcess(const Options& options) {
  if (options.argv.empty()) throw BadInput("trainer.command is empty");
  if (!options.cwd.empty()) {
    struct stat st;
    if (stat(options.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      throw BadInput("trainer.cwd: " + options.cwd +
                     " is not a directory on this worker");
    }
  }
  const std::string program =
      ResolveProgram(options.argv[0], options.env, options.cwd);

  // Everything the children need, built before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const std::string& a : options.argv) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : options.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  struct rlimit limit;
  const int max_fd =
      getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536
          ? static_cast<int>(limit.rlim_cur)
          : 65536;

  int out[2], err[2], status[2];
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || pipe2(out, O_CLOEXEC) != 0) {
    throw RuntimeFailure(std::string("cannot create a pipe: ") +
                         std::strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
    const int e = errno;
    close(out[0]);
    close(out[1]);
    close(devnull);
    throw RuntimeFailure(std::string("cannot create a pipe: ") +
                         std::strerror(e));
  }
  const pid_t worker = getpid();
  guardian_ = fork();
  if (guardian_ == 0) {
    // The guardian. Every signal is blocked: it waits for two of them
    // (its program's end, and the death of the thread that started it),
    // and the others (a Ctrl-C to the worker's group) must not kill it
    // before the worker has stopped its program.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != worker) _exit(1);  // The worker died already.
    close(out[0]);
    close(err[0]);
    close(status[0]);
    // It waits for its child's SIGCHLD whatever the worker did with it.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, nullptr);
    int keep[4] = {out[1], err[1], status[1], devnull};
    CloseAllBut(keep, max_fd);
    const pid_t guardian = getpid();
    const pid_t child = fork();
    if (child == 0) {
      // The program: its own group, killed with its guardian.
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != guardian) _exit(1);
      dup2(devnull, 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      struct sigaction dfl;
      memset(&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (cwd != nullptr && chdir(cwd) != 0) {
        WriteText(2, "hpo-worker: cannot enter the trainer's cwd\n");
        _exit(126);
      }
      execve(program.c_str(), argv.data(), envp.data());
      WriteText(2, "hpo-worker: cannot execute ");
      WriteText(2, program.c_str());
      WriteText(2, "\n");
      _exit(127);
    }
    if (child < 0) _exit(1);
    setpgid(child, child);
    const int32_t id = child;
    WriteAll(status[1], &id, sizeof id);
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGUSR1);
    for (;;) {
      siginfo_t info;
      const int sig = sigwaitinfo(&wanted, &info);
      if (sig == SIGUSR1) {
        // The worker (thread) is gone: so is everything it started.
        killpg(child, SIGKILL);
        waitpid(child, nullptr, 0);
        _exit(0);
      }
      if (sig != SIGCHLD) continue;
      siginfo_t ended;
      memset(&ended, 0, sizeof ended);
      if (waitid(P_PID, child, &ended, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          ended.si_pid != child) {
        continue;  // Stopped or continued, not ended.
      }
      // The program has ended but is not reaped, so its pid (the group's
      // id) cannot be reused: kill what it left in its group, then reap.
      killpg(child, SIGKILL);
      int wstatus = 0;
      while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
      }
      const int32_t code = wstatus;
      WriteAll(status[1], &code, sizeof code);
      _exit(0);
    }
  }
  const int fork_errno = errno;
  close(out[1]);
  close(err[1]);
  close(status[1]);
  close(devnull);
  fds_[0] = out[0];
  fds_[1] = err[0];
  fds_[2] = status[0];
  if (guardian_ < 0) {
    for (int& fd : fds_) close(fd);
    throw RuntimeFailure(std::string("cannot start the program: fork: ") +
                         std::strerror(fork_errno));
  }
  // The program's pid comes first on the status pipe.
  int32_t id = 0;
  size_t got = 0;
  while (got < sizeof id) {
    ssize_t n =
        read(fds_[2], reinterpret_cast<char*>(&id) + got, sizeof id - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof id) {
    Reap();
    for (int& fd : fds_) close(fd);
    throw RuntimeFailure("cannot start the program: its guardian failed");
  }
  pid_ = id;
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    Kill(SIGKILL);
    const double end = MonotonicSeconds() + 5;
    while (!exited_) {
      const double left = end - MonotonicSeconds();
      if (left <= 0 || Next(left).kind == Event::Kind::kTimeout) break;
    }
  }
  for (int& fd : fds_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  if (guardian_ > 0) {
    kill(guardian_, SIGKILL);
    Reap();
  }
}

void ChildProcess::Kill(int sig) {
  if (pid_ > 0 && !status_done_) killpg(pid_, sig);
}

void ChildProcess::Reap() {
  if (guardian_ <= 0) return;
  while (waitpid(guardian_, nullptr, 0) < 0 && errno == EINTR) {
  }
  guardian_ = -1;
}

void ChildProcess::ReadStatus() {
  char buffer[64];
  ssize_t n = read(fds_[2], buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0) {
    status_bytes_.append(buffer, static_cast<size_t>(n));
    return;
  }
  // End of file: the guardian has exited.
  close(fds_[2]);
  fds_[2] = -1;
  status_done_ = true;
  status_at_ = MonotonicSeconds();
  if (status_bytes_.size() >= sizeof(int32_t)) {
    int32_t wstatus;
    memcpy(&wstatus, status_bytes_.data(), sizeof wstatus);
    if (WIFEXITED(wstatus)) exit_code_ = WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) signal_ = WTERMSIG(wstatus);
  } else if (pid_ > 0) {
    // The guardian was killed; its program got SIGKILL with it.
    killpg(pid_, SIGKILL);
  }
  Reap();
}

bool ChildProcess::ReadStream(int index) {
  char buffer[65536];
  ssize_t n = read(fds_[index], buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  const auto kind = index == 0 ? Event::Kind::kStdout : Event::Kind::kStderr;
  std::string& partial = partial_[index];
  if (n <= 0) {
    if (!partial.empty()) ready_.push_back({kind, std::move(partial)});
    partial.clear();
    close(fds_[index]);
    fds_[index] = -1;
    return false;
  }
  size_t start = 0;
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    if (buffer[i] != '\n') continue;
    partial.append(buffer + start, i - start);
    if (partial.size() > kMaxLine) partial.resize(kMaxLine);
    ready_.push_back({kind, std::move(partial)});
    partial.clear();
    start = i + 1;
  }
  partial.append(buffer + start, static_cast<size_t>(n) - start);
  if (partial.size() > kMaxLine) {
    // A line this long is not the protocol's; keep its start.
    partial.resize(kMaxLine);
  }
  return true;
}

ChildProcess::Event ChildProcess::Next(double timeout_s,
                                       const std::atomic<bool>* cancel) {
  const double deadline = timeout_s < 0 ? -1 : MonotonicSeconds() + timeout_s;
  for (;;) {
    if (!ready_.empty()) {
      Event e = std::move(ready_.front());
      ready_.pop_front();
      return e;
    }
    if (exited_) return {Event::Kind::kExited, ""};
    if (status_done_ && MonotonicSeconds() - status_at_ > kDrainSeconds) {
      for (int i = 0; i < 2; ++i) {
        if (fds_[i] >= 0) close(fds_[i]);
        fds_[i] = -1;
      }
    }
    if (status_done_ && fds_[0] < 0 && fds_[1] < 0) {
      exited_ = true;
      continue;
    }
    if (cancel != nullptr && *cancel) return {Event::Kind::kCancel, ""};
    const double now = MonotonicSeconds();
    if (deadline >= 0 && now >= deadline) return {Event::Kind::kTimeout, ""};
    double wait = deadline < 0 ? 1.0 : deadline - now;
    if (cancel != nullptr) wait = std::min(wait, 0.05);
    if (status_done_) wait = std::min(wait, kDrainSeconds);
    pollfd polled[3];
    int index[3];
    nfds_t count = 0;
    for (int i = 0; i < 3; ++i) {
      if (fds_[i] < 0) continue;
      polled[count] = {fds_[i], POLLIN, 0};
      index[count++] = i;
    }
    const int ready =
        poll(polled, count, static_cast<int>(std::ceil(wait * 1000)));
    if (ready <= 0) continue;
    for (nfds_t k = 0; k < count; ++k) {
      if ((polled[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (index[k] == 2) {
        ReadStatus();
      } else {
        ReadStream(index[k]);
      }
    }
  }
}

void ChildProcess::Terminate(
    double grace_s, const std::function<void(const std::string&)>& on_line) {
  auto drain = [&](double seconds) {
    const double end = MonotonicSeconds() + seconds;
    while (!exited_) {
      const double left = end - MonotonicSeconds();
      if (left <= 0) return;
      Event e = Next(left);
      if (e.kind == Event::Kind::kTimeout) return;
      if (!on_line) continue;
      if (e.kind == Event::Kind::kStdout) on_line(e.line);
      if (e.kind == Event::Kind::kStderr) on_line("stderr: " + e.line);
    }
  };
  if (exited_) return;
  Kill(SIGTERM);
  drain(grace_s);
  if (exited_) return;
  Kill(SIGKILL);
  drain(10);
}

std::string ChildProcess::Describe() const {
  if (exit_code_) return "exit code " + std::to_string(*exit_code_);
  if (signal_) {
    const char* name = sigabbrev_np(*signal_);
    return std::string("killed by ") +
           (name ? std::string("SIG") + name : std::to_string(*signal_));
  }
  return "ended (its guardian was killed)";
}

}  // namespace hpo
