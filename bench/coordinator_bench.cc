// coordinator_bench: throughput and dispatch latency of the real
// hpo-coordinator with many emulated workers that train nothing.
//
// The bench writes a study with the synthetic trainer into a temporary
// directory, starts the hpo-coordinator binary on it (--bind
// tcp://127.0.0.1:*, --db in that directory) and reads the endpoint from the
// coordinator's log. It then emulates W workers in this process: one ZeroMQ
// DEALER each, all served by one thread, speaking the protocol of
// common/protocol.h exactly as hpo-worker does (hello, heartbeats, one
// "epoch" message per epoch of an assigned job, waiting for the decision
// after a job's last epoch, "bye" after "done").
//
// By default training takes no time, so every worker reports as fast as the
// coordinator takes reports: the coordinator is the bottleneck, the figures
// are its saturated throughput,
// and latencies include the queue of reports ahead of a job's last one.
// --epoch-ms paces the workers instead (each epoch takes that long on
// average, varying x0.5-1.5 so that workers drift apart), for dispatch
// latency at a given load: with 32 workers, --epoch-ms 1.6 offers up to
// 20,000 reports per second.
//
// Printed:
//   * wall seconds from the first hello to the last worker's "done",
//   * epoch reports sent, and persisted (rows of the metrics table, read
//     through hpo::Store after the coordinator has exited), per second,
//   * dispatch latency: from a worker sending the message that frees a slot
//     (its hello, or the epoch that ends a job) to receiving the next job
//     for that slot (an assign, or a "continue" decision): p50/p90/p99/max,
//   * the coordinator's CPU time (getrusage of the child) per epoch report,
//     and this process's, since both share the machine.
//
// Scale simulation (issue 7): --processes P forks P child processes that
// emulate the W workers between them, W/P each, every worker with its own
// DEALER socket and so its own TCP connection to the coordinator. A child
// serves its sockets with one thread and epoll on their ZMQ_FD descriptors,
// and its epochs and heartbeats with a timer heap, so that its cost per
// message does not grow with W. Workers send heartbeats as hpo-worker does
// (when they have sent nothing for --heartbeat-s). Each child writes its
// counts and latency samples to a file in the run's directory; the parent
// merges them and adds, beyond the figures above: messages per second in
// each direction by type, the ramp-up (from the go signal to every worker
// welcomed, and to every worker holding its first job), the coordinator's
// resident memory (VmRSS sampled from /proc every 0.25 s, VmHWM, and the
// ru_maxrss of wait4) before the workers connect and at its peak, per
// worker, and the coordinator's CPU time per message. RLIMIT_NOFILE's soft
// limit is raised to the hard limit (the coordinator inherits it).
//
// Reproduce: build/bench/coordinator_bench [--workers 32] [--trials 20000]
//   [--epochs 27] [--algorithm random|asha] [--slots 1] [--epoch-ms 0]
//   [--processes 0] [--heartbeat-s 1] [--coordinator BINARY] [--dir DIR]
//   [--db-sync normal|full]
// (--coordinator runs another build of hpo-coordinator; --dir keeps the study,
// database and coordinator log in DIR.) The default run takes about 15 s on a
// 2-core VM.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench/flags.h"
#include "common/protocol.h"
#include "common/store.h"

#ifndef HPO_COORDINATOR
#error "HPO_COORDINATOR must name the hpo-coordinator binary"
#endif

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kStudyName[] = "coordinator_bench";
constexpr double kLeaseTimeoutS = 60;
constexpr double kStartTimeoutS = 30;  // For the endpoint to appear.
constexpr double kRunTimeoutS = 900;   // For the whole study.

struct Options {
  int workers = 32;
  int64_t trials = 20000;
  int epochs = 27;
  std::string algorithm = "random";
  int slots = 1;
  double epoch_ms = 0;  // Emulated training time per epoch; 0: none.
  int processes = 0;    // 0: emulate the workers in this process.
  double heartbeat_s = 1;
  std::string coordinator = HPO_COORDINATOR;  // The binary to start.
  std::string dir;  // Empty: a temporary directory, removed afterwards.
  std::string db_sync = "normal";  // The coordinator's --db-sync.
};

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr char kUsage[] =
    "usage: coordinator_bench [--workers N] [--trials N] [--epochs N] "
    "[--algorithm random|asha] [--slots N] [--epoch-ms MS]\n"
    "       [--processes P] [--heartbeat-s S] [--coordinator BINARY] "
    "[--dir DIR] [--db-sync normal|full]\n";

// The coordinator and the directory of this run, for Fail().
pid_t g_child = -1;
std::string g_dir;

// Stops the coordinator, if running, and exits 1. The run's files are kept.
[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "coordinator_bench: %s\n", why.c_str());
  if (g_child > 0) kill(g_child, SIGKILL);
  if (!g_dir.empty()) {
    std::fprintf(stderr, "coordinator_bench: files kept in %s\n",
                 g_dir.c_str());
  }
  std::exit(1);
}

