// hpo-coordinator: plans (--plan) or runs a study: binds a ZeroMQ ROUTER,
// hands trials to the workers that connect, and records everything in the
// SQLite results database (--db). Ctrl-C or SIGTERM stops it cleanly; run
// it again with --resume to continue.
//
// With --curve-secret and --authorized-workers the ROUTER is a CurveZMQ
// server: traffic is encrypted and only workers whose public keys are in the
// directory may connect (coordinator/zap_auth.h). Every peer's messages are
// rate-limited before they are decoded (coordinator/rate_limit.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "common/command_line.h"
#include "common/curve_keys.h"
#include "common/error.h"
#include "common/json_util.h"
#include "common/store.h"
#include "common/study_spec.h"
#include "common/zmq_transport.h"
#include "coordinator/coordinator.h"
#include "coordinator/endpoint_policy.h"
#include "coordinator/rate_limit.h"
#include "coordinator/zap_auth.h"
#include "search/scheduler.h"

namespace po = boost::program_options;

namespace {

constexpr char kUsage[] =
    "Usage: hpo-coordinator --study FILE.json [--db results.db] "
    "[--db-sync normal|full] [--bind tcp://127.0.0.1:5555] [--resume] "
    "[--plan]\n"
    "       [--curve-secret FILE.key --authorized-workers DIR] "
    "[--worker-rate-limit N]\n";

// What Run() needs beyond the study.
struct NetworkOptions {
  std::string bind;
  std::optional<hpo::CurveKeyPair> curve;  // The coordinator's own keys.
  std::string authorized_dir;
  double rate = 0;  // Messages per second per peer; 0: no limit.
};

// --db-sync.
hpo::Durability ParseDurability(const std::string& value) {
  if (value == "normal") return hpo::Durability::kNormal;
  if (value == "full") return hpo::Durability::kFull;
  throw hpo::BadInput("hpo-coordinator: --db-sync " + value +
                      ": expected normal or full");
}

std::atomic<int> g_signal{0};

extern "C" void OnSignal(int sig) { g_signal = sig; }

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Tells the user when the trial budget changes the plan.
void WarnAboutBudget(const nlohmann::ordered_json& plan) {
  if (!plan.contains("budget_cut")) return;
  const auto& cut = plan["budget_cut"];
  std::cerr << "hpo-coordinator: warning: budget.max_trials ("
            << cut["max_trials"] << ") cuts this plan from "
            << cut["trials_without_budget"]
            << " trials; the schedule shown is what will run\n";
}

// A routing id as it can be printed: hpo-worker's are text ("w123..."),
// ZeroMQ's own are binary.
std::string PeerName(const std::string& identity) {
  bool text = !identity.empty();
  for (unsigned char c : identity) text = text && c >= 0x20 && c < 0x7f;
  if (text) return identity;
  std::string hex = "0x";
  for (unsigned char c : identity) {
    const char* digits = "0123456789abcdef";
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

std::string FormatDuration(double seconds) {
  long s = std::lround(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
                s % 60);
  return buf;
}

std::string ProgressLine(const hpo::StudySpec& spec,
                         const hpo::CoordinatorStats& s, double rate) {
  char buf[512];
  std::string best = "none yet";
  if (s.best_trial >= 0) {
    char b[96];
    std::snprintf(b, sizeof b, "%.4g (trial %lld)", s.best_value,
                  static_cast<long long>(s.best_trial));
    best = b;
  }
  std::string planned =
      s.planned_trials > 0 ? "/" + std::to_string(s.planned_trials) : "";
  std::snprintf(
      buf, sizeof buf,
      "%s %s | trials %lld%s: %lld complete, %lld pruned, %lld failed, "
      "%lld running, %lld queued | best %s %s | workers %lld (%lld slots) | "
      "%.1f epochs/s",
      spec.name.c_str(), FormatDuration(s.elapsed_s).c_str(),
      static_cast<long long>(s.trials), planned.c_str(),
      static_cast<long long>(s.complete), static_cast<long long>(s.pruned),
      static_cast<long long>(s.failed), static_cast<long long>(s.running),
      static_cast<long long>(s.queued), spec.objective.metric.c_str(),
      best.c_str(), static_cast<long long>(s.workers),
      static_cast<long long>(s.slots), rate);
  if (s.evaluating_trial >= 0) {
    return std::string(buf) + " | evaluating trial " +
           std::to_string(s.evaluating_trial) + " on the test split";
  }
  return buf;
}

// Hands what is waiting on the socket to the coordinator, a bounded batch
// at a time. A peer over its rate limit has its messages dropped unread.
void ReceiveAll(hpo::RouterEndpoint& router, hpo::Coordinator& coordinator,
                hpo::RateLimiter& limiter, double now) {
  std::string peer, payload;
  for (int i = 0; i < 4096 && router.Receive(&peer, &payload); ++i) {
    if (!limiter.Allow(peer, now)) continue;
    coordinator.OnMessage(peer, payload);
  }
}

int Run(const hpo::StudySpec& spec, const nlohmann::json& spec_json,
        const std::string& spec_text, const std::string& study_path,
        const std::string& db_path, hpo::Durability durability,
        const NetworkOptions& net, bool resume) {
  const std::string& bind = net.bind;
  // Progress goes to stdout: rewritten in place on a terminal, a plain line
  // every few seconds otherwise. Log lines go to stderr, from this thread
  // and the ZAP handler's.
  const bool tty = isatty(STDOUT_FILENO);
  auto log_mutex = std::make_shared<std::mutex>();
  auto log = [tty, log_mutex](const std::string& line) {
    std::lock_guard<std::mutex> lock(*log_mutex);
    if (tty) std::cout << "\r\033[K" << std::flush;
    std::cerr << "hpo-coordinator: " << line << std::endl;
  };
  zmq::context_t context(1);
  // Declared before the socket so that it outlives it: the socket must
  // never run without its ZAP handler.
  std::unique_ptr<hpo::ZapAuthenticator> authenticator;
  hpo::RouterEndpoint router(context);
  if (net.curve) {
    router.EnableCurveServer(net.curve->secret_key);
    authenticator = std::make_unique<hpo::ZapAuthenticator>(
        context, router.socket(), net.authorized_dir, log);
  }
  const std::string endpoint = router.Bind(bind);
  std::unique_ptr<hpo::Store> store =
      hpo::Store::Open(db_path, /*read_only=*/false, durability);
  hpo::SystemClock clock;
  hpo::Coordinator coordinator(spec, spec_json, spec_text, *store, clock,
                               router, resume, log);
  log("study \"" + spec.name + "\" (" + ToString(spec.algorithm.type) +
      ") listening on " + endpoint + ", results in " + db_path);
  if (!spec.command.empty()) {
    log("trainer.command: workers started with --allow-commands run `" +
        hpo::TrainerSummary(spec_text) +
        "` for each job, {name} standing for the trial's parameter");
  }
  if (spec.trainer.value("model", "") == "torchscript") {
    // Where the coordinator can check a module (an absolute path), it
    // does; relative ones exist only under each worker's --data.
    std::vector<std::string> modules;
    if (spec.trainer.value("module", nlohmann::json()).is_string()) {
      modules.push_back(spec.trainer["module"].get<std::string>());
    }
    if (const hpo::ParamSpec* p = spec.search_space.Find("module")) {
      for (const nlohmann::json& v : p->values) {
        if (v.is_string() &&
            std::find(modules.begin(), modules.end(), v) == modules.end()) {
          modules.push_back(v.get<std::string>());
        }
      }
    }
    for (const std::string& m : modules) {
      if (m.empty() || m[0] != '/') {
        log("trainer.module " + m +
            ": workers load it relative to their --data");
      } else if (!std::filesystem::is_regular_file(m)) {
        log("warning: trainer.module " + m +
            " does not exist on this machine; trials fail as config on "
            "workers that do not have it either");
      }
    }
  }
  if (authenticator) {
    log("CurveZMQ on: server public key " + net.curve->public_key + ", " +
        std::to_string(authenticator->authorized()) +
        " authorised worker key(s) in " + net.authorized_dir);
    if (authenticator->authorized() == 0) {
      log("warning: --authorized-workers " + net.authorized_dir +
          " has no .pub file: no worker can join until one is copied there");
    }
  } else if (!hpo::IsLoopbackEndpoint(bind)) {
    log("warning: listening on " + endpoint +
        ", reachable from other machines, without CurveZMQ keys: anyone who "
        "can connect can join as a worker and read the study; use "
        "--curve-secret and --authorized-workers (README, \"Security\")");
  }
  hpo::RateLimiter limiter(net.rate, 2 * net.rate);
  double last_limit_log = clock.Now();
  // Says, at most every 10 s, which peers went over their rate limit.
  auto report_limits = [&] {
    const double now = clock.Now();
    if (now - last_limit_log < 10) return;
    last_limit_log = now;
    for (const auto& [peer, dropped] : limiter.TakeDropped()) {
      log("dropped " + std::to_string(dropped) + " message(s) from peer " +
          PeerName(peer) + " over the rate limit (" +
          std::to_string(static_cast<int64_t>(net.rate)) +
          " messages/s per worker, --worker-rate-limit)");
    }
  };

  zmq::pollitem_t items[] = {{router.socket().handle(), 0, ZMQ_POLLIN, 0}};
  // Waits up to 20 ms for messages and hands them to the coordinator.
  auto receive = [&] {
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(20));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      ReceiveAll(router, coordinator, limiter, clock.Now());
    }
  };

  const double progress_every = tty ? 0.5 : 5.0;
  double last_progress = clock.Now();
  int64_t last_epochs = 0;
  while (!coordinator.finished()) {
    if (g_signal != 0) {
      log(std::string(g_signal == SIGINT ? "interrupted" : "terminated") +
          "; stopping the trials in progress and saving");
      coordinator.Stop("interrupted");
      break;
    }
    receive();
    report_limits();
    coordinator.Tick();
    const double now = clock.Now();
    if (now - last_progress >= progress_every) {
      hpo::CoordinatorStats s = coordinator.stats();
      double rate = (s.epochs - last_epochs) / (now - last_progress);
      last_epochs = s.epochs;
      last_progress = now;
      std::cout << (tty ? "\r\033[K" : "") << ProgressLine(spec, s, rate)
                << (tty ? "" : "\n") << std::flush;
    }
  }
  // Until the workers have left (or a few heartbeats have passed), answer
  // them: one that missed "done" hears it again.
  const double drain_until =
      clock.Now() +
      std::min(5.0, std::max(1.0, 3 * spec.execution.heartbeat_s));
  while (coordinator.outcome() != "interrupted" && !coordinator.drained() &&
         clock.Now() < drain_until && g_signal == 0) {
    receive();
  }
  hpo::CoordinatorStats s = coordinator.stats();
  if (tty) std::cout << "\r\033[K";
  std::cout << "study \"" << spec.name << "\" " << coordinator.outcome() << ": "
            << s.trials << " trials (" << s.complete << " complete, "
            << s.pruned << " pruned, " << s.failed << " failed)";
  if (s.best_trial >= 0) {
    std::cout << ", best " << spec.objective.metric << " " << s.best_value
              << " (trial " << s.best_trial << ")";
  }
  std::cout << ", " << FormatDuration(s.elapsed_s) << "; results in " << db_path
            << "\n";
  if (s.dropped_messages > 0) {
    std::cout << s.dropped_messages
              << " message(s) dropped: malformed, duplicated, or late reports "
                 "from attempts that had ended (the log has the first ones)\n";
  }
  if (limiter.total_dropped() > 0) {
    last_limit_log = -1e18;
    report_limits();
  }
  if (coordinator.outcome() == "interrupted") {
    std::cout << "resume with: hpo-coordinator --study " << study_path
              << " --db " << db_path << " --resume\n";
    return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGINT);
  }
  return 0;
}

