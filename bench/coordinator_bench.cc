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
// Reproduce: build/bench/coordinator_bench [--workers 32] [--trials 20000]
//   [--epochs 27] [--algorithm random|asha] [--slots 1] [--epoch-ms 0]
//   [--dir DIR]
// (--dir keeps the study, database and coordinator log in DIR.) The
// default run takes about 15 s on a 2-core VM.
#include <fcntl.h>
#include <signal.h>
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
constexpr double kHeartbeatS = 1;
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
  std::string dir;      // Empty: a temporary directory, removed afterwards.
};

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr char kUsage[] =
    "usage: coordinator_bench [--workers N] [--trials N] [--epochs N] "
    "[--algorithm random|asha] [--slots N] [--epoch-ms MS] [--dir DIR]\n";

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
                               } else if (flag == "--dir") {
                                 o.dir = value;
                               } else {
                                 return false;
                               }
                               return true;
                             });
  if (o.workers < 1 || o.workers > 1000) Usage("--workers must be 1..1000");
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
            {"heartbeat_s", kHeartbeatS},
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
      pid_t r = waitpid(pid_, &status, seconds < 0 ? 0 : WNOHANG);
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

 private:
  pid_t pid_ = -1;
  int status_ = -1;
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
  std::map<int64_t, Job> jobs;    // By lease.
  std::multiset<double> free_at;  // When each free slot became free.
};

struct Figures {
  int64_t epochs_sent = 0;
  int64_t assigns = 0;
  int64_t continues = 0;
  int64_t stops_mid_job = 0;  // Pruned before the job's last epoch.
  int64_t heartbeats = 0;
  int welcomes = 0;
  int64_t unexpected = 0;  // rejoin, error, assign without a free slot.
  std::vector<double> latency_ms;
};

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

void Send(Worker& w, const hpo::Message& m) {
  const std::string bytes = hpo::Encode(m);
  if (!w.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
    Fail("a worker's send queue is full");
  }
  w.last_sent = Now();
}

void SendHello(Worker& w, int index, int slots) {
  Send(w, hpo::MakeMessage(hpo::MessageType::kHello,
                           {{"name", "bench-" + std::to_string(index)},
                            {"host", "localhost"},
                            {"devices", json::array({"cpu"})},
                            {"slots", slots},
                            {"session", w.session},
                            {"pid", static_cast<int64_t>(getpid())}}));
  const double now = Now();
  w.free_at.clear();
  for (int s = 0; s < slots; ++s) w.free_at.insert(now);
}

// Sends the next epoch of `job`, with metrics from its analytic curve.
void SendEpoch(Worker& w, Job& job, Figures& f) {
  const int epoch = ++job.epoch;
  const double acc = job.q * (1 - std::exp(-epoch / job.tau));
  const double loss = 2.3 * (1 - acc);
  Send(w, hpo::MakeMessage(hpo::MessageType::kEpoch,
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
                            {"checkpoint", nullptr}}));
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
  switch (m.type) {
    case hpo::MessageType::kWelcome:
      if (!w.welcomed) ++f.welcomes;
      w.welcomed = true;
      break;
    case hpo::MessageType::kAssign: {
      ++f.assigns;
      if (w.free_at.empty()) {
        ++f.unexpected;
      } else {
        f.latency_ms.push_back(1000 * (now - *w.free_at.begin()));
        w.free_at.erase(w.free_at.begin());
      }
      Job job;
      job.lease = b.at("lease").get<int64_t>();
      job.trial = b.at("trial").get<int64_t>();
      job.epoch = static_cast<int>(b.at("from_epoch").get<int64_t>());
      job.to_epoch = static_cast<int>(b.at("to_epoch").get<int64_t>());
      job.q = 0.3 + 0.6 * Unit(static_cast<uint64_t>(job.trial) * 2);
      job.tau = 1 + 9 * Unit(static_cast<uint64_t>(job.trial) * 2 + 1);
      job.next_at = now + EpochSeconds(o, job);
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
          job.waiting_since = -1;
        }
        job.to_epoch = to;
        job.next_at = now + EpochSeconds(o, job);
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
        Send(w, hpo::MakeMessage(hpo::MessageType::kBye,
                                 {{"why", "exiting (--exit-when-done)"}}));
      }
      w.done = true;
      break;
    case hpo::MessageType::kHeartbeat:
      break;
    case hpo::MessageType::kRejoin:
      ++f.unexpected;
      w.jobs.clear();
      w.session = hpo::NewLease();
      SendHello(w, index, o.slots);
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

}  // namespace

int Run(const Options& o) {
  signal(SIGPIPE, SIG_IGN);

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

  std::string reproduce = "build/bench/coordinator_bench --workers " +
                          std::to_string(o.workers) + " --trials " +
                          std::to_string(o.trials) + " --epochs " +
                          std::to_string(o.epochs) + " --algorithm " +
                          o.algorithm + " --slots " + std::to_string(o.slots);
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
  std::printf("reproduce: %s\n\n", reproduce.c_str());
  std::fflush(stdout);

  const double spawned = Now();
  Child child({HPO_COORDINATOR, "--study", study, "--db", db, "--bind",
               "tcp://127.0.0.1:*"},
              out, log);
  const std::string endpoint = WaitForEndpoint(child, log);
  const double listening = Now();

  zmq::context_t context(1);
  std::vector<Worker> workers(static_cast<size_t>(o.workers));
  std::vector<zmq::pollitem_t> items;
  for (size_t i = 0; i < workers.size(); ++i) {
    Worker& w = workers[i];
    w.socket =
        std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    w.socket->set(zmq::sockopt::linger, 0);
    w.socket->set(zmq::sockopt::sndhwm, 100000);
    w.socket->set(zmq::sockopt::rcvhwm, 100000);
    w.socket->set(
        zmq::sockopt::routing_id,
        "bench" + std::to_string(i) + "-" + std::to_string(hpo::NewLease()));
    w.socket->connect(endpoint);
    w.session = hpo::NewLease();
    items.push_back({w.socket->handle(), 0, ZMQ_POLLIN, 0});
  }

  Figures f;
  const double start = Now();
  for (size_t i = 0; i < workers.size(); ++i) {
    SendHello(workers[i], static_cast<int>(i), o.slots);
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
        if (w.done && !was_done) ++done;
      }
    }
    const double now = Now();
    for (Worker& w : workers) {
      if (w.welcomed && !w.done && now - w.last_sent >= kHeartbeatS) {
        json running = json::array();
        for (const auto& [lease, job] : w.jobs) running.push_back(lease);
        Send(w, hpo::MakeMessage(hpo::MessageType::kHeartbeat,
                                 {{"running", running}}));
        ++f.heartbeats;
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
  const double end = Now();
  if (!child.Wait(30)) Fail("hpo-coordinator did not exit after the study");
  const double exited = Now();
  if (child.exit_code() != 0) {
    Fail("hpo-coordinator exited with status " +
         std::to_string(child.exit_code()) + "; log:\n" + ReadFile(log));
  }
  rusage coordinator_usage{}, own_usage{};
  getrusage(RUSAGE_CHILDREN, &coordinator_usage);
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
  line("bench (emulated workers) CPU (s)", "%.3f", cpu_bench);
  line("last done to coordinator exit (s)", "%.3f", exited - end);
  line("heartbeats sent", "%.0f", static_cast<double>(f.heartbeats));
  line("unexpected (rejoin, extra assign)", "%.0f",
       static_cast<double>(f.unexpected));
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
