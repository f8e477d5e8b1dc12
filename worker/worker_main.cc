// hpo-worker: trains the trials a coordinator assigns (README.md, "Workers on
// other nodes and on GPUs").
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <zmq.hpp>

#include "common/command_line.h"
#include "common/curve_keys.h"
#include "common/error.h"
#include "worker/device.h"
#include "worker/malloc_tuning.h"
#include "worker/worker.h"

namespace po = boost::program_options;

namespace {

constexpr char kUsage[] =
    "Usage: hpo-worker --connect tcp://HOST:5555 [--data DIR] "
    "[--checkpoints DIR] "
    "[--device auto|cpu|cuda|cuda:N] [--slots N] [--threads N] [--name NAME] "
    "[--exit-when-done] [--allow-commands]\n"
    "       [--curve-public FILE.pub --curve-secret FILE.key "
    "--server-public FILE.pub]\n";

std::atomic<int> g_signal{0};

extern "C" void OnSignal(int sig) { g_signal = sig; }

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

// Reads --curve-public, --curve-secret and --server-public (all or none)
// into `o`. Throws hpo::Error (bad input) naming the file and the fix.
void ReadCurveKeys(const po::variables_map& vm, hpo::WorkerOptions& o) {
  const int given =
      static_cast<int>(vm.count("curve-public") + vm.count("curve-secret") +
                       vm.count("server-public"));
  if (given == 0) return;
  if (given != 3) {
    throw hpo::BadInput(
        "hpo-worker: --curve-public, --curve-secret and --server-public go "
        "together (this worker's key pair from hpo-keygen --out NAME, and "
        "the coordinator's .pub file)");
  }
  hpo::RequireCurve("hpo-worker");
  auto read = [&](const char* option, auto reader) {
    const std::string file = vm[option].as<std::string>();
    try {
      return reader(file);
    } catch (const hpo::Error& e) {
      throw hpo::BadInput("hpo-worker: --" + std::string(option) + " " +
                          e.what());
    }
  };
  const hpo::CurveKeyPair own = read("curve-secret", hpo::ReadSecretKeyFile);
  o.curve_public = read("curve-public", hpo::ReadPublicKeyFile);
  o.server_public = read("server-public", hpo::ReadPublicKeyFile);
  if (o.curve_public != own.public_key) {
    throw hpo::BadInput("hpo-worker: --curve-public " +
                        vm["curve-public"].as<std::string>() +
                        " is not the public key of --curve-secret " +
                        vm["curve-secret"].as<std::string>() +
                        " (give the NAME.pub and NAME.key that hpo-keygen "
                        "wrote together)");
  }
  o.curve_secret = own.secret_key;
}

int Main(int argc, char** argv) {
  // Before anything allocates: training steps reuse their buffers.
  hpo::RetainFreedMemory();
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "connect", po::value<std::string>(),
      "coordinator endpoint, e.g. tcp://head:5555 (required)")(
      "data", po::value<std::string>()->default_value("."),
      "directory that the studies' data paths are relative to")(
      "checkpoints", po::value<std::string>(),
      "shared checkpoint directory (default DATA/checkpoints)")(
      "device", po::value<std::string>()->default_value("auto"),
      "auto, cpu, cuda or cuda:N")("slots", po::value<int>()->default_value(1),
                                   "trials to run at once")(
      "threads", po::value<int>()->default_value(0),
      "compute threads per trial (0: the library's default)")(
      "name", po::value<std::string>(),
      "name in logs and the results database (default HOST-PID)")(
      "exit-when-done",
      "exit 0 when the study is over, instead of waiting "
      "for the next one")(
      "allow-commands",
      "run studies whose trainer is a command of their own "
      "(trainer.command); off by default, since a study file could then "
      "run any program on this worker")(
      "curve-public", po::value<std::string>(),
      "this worker's public key file (hpo-keygen), for a coordinator with "
      "CurveZMQ keys")("curve-secret", po::value<std::string>(),
                       "this worker's secret key file (mode 0600)")(
      "server-public", po::value<std::string>(),
      "the coordinator's public key file");
  const po::variables_map vm =
      hpo::ParseCommandLine("hpo-worker", argc, argv, options);
  if (vm.count("help")) {
    std::cout << kUsage << "\nTrains the trials that a coordinator assigns.\n\n"
              << options;
    return 0;
  }
  if (!vm.count("connect")) {
    throw hpo::BadInput(
        "hpo-worker: --connect ENDPOINT is required, e.g. --connect "
        "tcp://127.0.0.1:5555 (see --help)");
  }
  hpo::WorkerOptions o;
  o.connect = vm["connect"].as<std::string>();
  o.data_dir = vm["data"].as<std::string>();
  if (vm.count("checkpoints")) {
    o.checkpoint_dir = vm["checkpoints"].as<std::string>();
  }
  o.device = vm["device"].as<std::string>();
  o.slots = vm["slots"].as<int>();
  o.threads = vm["threads"].as<int>();
  o.exit_when_done = vm.count("exit-when-done") > 0;
  o.allow_commands = vm.count("allow-commands") > 0;
  o.host = HostName();
  o.name = vm.count("name") ? vm["name"].as<std::string>()
                            : o.host + "-" + std::to_string(getpid());
  const hpo::DeviceChoice device = hpo::ResolveDevice(o.device);
  o.device = device.device;
  o.device_reason = device.reason;
  if (o.slots < 1 || o.slots > 256) {
    throw hpo::BadInput("hpo-worker: --slots must be from 1 to 256 (got " +
                        std::to_string(o.slots) + ")");
  }
  if (o.threads < 0) {
    throw hpo::BadInput("hpo-worker: --threads must be 0 or more");
  }
  ReadCurveKeys(vm, o);
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return hpo::RunWorker(o, g_signal);
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-worker", [&] {
    try {
      return Main(argc, argv);
    } catch (const zmq::error_t& e) {
      throw hpo::RuntimeFailure(std::string("ZeroMQ: ") + e.what());
    }
  });
}