[[noreturn]] void Usage(const std::string& why) {
  hpo::bench::UsageError("coordinator_bench", kUsage, why);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  hpo::bench::ParseFlagPairs(argc, argv, "coordinator_bench", kUsage,
                             [&](const std::string& flag, const char* value) {
                               if (flag == "--workers") {
                                 o.workers = std::atoi(value);
                               } else if (flag == "--trials") {
                                 o.trials = std::atoll(value);
                               } else if (flag == "--epochs") {
                                 o.epochs = std::atoi(value);
                               } else if (flag == "--algorithm") {
                                 o.algorithm = value;
                               } else if (flag == "--slots") {
                                 o.slots = std::atoi(value);
                               } else if (flag == "--epoch-ms") {
                                 o.epoch_ms = std::atof(value);
                               } else if (flag == "--processes") {
                                 o.processes = std::atoi(value);
                               } else if (flag == "--heartbeat-s") {
                                 o.heartbeat_s = std::atof(value);
                               } else if (flag == "--coordinator") {
                                 o.coordinator = value;
                               } else if (flag == "--dir") {
                                 o.dir = value;
                               } else if (flag == "--db-sync") {
                                 o.db_sync = value;
                               } else {
                                 return false;
                               }
                               return true;
                             });
  if (o.processes < 0 || o.processes > 64) Usage("--processes must be 0..64");
  if (o.db_sync != "normal" && o.db_sync != "full") {
    Usage("--db-sync must be normal or full");
  }
  if (o.processes == 0 && (o.workers < 1 || o.workers > 1000)) {
    Usage("--workers must be 1..1000 (more with --processes)");
  }
  if (o.processes > 0 && (o.workers < o.processes || o.workers > 100000)) {
    Usage("--workers must be --processes..100000");
  }
  if (!(o.heartbeat_s >= 0.05 && o.heartbeat_s <= 3600)) {
    Usage("--heartbeat-s must be 0.05..3600");
  }
  if (o.trials < 1) Usage("--trials must be >= 1");
  if (o.epochs < 1) Usage("--epochs must be >= 1");
  if (o.slots < 1 || o.slots > 256) Usage("--slots must be 1..256");
  if (!(o.epoch_ms >= 0 && o.epoch_ms < 1e6)) {
    Usage("--epoch-ms must be >= 0");
  }
  if (o.algorithm != "random" && o.algorithm != "asha") {
    Usage("--algorithm must be random or asha");
  }
  if (o.algorithm == "asha" && o.epochs < 3) {
    Usage("--algorithm asha needs --epochs >= 3 (min_epochs 1, eta 3)");
  }
  return o;
}

json StudyFile(const Options& o) {
  json algorithm = {{"type", o.algorithm}, {"max_epochs", o.epochs}};
  if (o.algorithm == "asha") {
    algorithm["min_epochs"] = 1;
    algorithm["eta"] = 3;
  }
  return {{"name", kStudyName},
          {"seed", 7},
          {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
          {"trainer", {{"model", "synthetic"}}},
          {"search_space",
           {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
            {"batch_size",
             {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}},
            {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.5}}},
            {"optimizer",
             {{"type", "choice"}, {"values", {"sgd", "adam", "adamw"}}}}}},
          {"algorithm", algorithm},
          {"budget", {{"max_trials", o.trials}}},
          {"execution",
           {{"max_attempts", 3},
            {"heartbeat_s", o.heartbeat_s},
            {"lease_timeout_s", kLeaseTimeoutS}}}};
}

