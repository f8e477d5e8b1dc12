// hpo-worker's service: connects a ZeroMQ DEALER to the coordinator
// (common/zmq_transport.h) and runs the worker's logic (worker/worker_core.h)
// on it: hello, up to `slots` trials at once, their metrics, the
// coordinator's decisions.
#ifndef HPO_WORKER_WORKER_H_
#define HPO_WORKER_WORKER_H_

#include <atomic>
#include <string>

namespace hpo {

struct WorkerOptions {
  std::string connect;  // Coordinator endpoint, e.g. tcp://head:5555.
  std::string name;     // Shown in logs and the workers table.
  std::string host;
  // The device trials train on ("cpu" or "cuda:N": ResolveDevice's, never
  // "auto"), sent in hello and logged at start with why it was chosen.
  std::string device = "cpu";
  std::string device_reason;
  std::string data_dir = ".";
  // Where trials save and restore checkpoints; empty: DATA_DIR/checkpoints.
  // Must be the same shared directory on every worker of a study.
  std::string checkpoint_dir;
  int slots = 1;
  int threads = 0;
  bool exit_when_done = false;
  // Run studies whose trainer is a command (`trainer.command`); refused
  // otherwise, since a study file could run any program on the worker.
  bool allow_commands = false;
  // Seconds between hellos while no coordinator answers.
  double hello_interval_s = 1.0;
  // CurveZMQ, all three or none (Z85 keys, read by hpo-worker from the
  // files hpo-keygen writes): this worker's key pair, and the coordinator's
  // public key, which authenticates the coordinator to the worker.
  std::string curve_public;
  std::string curve_secret;
  std::string server_public;
};

// Runs until `stop` becomes true (returns 0 after abandoning running trials)
// or, with exit_when_done, until a study ends (returns 0). Returns 2 when the
// coordinator speaks another protocol version. Throws hpo::Error for a bad
// endpoint.
int RunWorker(const WorkerOptions& options, const std::atomic<int>& stop);

}  // namespace hpo

#endif  // HPO_WORKER_WORKER_H_