int Main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "study", po::value<std::string>(), "study file (JSON), required")(
      "db", po::value<std::string>()->default_value("hpo.db"),
      "SQLite results database")(
      "db-sync", po::value<std::string>()->default_value("normal"),
      "normal: batches are committed every 20 ms without waiting for the "
      "disk (a power cut can lose the last of them, never corrupt the "
      "file); full: each commit waits for an fsync")(
      "bind", po::value<std::string>()->default_value(hpo::kDefaultBind),
      "ZeroMQ endpoint that workers connect to (port * picks a free one; "
      "tcp://*:5555 for every interface)")("resume",
                                           "continue a study recorded in --db")(
      "plan", "print the schedule as JSON and exit")(
      "curve-secret", po::value<std::string>(),
      "this coordinator's secret key file (hpo-keygen): encrypt traffic and "
      "authenticate workers (needs --authorized-workers)")(
      "authorized-workers", po::value<std::string>(),
      "directory of the public key files (*.pub) of the workers allowed in")(
      "worker-rate-limit", po::value<double>()->default_value(10000),
      "messages per second each worker may send (bursts of twice that); "
      "more are dropped; 0: no limit");
  const po::variables_map vm =
      hpo::ParseCommandLine("hpo-coordinator", argc, argv, options);
  if (vm.count("help")) {
    std::cout << kUsage << "\nPlans and runs a hyperparameter study.\n\n"
              << options
              << "\nExit codes: 0 study finished, 1 runtime failure, 2 bad "
                 "usage or input,\n130/143 stopped by SIGINT/SIGTERM "
                 "(resume with --resume).\n";
    return 0;
  }
  if (!vm.count("study")) {
    throw hpo::BadInput(
        "hpo-coordinator: --study FILE.json is required (see --help)");
  }
  const hpo::Durability durability =
      ParseDurability(vm["db-sync"].as<std::string>());
  const std::string path = vm["study"].as<std::string>();
  const std::string text = hpo::ReadTextFile(path);
  const nlohmann::json study_json = hpo::ParseJsonText(text, path);
  hpo::StudySpec spec = hpo::ParseStudy(study_json, path);
  if (vm.count("plan")) {
    nlohmann::ordered_json plan = hpo::NewScheduler(spec)->Plan();
    WarnAboutBudget(plan);
    std::cout << plan.dump() << "\n";
    return 0;
  }
  NetworkOptions net;
  net.bind = vm["bind"].as<std::string>();
  net.rate = vm["worker-rate-limit"].as<double>();
  if (!(net.rate >= 0) || !std::isfinite(net.rate)) {
    throw hpo::BadInput(
        "hpo-coordinator: --worker-rate-limit must be 0 (no limit) or more");
  }
  if (vm.count("curve-secret") != vm.count("authorized-workers")) {
    throw hpo::BadInput(
        "hpo-coordinator: --curve-secret and --authorized-workers go "
        "together: the first encrypts, the second says which workers may "
        "join (create keys with hpo-keygen --out NAME; see README, "
        "\"Security\")");
  }
  if (vm.count("curve-secret")) {
    hpo::RequireCurve("hpo-coordinator");
    const std::string file = vm["curve-secret"].as<std::string>();
    try {
      net.curve = hpo::ReadSecretKeyFile(file);
    } catch (const hpo::Error& e) {
      throw hpo::BadInput("hpo-coordinator: --curve-secret " +
                          std::string(e.what()));
    }
    net.authorized_dir = vm["authorized-workers"].as<std::string>();
  }
  InstallSignalHandlers();
  return Run(spec, study_json, text, path, vm["db"].as<std::string>(),
             durability, net, vm.count("resume") > 0);
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-coordinator", [&] {
    try {
      return Main(argc, argv);
    } catch (const zmq::error_t& e) {
      throw hpo::RuntimeFailure(std::string("ZeroMQ: ") + e.what());
    }
  });
}