// The hpo-coordinator child process.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& out,
        const std::string& err) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(&a[0]));
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) Fail(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(127);
      execv(argv[0], argv.data());
      _exit(127);
    }
    g_child = pid_;
  }
  ~Child() {
    if (running()) {
      kill(pid_, SIGKILL);
      Wait(-1);
    }
  }
  bool running() const { return status_ < 0; }
  // Reaps the child, waiting at most `seconds` (< 0: forever). True if it
  // has exited.
  bool Wait(double seconds) {
    const double end = Now() + seconds;
    while (running()) {
      int status = 0;
      pid_t r = wait4(pid_, &status, seconds < 0 ? 0 : WNOHANG, &usage_);
      if (r == pid_) {
        status_ = status;
        g_child = -1;
        break;
      }
      if (seconds >= 0 && Now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  int exit_code() const {
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  pid_t pid() const { return pid_; }
  // The child's own resource use (CPU, ru_maxrss), once it has exited.
  const rusage& usage() const { return usage_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  rusage usage_{};
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls the coordinator's log for "listening on ENDPOINT,".
std::string WaitForEndpoint(Child& child, const std::string& log) {
  const std::string marker = "listening on ";
  const double end = Now() + kStartTimeoutS;
  while (Now() < end) {
    const std::string text = ReadFile(log);
    size_t at = text.find(marker);
    if (at != std::string::npos) {
      at += marker.size();
      size_t stop = text.find_first_of(", \n", at);
      if (stop != std::string::npos) return text.substr(at, stop - at);
    }
    if (child.Wait(0)) {
      Fail("hpo-coordinator exited with status " +
           std::to_string(child.exit_code()) + " before listening:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Fail("hpo-coordinator did not print its endpoint within " +
       std::to_string(static_cast<int>(kStartTimeoutS)) + " s; log:\n" +
       ReadFile(log));
}

// One job an emulated worker runs: epochs from_epoch+1 .. to_epoch.
struct Job {
  int64_t lease = 0;
  int64_t trial = 0;
  int epoch = 0;          // Last epoch sent.
  int to_epoch = 0;       // Current target; a "continue" decision raises it.
  double q = 0, tau = 1;  // Its learning curve.
  std::map<int, double> sent_at;  // Epoch -> when its report was sent.
  double waiting_since = -1;      // Last epoch sent, no decision yet.
  double next_at = 0;             // When the next epoch is due.
};

struct Worker {
  std::unique_ptr<zmq::socket_t> socket;
  int64_t session = 0;
  bool welcomed = false;
  bool done = false;
  double last_sent = 0;
  double welcomed_at = -1;        // First "welcome".
  double first_assign_at = -1;    // First "assign".
  std::map<int64_t, Job> jobs;    // By lease.
  std::multiset<double> free_at;  // When each free slot became free.
  // Leases whose next epoch OnMessage() scheduled (an assign or a
  // "continue"): the multi-process loop puts them on its timer heap.
  std::vector<int64_t> scheduled;
};

constexpr int kMessageTypes = static_cast<int>(hpo::MessageType::kError) + 1;

struct Figures {
  int64_t epochs_sent = 0;
  int64_t assigns = 0;
  int64_t continues = 0;
  int64_t stops_mid_job = 0;  // Pruned before the job's last epoch.
  int64_t heartbeats = 0;
  int welcomes = 0;
  int workers_done = 0;    // Workers that heard "done" (some hear it twice).
  int64_t unexpected = 0;  // rejoin, error, assign without a free slot.
  std::vector<double> latency_ms;
  // The same without each worker's first dispatch (hello to first assign),
  // which measures the ramp-up rather than the coordinator at work.
  std::vector<double> steady_ms;
  // Messages by type, sent to and received from the coordinator.
  int64_t sent[kMessageTypes] = {};
  int64_t received[kMessageTypes] = {};
  double last_welcome = -1;  // The latest first "welcome" of a worker.
  double last_first_assign = -1;
  double last_done = -1;  // When the last worker heard "done".
};

int64_t Total(const int64_t (&counts)[kMessageTypes]) {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  return n;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double Unit(uint64_t x) { return (Mix(x) >> 11) * (1.0 / 9007199254740992.0); }

// How long the next epoch of `job` trains: --epoch-ms times a factor drawn
// uniformly from [0.5, 1.5) per (trial, epoch), so that workers drift apart
// as real ones do instead of reporting in lockstep.
double EpochSeconds(const Options& o, const Job& job) {
  const uint64_t key = static_cast<uint64_t>(job.trial) * 65537 +
                       static_cast<uint64_t>(job.epoch) + 12345;
  return o.epoch_ms / 1000 * (0.5 + Unit(key));
}

void Send(Worker& w, const hpo::Message& m, Figures& f) {
  const std::string bytes = hpo::Encode(m);
  if (!w.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
    Fail("a worker's send queue is full");
  }
  w.last_sent = Now();
  ++f.sent[static_cast<int>(m.type)];
}

void SendHeartbeat(Worker& w, Figures& f) {
  json running = json::array();
  for (const auto& [lease, job] : w.jobs) running.push_back(lease);
  Send(w,
       hpo::MakeMessage(hpo::MessageType::kHeartbeat, {{"running", running}}),
       f);
  ++f.heartbeats;
}

void SendHello(Worker& w, int index, int slots, Figures& f) {
  Send(w,
       hpo::MakeMessage(hpo::MessageType::kHello,
                        {{"name", "bench-" + std::to_string(index)},
                         {"host", "localhost"},
                         {"devices", json::array({"cpu"})},
                         {"slots", slots},
                         {"session", w.session},
                         {"pid", static_cast<int64_t>(getpid())}}),
       f);
  const double now = Now();
  w.free_at.clear();
  for (int s = 0; s < slots; ++s) w.free_at.insert(now);
}

// Sends the next epoch of `job`, with metrics from its analytic curve.
void SendEpoch(Worker& w, Job& job, Figures& f) {
  const int epoch = ++job.epoch;
  const double acc = job.q * (1 - std::exp(-epoch / job.tau));
  const double loss = 2.3 * (1 - acc);
  Send(w,
       hpo::MakeMessage(hpo::MessageType::kEpoch,
                        {{"lease", job.lease},
                         {"trial", job.trial},
                         {"epoch", epoch},
                         {"metrics",
                          {{"train_loss", loss * 0.9},
                           {"val_loss", loss},
                           {"val_accuracy", acc},
                           {"val_track_accuracy", acc * 1.05},
                           {"epoch_seconds", 0.0},
                           {"samples_per_second", 0.0}}},
                         {"checkpoint", nullptr}}),
       f);
  job.sent_at[epoch] = w.last_sent;
  if (epoch == job.to_epoch) job.waiting_since = w.last_sent;
  ++f.epochs_sent;
}

// Handles one message from the coordinator; sets w.done when the study is
// over.
void OnMessage(Worker& w, int index, const Options& o,
               const zmq::message_t& frame, Figures& f) {
  const double now = Now();
  hpo::Message m;
  try {
    m = hpo::Decode(frame.data(), frame.size());
  } catch (const hpo::ProtocolError& e) {
    Fail(std::string("bad message from the coordinator: ") + e.what());
  }
  const json& b = m.body;
  ++f.received[static_cast<int>(m.type)];
  switch (m.type) {
    case hpo::MessageType::kWelcome:
      if (!w.welcomed) {
        ++f.welcomes;
        w.welcomed_at = now;
        f.last_welcome = std::max(f.last_welcome, now);
      }
      w.welcomed = true;
      break;
    case hpo::MessageType::kAssign: {
      ++f.assigns;
      if (w.free_at.empty()) {
        ++f.unexpected;
      } else {
        f.latency_ms.push_back(1000 * (now - *w.free_at.begin()));
        if (w.first_assign_at >= 0) f.steady_ms.push_back(f.latency_ms.back());
        w.free_at.erase(w.free_at.begin());
      }
      if (w.first_assign_at < 0) {
        w.first_assign_at = now;
        f.last_first_assign = std::max(f.last_first_assign, now);
      }
      Job job;
      job.lease = b.at("lease").get<int64_t>();
      job.trial = b.at("trial").get<int64_t>();
      job.epoch = static_cast<int>(b.at("from_epoch").get<int64_t>());
      job.to_epoch = static_cast<int>(b.at("to_epoch").get<int64_t>());
      job.q = 0.3 + 0.6 * Unit(static_cast<uint64_t>(job.trial) * 2);
      job.tau = 1 + 9 * Unit(static_cast<uint64_t>(job.trial) * 2 + 1);
      job.next_at = now + EpochSeconds(o, job);
      w.scheduled.push_back(job.lease);
      w.jobs[job.lease] = std::move(job);
      break;
    }
    case hpo::MessageType::kDecision: {
      auto it = w.jobs.find(b.at("lease").get<int64_t>());
      if (it == w.jobs.end()) break;
      Job& job = it->second;
      const int to = static_cast<int>(b.at("to_epoch").get<int64_t>());
      if (b.at("action") == "continue" && to > job.epoch) {
        if (job.waiting_since >= 0) {
          ++f.continues;
          f.latency_ms.push_back(1000 * (now - job.waiting_since));
          f.steady_ms.push_back(f.latency_ms.back());
          job.waiting_since = -1;
        }
        job.to_epoch = to;
        job.next_at = now + EpochSeconds(o, job);
        w.scheduled.push_back(job.lease);
        break;
      }
      // Stop: the slot became free when the epoch it answers was sent.
      if (job.waiting_since < 0) ++f.stops_mid_job;
      auto sent = job.sent_at.find(to);
      w.free_at.insert(sent != job.sent_at.end() ? sent->second : now);
      w.jobs.erase(it);
      break;
    }
    case hpo::MessageType::kDone:
      // As hpo-worker --exit-when-done: leave the study, then exit.
      if (!w.done) {
        Send(w,
             hpo::MakeMessage(hpo::MessageType::kBye,
                              {{"why", "exiting (--exit-when-done)"}}),
             f);
        f.last_done = std::max(f.last_done, now);
        ++f.workers_done;
      }
      w.done = true;
      break;
    case hpo::MessageType::kHeartbeat:
      break;
    case hpo::MessageType::kRejoin:
      ++f.unexpected;
      w.jobs.clear();
      w.session = hpo::NewLease();
      SendHello(w, index, o.slots, f);
      break;
    default:
      Fail("unexpected \"" + std::string(hpo::ToString(m.type)) +
           "\" from the coordinator: " + b.dump());
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100 * v.size()));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

double Seconds(const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

std::string FirstLine(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return line;
  }
  return "";
}

// Creates worker `index`'s DEALER socket and connects it to `endpoint`.
void Connect(Worker& w, int index, zmq::context_t& context,
             const std::string& endpoint, int linger_ms) {
  w.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  w.socket->set(zmq::sockopt::linger, linger_ms);
  w.socket->set(zmq::sockopt::sndhwm, 100000);
  w.socket->set(zmq::sockopt::rcvhwm, 100000);
  w.socket->set(
      zmq::sockopt::routing_id,
      "bench" + std::to_string(index) + "-" + std::to_string(hpo::NewLease()));
  w.socket->connect(endpoint);
  w.session = hpo::NewLease();
}

// Emulates all the workers in this process, one thread polling every
// socket each round (the default: up to 1,000 workers). Returns when every
// worker has heard "done"; `start` is when the hellos went out.
void EmulateInProcess(const Options& o, const std::string& endpoint,
                      Child& child, const std::string& log, Figures& f,
                      double& start) {
  zmq::context_t context(1);
  std::vector<Worker> workers(static_cast<size_t>(o.workers));
  std::vector<zmq::pollitem_t> items;
  for (size_t i = 0; i < workers.size(); ++i) {
    Connect(workers[i], static_cast<int>(i), context, endpoint, 0);
    items.push_back({workers[i].socket->handle(), 0, ZMQ_POLLIN, 0});
  }

  start = Now();
  for (size_t i = 0; i < workers.size(); ++i) {
    SendHello(workers[i], static_cast<int>(i), o.slots, f);
  }
  int done = 0;
  double last_check = start;
  while (done < o.workers) {
    // Every running job whose epoch is due sends one epoch per round, so
    // workers interleave.
    bool sent = false;
    double next_due = Now() + 0.05;
    for (Worker& w : workers) {
      for (auto& [lease, job] : w.jobs) {
        if (job.epoch >= job.to_epoch) continue;
        if (o.epoch_ms == 0 || job.next_at <= Now()) {
          SendEpoch(w, job, f);
          job.next_at += EpochSeconds(o, job);  // Keeps the average pace.
          sent = true;
        }
        if (job.epoch < job.to_epoch) {
          next_due = std::min(next_due, job.next_at);
        }
      }
    }
    // Sleeps until the next epoch is due (rounded up to whole milliseconds,
    // so pacing never spins) or a message comes.
    const double wait_ms = sent ? 0 : std::ceil(1000 * (next_due - Now()));
    zmq::poll(items.data(), items.size(),
              std::chrono::milliseconds(
                  static_cast<int64_t>(std::max(0.0, wait_ms))));
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      Worker& w = workers[i];
      zmq::message_t frame;
      while (w.socket->recv(frame, zmq::recv_flags::dontwait)) {
        const bool was_done = w.done;
        OnMessage(w, static_cast<int>(i), o, frame, f);
        w.scheduled.clear();  // This loop looks at every job each round.
        if (w.done && !was_done) ++done;
      }
    }
    const double now = Now();
    for (Worker& w : workers) {
      if (w.welcomed && !w.done && now - w.last_sent >= o.heartbeat_s) {
        SendHeartbeat(w, f);
      }
    }
    if (now - last_check > 0.1) {
      last_check = now;
      if (child.Wait(0)) {
        Fail("hpo-coordinator exited with status " +
             std::to_string(child.exit_code()) +
             " before the study was over; log:\n" + ReadFile(log));
      }
      if (now - start > kRunTimeoutS) Fail("the study did not finish in time");
      if (f.welcomes < o.workers && now - start > kStartTimeoutS) {
        Fail("only " + std::to_string(f.welcomes) + " of " +
             std::to_string(o.workers) + " workers were welcomed in " +
             std::to_string(static_cast<int>(kStartTimeoutS)) + " s");
      }
    }
  }
}

// Set by SIGTERM in a child of --processes: the coordinator has exited
// although some of its workers never heard "done" (they never joined).
volatile sig_atomic_t g_stop = 0;

extern "C" void OnStop(int) { g_stop = 1; }

// A due epoch of a job (lease != 0) or a heartbeat check (lease == 0).
struct Timer {
  double at = 0;
  int worker = 0;
  int64_t lease = 0;
  bool operator>(const Timer& t) const { return at > t.at; }
};

// One child of --processes: emulates workers first .. first+count-1. Its
// sockets are watched by epoll through their ZMQ_FD descriptors and its
// epochs and heartbeats come from a timer heap, so a message costs
// O(log count), not O(count). Connects, writes one byte to `ready_fd`,
// waits for one byte on `go_fd`, then runs until every worker has heard
// "done".
Figures EmulateShare(const Options& o, const std::string& endpoint, int first,
                     int count, int ready_fd, int go_fd) {
  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, count + 64);
  std::vector<Worker> workers(static_cast<size_t>(count));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Fail(std::string("epoll_create1: ") + std::strerror(errno));
  for (int i = 0; i < count; ++i) {
    // A linger, so that the last "bye" leaves before the context closes.
    Connect(workers[i], first + i, context, endpoint, 2000);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    const int fd = workers[i].socket->get(zmq::sockopt::fd);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      Fail(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }
  signal(SIGTERM, OnStop);
  char c = 'r';
  if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1) {
    Fail("the parent went away before the start");
  }

  Figures f;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;
  int done = 0;
  // Hands every message waiting on worker i's socket to OnMessage(). A
  // ZMQ_FD only signals a change: after any send or receive the socket must
  // be asked (ZMQ_EVENTS) whether more is waiting.
  auto drain = [&](int i) {
    Worker& w = workers[static_cast<size_t>(i)];
    zmq::message_t frame;
    while ((w.socket->get(zmq::sockopt::events) & ZMQ_POLLIN) &&
           w.socket->recv(frame, zmq::recv_flags::dontwait)) {
      const bool was_done = w.done;
      OnMessage(w, first + i, o, frame, f);
      if (w.done && !was_done) ++done;
      for (int64_t lease : w.scheduled) {
        auto it = w.jobs.find(lease);
        if (it != w.jobs.end()) timers.push({it->second.next_at, i, lease});
      }
      w.scheduled.clear();
    }
  };
  const double start = Now();
  for (int i = 0; i < count; ++i) {
    SendHello(workers[i], first + i, o.slots, f);
    timers.push({workers[i].last_sent + o.heartbeat_s, i, 0});
  }
  for (int i = 0; i < count; ++i) drain(i);

  constexpr int kMaxFired = 512;  // Timers per round, then receive.
  std::vector<int> touched;
  std::vector<epoll_event> events(256);
  double last_sweep = Now();
  while (done < count && !g_stop) {
    const double now = Now();
    int fired = 0;
    touched.clear();
    while (!timers.empty() && timers.top().at <= now && fired < kMaxFired) {
      const Timer t = timers.top();
      timers.pop();
      ++fired;
      Worker& w = workers[static_cast<size_t>(t.worker)];
      if (w.done) continue;
      if (t.lease == 0) {
        if (w.welcomed && now - w.last_sent >= o.heartbeat_s) {
          SendHeartbeat(w, f);
          touched.push_back(t.worker);
        }
        double next = w.last_sent + o.heartbeat_s;
        if (next <= now) next = now + o.heartbeat_s;  // Not welcomed yet.
        timers.push({next, t.worker, 0});
        continue;
      }
      auto it = w.jobs.find(t.lease);
      if (it == w.jobs.end()) continue;  // Stopped.
      Job& job = it->second;
      if (job.epoch >= job.to_epoch || job.next_at != t.at) continue;
      SendEpoch(w, job, f);
      job.next_at += EpochSeconds(o, job);  // Keeps the average pace.
      if (job.epoch < job.to_epoch)
        timers.push({job.next_at, t.worker, t.lease});
      touched.push_back(t.worker);
    }
    for (int i : touched) drain(i);
    int wait_ms = 0;
    if (fired < kMaxFired) {
      const double next = timers.empty() ? Now() + 0.05 : timers.top().at;
      wait_ms = static_cast<int>(
          std::clamp(std::ceil(1000 * (next - Now())), 0.0, 50.0));
    }
    const int n =
        epoll_wait(ep, events.data(), static_cast<int>(events.size()), wait_ms);
    for (int k = 0; k < n; ++k) drain(static_cast<int>(events[k].data.u32));
    if (Now() - last_sweep > 0.1) {
      // A safety net for a missed signal: ask every socket.
      last_sweep = Now();
      for (int i = 0; i < count; ++i) drain(i);
      if (last_sweep - start > kRunTimeoutS) {
        Fail("the study did not finish in time");
      }
    }
  }
  close(ep);
  return f;
}

// A child's figures, as text, for the parent.
void WriteFigures(const Figures& f, const std::string& path) {
  std::ofstream out(path);
  out.precision(17);
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  out << f.epochs_sent << " " << f.assigns << " " << f.continues << " "
      << f.stops_mid_job << " " << f.heartbeats << " " << f.welcomes << " "
      << f.unexpected << " " << f.last_welcome << " " << f.last_first_assign
      << " " << f.last_done << " " << f.workers_done << "\n";
  for (int64_t n : f.sent) out << n << " ";
  out << "\n";
  for (int64_t n : f.received) out << n << " ";
  for (const std::vector<double>* v : {&f.latency_ms, &f.steady_ms}) {
    out << "\n" << v->size() << "\n";
    for (double x : *v) out << x << "\n";
  }
  out << "end\n";
  if (!out) Fail("cannot write " + path);
}

// Adds the figures in `path` to `f`.
void MergeFigures(const std::string& path, Figures& f) {
  std::ifstream in(path);
  Figures c;
  size_t samples = 0;
  in >> c.epochs_sent >> c.assigns >> c.continues >> c.stops_mid_job >>
      c.heartbeats >> c.welcomes >> c.unexpected >> c.last_welcome >>
      c.last_first_assign >> c.last_done >> c.workers_done;
  for (int64_t& n : c.sent) in >> n;
  for (int64_t& n : c.received) in >> n;
  for (std::vector<double>* v : {&f.latency_ms, &f.steady_ms}) {
    in >> samples;
    v->reserve(v->size() + samples);
    for (size_t i = 0; i < samples && in; ++i) {
      double x = 0;
      in >> x;
      v->push_back(x);
    }
  }
  std::string end;
  in >> end;
  if (!in || end != "end") Fail("cannot read a child's figures in " + path);
  f.epochs_sent += c.epochs_sent;
  f.assigns += c.assigns;
  f.continues += c.continues;
  f.stops_mid_job += c.stops_mid_job;
  f.heartbeats += c.heartbeats;
  f.welcomes += c.welcomes;
  f.workers_done += c.workers_done;
  f.unexpected += c.unexpected;
  for (int i = 0; i < kMessageTypes; ++i) {
    f.sent[i] += c.sent[i];
    f.received[i] += c.received[i];
  }
  f.last_welcome = std::max(f.last_welcome, c.last_welcome);
  f.last_first_assign = std::max(f.last_first_assign, c.last_first_assign);
  f.last_done = std::max(f.last_done, c.last_done);
}

// VmRSS and VmHWM of process `pid`, in KiB (0 when gone).
std::pair<double, double> ReadRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  double rss = 0, hwm = 0;
  while (in >> key) {
    if (key == "VmRSS:") in >> rss;
    if (key == "VmHWM:") in >> hwm;
  }
  return {rss, hwm};
}

// The host's count of connections dropped because a listening socket's
// accept queue was full (TcpExt ListenOverflows in /proc/net/netstat).
double ListenOverflows() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenOverflows") return std::atof(value.c_str());
    }
  }
  return 0;
}

// What the parent of --processes measures besides the children's figures.
struct ScaleFigures {
  double rss_idle_kb = 0;       // Before the workers connect.
  double rss_peak_kb = 0;       // Highest VmRSS sampled.
  double hwm_kb = 0;            // Last VmHWM read.
  double rss_end_kb = 0;        // Last VmRSS sampled while the study ran.
  double children_cpu = 0;      // CPU seconds of the emulating children.
  double listen_overflows = 0;  // ListenOverflows before the workers came.
  int samples = 0;
};

// Forks o.processes children that share the workers; returns their merged
// figures once all have exited. `start` is when they were told to go.
Figures EmulateInChildren(const Options& o, const std::string& endpoint,
                          Child& child, const std::string& log,
                          const fs::path& dir, double& start,
                          ScaleFigures& scale) {
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) Fail("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids;
  for (int k = 0; k < o.processes; ++k) {
    const int first = static_cast<int>(int64_t{o.workers} * k / o.processes);
    const int last =
        static_cast<int>(int64_t{o.workers} * (k + 1) / o.processes);
    const pid_t pid = fork();
    if (pid < 0) Fail(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      close(ready[0]);
      close(go[1]);
      g_dir.clear();  // The parent reports and cleans up.
      const Figures f =
          EmulateShare(o, endpoint, first, last - first, ready[1], go[0]);
      WriteFigures(f, (dir / ("child-" + std::to_string(k) + ".txt")).string());
      std::fflush(stdout);
      _exit(0);
    }
    pids.push_back(pid);
  }
  close(ready[1]);
  close(go[0]);
  for (int k = 0; k < o.processes; ++k) {
    char c = 0;
    if (read(ready[0], &c, 1) != 1) Fail("a child died before connecting");
  }
  start = Now();
  const std::string go_bytes(static_cast<size_t>(o.processes), 'g');
  if (write(go[1], go_bytes.data(), go_bytes.size()) !=
      static_cast<ssize_t>(go_bytes.size())) {
    Fail("cannot start the children");
  }
  close(ready[0]);
  close(go[1]);

  size_t running = pids.size();
  double coordinator_gone = -1;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const auto [rss, hwm] = ReadRss(child.pid());
    if (rss > 0) {
      scale.rss_peak_kb = std::max(scale.rss_peak_kb, rss);
      scale.rss_end_kb = rss;
      scale.hwm_kb = hwm;
      ++scale.samples;
    }
    for (pid_t& pid : pids) {
      if (pid <= 0) continue;
      int status = 0;
      rusage usage{};
      if (wait4(pid, &status, WNOHANG, &usage) != pid) continue;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        Fail("an emulating child failed (status " + std::to_string(status) +
             ")");
      }
      scale.children_cpu += Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
      pid = -1;
      --running;
    }
    if (child.running() && child.Wait(0)) {
      if (child.exit_code() != 0) {
        Fail("hpo-coordinator exited with status " +
             std::to_string(child.exit_code()) +
             " before the study was over; log:\n" + ReadFile(log));
      }
      coordinator_gone = Now();
    }
    if (coordinator_gone > 0 && Now() - coordinator_gone > 5) {
      // The study is over but some workers never heard "done" (they never
      // got a connection in): the children stop and report.
      for (pid_t pid : pids) {
        if (pid > 0) kill(pid, SIGTERM);
      }
      coordinator_gone = 1e300;
    }
    if (Now() - start > kRunTimeoutS + 60) {
      for (pid_t pid : pids) {
        if (pid > 0) kill(pid, SIGKILL);
      }
      Fail("the study did not finish in time");
    }
  }
  Figures f;
  for (int k = 0; k < o.processes; ++k) {
    MergeFigures((dir / ("child-" + std::to_string(k) + ".txt")).string(), f);
  }
  return f;
}

