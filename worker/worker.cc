#include "worker/worker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/protocol.h"
#include "common/zmq_transport.h"
#include "worker/worker_core.h"

namespace hpo {

namespace {

void Log(const std::string& name, const std::string& line) {
  std::cerr << ("hpo-worker " + name + ": " + line + "\n") << std::flush;
}

// A pipe the trial threads write a byte to when they have output, so the
// loop's poll wakes at once rather than at its next timeout.
class WakePipe {
 public:
  WakePipe() {
    if (pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw RuntimeFailure(std::string("hpo-worker: cannot create a pipe: ") +
                           std::strerror(errno));
    }
  }
  ~WakePipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;

  int read_fd() const { return fds_[0]; }
  // Thread-safe. A full pipe already wakes the loop.
  void Wake() { (void)!write(fds_[1], "x", 1); }
  void Drain() {
    char buf[256];
    while (read(fds_[0], buf, sizeof buf) > 0) {
    }
  }

 private:
  int fds_[2] = {-1, -1};
};

int Serve(const WorkerOptions& options, const std::atomic<int>& stop) {
  const std::string name = options.name;
  auto log = [name](const std::string& line) { Log(name, line); };
  zmq::context_t context(1);
  // A stable routing id for this process, so a reconnection after a network
  // blip is the same worker to the coordinator.
  DealerEndpoint dealer(
      context, "w" + std::to_string(NewLease()),
      {options.curve_public, options.curve_secret, options.server_public}, log);
  dealer.Connect(options.connect);
  WakePipe wake;  // Outlives the core, whose trial threads call it.
  SystemClock clock;
  WorkerCore core(options, dealer, clock, log, [&wake] { wake.Wake(); });
  log("connecting to " + options.connect + " with " +
      std::to_string(options.slots) + " slot(s) on " + options.device +
      (options.device_reason.empty() ? ""
                                     : " (" + options.device_reason + ")"));
  zmq::pollitem_t items[] = {{dealer.socket().handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, wake.read_fd(), ZMQ_POLLIN, 0}};
  std::string bytes;
  while (true) {
    if (stop != 0) {
      core.Stop();
      log("stopping");
      return 0;
    }
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (items[1].revents & ZMQ_POLLIN) wake.Drain();
    core.OnTrialOutput();
    for (int i = 0; i < 1024 && dealer.Receive(&bytes); ++i) {
      if (std::optional<int> exit = core.OnMessage(bytes)) return *exit;
    }
    core.Tick();
    dealer.RetryFailedHandshake();
  }
}

}  // namespace

int RunWorker(const WorkerOptions& options, const std::atomic<int>& stop) {
  return Serve(options, stop);
}

}  // namespace hpo