// Raises the soft limit on open files to the hard limit: each emulated
// worker holds a TCP connection and a ZeroMQ mailbox, the coordinator one
// descriptor per worker. The coordinator inherits the limit.
rlim_t RaiseFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
    (void)getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

}  // namespace

int Run(const Options& o) {
  signal(SIGPIPE, SIG_IGN);
  const rlim_t open_files = RaiseFileLimit();

  fs::path dir;
  if (o.dir.empty()) {
    char tmpl[] = "/tmp/coordinator_bench_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp failed");
    dir = tmpl;
  } else {
    dir = o.dir;
    fs::create_directories(dir);
    // A log left from an earlier run would give a stale endpoint.
    for (const char* f : {"bench.db", "bench.db-wal", "bench.db-shm",
                          "coordinator.log", "coordinator.out"}) {
      fs::remove(dir / f);
    }
  }
  g_dir = dir.string();
  const std::string study = (dir / "study.json").string();
  const std::string db = (dir / "bench.db").string();
  const std::string log = (dir / "coordinator.log").string();
  const std::string out = (dir / "coordinator.out").string();
  std::ofstream(study) << StudyFile(o).dump(2) << "\n";

  std::string reproduce =
      "build/bench/coordinator_bench --workers " + std::to_string(o.workers) +
      " --trials " + std::to_string(o.trials) + " --epochs " +
      std::to_string(o.epochs) + " --algorithm " + o.algorithm + " --slots " +
      std::to_string(o.slots) +
      (o.db_sync == "normal" ? "" : " --db-sync " + o.db_sync);
  std::printf(
      "coordinator_bench: %s, %lld trials x up to %d epochs, %d emulated "
      "workers x %d slot(s), %u CPUs\n",
      o.algorithm.c_str(), static_cast<long long>(o.trials), o.epochs,
      o.workers, o.slots, std::thread::hardware_concurrency());
  if (o.epoch_ms > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " --epoch-ms %g", o.epoch_ms);
    reproduce += buf;
    std::printf(
        "each epoch takes %g ms on average (x0.5-1.5): at most %.0f "
        "reports/s offered\n",
        o.epoch_ms, 1000.0 * o.workers * o.slots / o.epoch_ms);
  }
  if (o.processes > 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " --processes %d --heartbeat-s %g",
                  o.processes, o.heartbeat_s);
    reproduce += buf;
    std::printf(
        "%d processes emulate %d workers (one TCP connection each); "
        "heartbeat_s %g; open-file limit %llu\n",
        o.processes, o.workers, o.heartbeat_s,
        static_cast<unsigned long long>(open_files));
    if (open_files < static_cast<rlim_t>(o.workers) + 64) {
      std::printf(
          "warning: the coordinator needs a descriptor per worker: raise "
          "the hard limit (ulimit -Hn)\n");
    }
  }
  std::printf("reproduce: %s\n\n", reproduce.c_str());
  std::fflush(stdout);

  const double spawned = Now();
  Child child({o.coordinator, "--study", study, "--db", db, "--db-sync",
               o.db_sync, "--bind", "tcp://127.0.0.1:*"},
              out, log);
  const std::string endpoint = WaitForEndpoint(child, log);
  const double listening = Now();

  Figures f;
  double start = 0;
  ScaleFigures scale;
  if (o.processes == 0) {
    EmulateInProcess(o, endpoint, child, log, f, start);
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    scale.rss_idle_kb = ReadRss(child.pid()).first;
    scale.listen_overflows = ListenOverflows();
    f = EmulateInChildren(o, endpoint, child, log, dir, start, scale);
  }
  const double end = o.processes == 0 ? Now() : f.last_done;
  if (!child.Wait(30)) Fail("hpo-coordinator did not exit after the study");
  const double exited = Now();
  if (child.exit_code() != 0) {
    Fail("hpo-coordinator exited with status " +
         std::to_string(child.exit_code()) + "; log:\n" + ReadFile(log));
  }
  const rusage& coordinator_usage = child.usage();
  rusage own_usage{};
  getrusage(RUSAGE_SELF, &own_usage);

  std::unique_ptr<hpo::Store> store = hpo::Store::Open(db, true);
  std::optional<hpo::StudyRow> row = store->FindStudy(kStudyName);
  if (!row) Fail(db + " holds no study \"" + kStudyName + "\"");
  const int64_t persisted =
      static_cast<int64_t>(store->Metrics(row->id, -1).size());
  std::map<std::string, int64_t> states;
  int64_t trials = 0;
  for (const hpo::TrialRow& t : store->Trials(row->id)) {
    ++states[hpo::ToString(t.state)];
    ++trials;
  }
  std::string state_list;
  for (const auto& [state, n] : states) {
    state_list +=
        (state_list.empty() ? "" : ", ") + std::to_string(n) + " " + state;
  }
  store.reset();

  const double wall = end - start;
  const double cpu_coordinator =
      Seconds(coordinator_usage.ru_utime) + Seconds(coordinator_usage.ru_stime);
  const double cpu_bench =
      Seconds(own_usage.ru_utime) + Seconds(own_usage.ru_stime);
  std::printf("%-40s %12s\n", "figure", "value");
  auto line = [](const char* name, const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    std::printf("%-40s %12s\n", name, buf);
  };
  line("coordinator start-up to listening (s)", "%.3f", listening - spawned);
  line("wall, first hello to last done (s)", "%.3f", wall);
  line("trials in the database", "%.0f", static_cast<double>(trials));
  line("epoch reports sent", "%.0f", static_cast<double>(f.epochs_sent));
  line("epoch reports persisted", "%.0f", static_cast<double>(persisted));
  line("epoch reports sent per second", "%.0f", f.epochs_sent / wall);
  line("persisted reports per second", "%.0f", persisted / wall);
  line("assigns", "%.0f", static_cast<double>(f.assigns));
  line("continue decisions", "%.0f", static_cast<double>(f.continues));
  line("stops before a job's last epoch", "%.0f",
       static_cast<double>(f.stops_mid_job));
  line("dispatch latency p50 (ms)", "%.3f", Percentile(f.latency_ms, 50));
  line("dispatch latency p90 (ms)", "%.3f", Percentile(f.latency_ms, 90));
  line("dispatch latency p99 (ms)", "%.3f", Percentile(f.latency_ms, 99));
  line("dispatch latency max (ms)", "%.3f", Percentile(f.latency_ms, 100));
  line("dispatches measured", "%.0f", static_cast<double>(f.latency_ms.size()));
  line("coordinator CPU (s)", "%.3f", cpu_coordinator);
  line("coordinator CPU per report (us)", "%.1f",
       1e6 * cpu_coordinator / std::max<int64_t>(persisted, 1));
  line("bench (emulated workers) CPU (s)", "%.3f",
       cpu_bench + scale.children_cpu);
  line("last done to coordinator exit (s)", "%.3f", exited - end);
  line("heartbeats sent", "%.0f", static_cast<double>(f.heartbeats));
  line("unexpected (rejoin, extra assign)", "%.0f",
       static_cast<double>(f.unexpected));
  if (o.processes > 0) {
    using T = hpo::MessageType;
    const double to_coordinator = static_cast<double>(Total(f.sent));
    const double from_coordinator = static_cast<double>(Total(f.received));
    std::printf("scale:\n");
    line("processes", "%.0f", o.processes);
    line("connections (one per worker)", "%.0f", o.workers);
    line("workers welcomed", "%.0f", f.welcomes);
    line("workers that heard done", "%.0f", f.workers_done);
    line("ramp-up: all welcomed (s)", "%.3f", f.last_welcome - start);
    line("ramp-up: all hold a first job (s)", "%.3f",
         f.last_first_assign - start);
    // Per type, in each direction: the count and its rate.
    auto by_type = [&](const int64_t(&counts)[kMessageTypes],
                       const char* direction) {
      for (int t = 0; t < kMessageTypes; ++t) {
        if (counts[t] == 0) continue;
        char name[64];
        std::snprintf(name, sizeof name, "  %s %s (count, /s)", direction,
                      hpo::ToString(static_cast<T>(t)));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%lld %8.0f",
                      static_cast<long long>(counts[t]), counts[t] / wall);
        std::printf("%-40s %20s\n", name, buf);
      }
    };
    line("messages to the coordinator", "%.0f", to_coordinator);
    by_type(f.sent, "in:");
    line("messages to the coordinator per second", "%.0f",
         to_coordinator / wall);
    line("messages from the coordinator", "%.0f", from_coordinator);
    by_type(f.received, "out:");
    line("messages from the coordinator per second", "%.0f",
         from_coordinator / wall);
    line("dispatch latency after ramp-up p50 (ms)", "%.3f",
         Percentile(f.steady_ms, 50));
    line("dispatch latency after ramp-up p90 (ms)", "%.3f",
         Percentile(f.steady_ms, 90));
    line("dispatch latency after ramp-up p99 (ms)", "%.3f",
         Percentile(f.steady_ms, 99));
    line("dispatch latency after ramp-up max (ms)", "%.3f",
         Percentile(f.steady_ms, 100));
    line("listen-queue overflows (host, TcpExt)", "%.0f",
         ListenOverflows() - scale.listen_overflows);
    line("coordinator CPU per message in+out (us)", "%.1f",
         1e6 * cpu_coordinator /
             std::max(1.0, to_coordinator + from_coordinator));
    line("coordinator CPU share of wall (%)", "%.1f",
         100 * cpu_coordinator / wall);
    line("bench CPU share of wall (%)", "%.1f",
         100 * (cpu_bench + scale.children_cpu) / wall);
    line("coordinator RSS before workers (MiB)", "%.1f",
         scale.rss_idle_kb / 1024);
    line("coordinator RSS peak sampled (MiB)", "%.1f",
         scale.rss_peak_kb / 1024);
    line("coordinator VmHWM (MiB)", "%.1f", scale.hwm_kb / 1024);
    line("coordinator ru_maxrss (MiB)", "%.1f",
         coordinator_usage.ru_maxrss / 1024.0);
    line("coordinator RSS per worker (KiB)", "%.1f",
         (std::max(scale.hwm_kb,
                   static_cast<double>(coordinator_usage.ru_maxrss)) -
          scale.rss_idle_kb) /
             o.workers);
  }
  std::printf("trial states: %s\n", state_list.c_str());
  const std::string summary = FirstLine(out, "study ");
  if (!summary.empty()) std::printf("coordinator: %s\n", summary.c_str());

  int rc = 0;
  if (persisted != f.epochs_sent) {
    std::printf(
        "note: %lld reports sent but %lld persisted (stale reports after a "
        "stop are dropped by design)\n",
        static_cast<long long>(f.epochs_sent),
        static_cast<long long>(persisted));
  }
  if (f.unexpected > 0) rc = 1;
  if (o.dir.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  } else {
    std::printf("kept: %s\n", dir.c_str());
  }
  return rc;
}

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  try {
    return Run(o);
  } catch (const std::exception& e) {
    Fail(e.what());
  }
}
