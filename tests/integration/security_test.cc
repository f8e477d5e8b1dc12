// Security over real sockets on loopback, with real processes and keys made
// by hpo-keygen: a CurveZMQ coordinator lets in only the workers whose keys
// it holds, its traffic is encrypted (a relay in the middle sees no study
// name), workers without keys or with the wrong ones get nothing, bad key
// files are bad input, a coordinator on a public interface without keys
// warns, and a flood from one peer neither stops a study nor goes unlogged.
// Studies use the synthetic trainer, so each takes about a second.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/protocol.h"
#include "common/store.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/skip.h"
#include "tests/util/study_checks.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::Process;
using testutil::ReadFile;
using testutil::RunCommand;
using testutil::WaitFor;

// A name that appears on the wire only inside the study spec of "welcome".
constexpr char kStudyName[] = "zebra_quartz_study";
constexpr int kTrials = 4;

json TinyStudy(int max_trials, double epoch_seconds) {
  return {
      {"name", kStudyName},
      {"seed", 3},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "synthetic"}, {"epoch_seconds", epoch_seconds}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-1}}}}},
      {"algorithm", {{"type", "random"}, {"max_epochs", 3}}},
      {"budget", {{"max_trials", max_trials}}},
      {"execution",
       {{"max_attempts", 2}, {"heartbeat_s", 0.1}, {"lease_timeout_s", 3}}}};
}

// Relays TCP connections from a port of its own to `target_port` on
// loopback and keeps every byte it relays, both ways: what an eavesdropper
// on the network would see.
class TcpRelay {
 public:
  explicit TcpRelay(int target_port) : target_port_(target_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_, 16);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TcpRelay() {
    stop_ = true;
    thread_.join();
    for (auto [a, b] : pairs_) {
      close(a);
      close(b);
    }
    close(listener_);
  }

  std::string endpoint() const {
    return "tcp://127.0.0.1:" + std::to_string(port_);
  }
  std::string bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void Run() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (auto [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int in = accept(listener_, nullptr, nullptr);
        int out = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr = Loopback(target_port_);
        if (connect(out, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) {
          close(in);
          close(out);
        } else {
          pairs_.push_back({in, out});
        }
        continue;  // The pair indices below no longer match fds.
      }
      for (size_t i = 0; i < pairs_.size(); ++i) {
        for (int side = 0; side < 2; ++side) {
          if (!(fds[1 + 2 * i + side].revents & (POLLIN | POLLHUP))) continue;
          int from = side ? pairs_[i].second : pairs_[i].first;
          int to = side ? pairs_[i].first : pairs_[i].second;
          char buf[65536];
          ssize_t n = read(from, buf, sizeof buf);
          if (n <= 0 || write(to, buf, n) != n) {
            shutdown(pairs_[i].first, SHUT_RDWR);
            shutdown(pairs_[i].second, SHUT_RDWR);
            continue;
          }
          std::lock_guard<std::mutex> lock(mutex_);
          bytes_.append(buf, n);
        }
      }
    }
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::vector<std::pair<int, int>> pairs_;
  mutable std::mutex mutex_;
  std::string bytes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int PortOf(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

class SecurityTest : public testutil::ProcessClusterTest {
 protected:
  SecurityTest() : ProcessClusterTest("hpo_security") {}

  void SetUp() override {
    ProcessClusterTest::SetUp();
    if (HasFatalFailure()) return;
    if (!CurveAvailable()) HPO_SKIP_UNLESS_REQUIRED("libzmq without CURVE");
    std::filesystem::create_directories(dir_ + "/keys");
    std::filesystem::create_directories(dir_ + "/authorized");
    for (const char* name : {"coordinator", "worker", "rogue"}) {
      auto r = RunCommand({HPO_KEYGEN, "--out", Key(name)}, dir_);
      ASSERT_EQ(r.code, 0) << r.err;
    }
    std::filesystem::copy_file(Key("worker") + ".pub",
                               dir_ + "/authorized/worker.pub");
    study_ = dir_ + "/study.json";
    std::ofstream(study_) << TinyStudy(kTrials, 0.01).dump(2);
    db_ = dir_ + "/results.db";
  }
  std::string Key(const std::string& name) const {
    return dir_ + "/keys/" + name;
  }

  // Starts a coordinator (with keys unless `curve` is false) and returns it
  // with the endpoint it bound.
  Process* StartCoordinator(bool curve, std::string* endpoint,
                            std::vector<std::string> extra = {},
                            const std::string& bind = "tcp://127.0.0.1:*") {
    if (curve) {
      extra.insert(extra.begin(),
                   {"--curve-secret", Key("coordinator") + ".key",
                    "--authorized-workers", dir_ + "/authorized"});
    }
    return ProcessClusterTest::StartCoordinator(study_, db_, bind,
                                                /*resume=*/false, endpoint,
                                                extra);
  }

  // Starts a worker; `keys` names its key pair ("" for none), `server` the
  // coordinator key it trusts.
  Process* StartWorker(const std::string& endpoint, const std::string& name,
                       const std::string& keys,
                       const std::string& server = "coordinator") {
    std::vector<std::string> extra = {"--exit-when-done"};
    if (!keys.empty()) {
      extra.insert(extra.end(), {"--curve-public", Key(keys) + ".pub",
                                 "--curve-secret", Key(keys) + ".key",
                                 "--server-public", Key(server) + ".pub"});
    }
    return ProcessClusterTest::StartWorker(endpoint, name, extra);
  }

  // The names in the database's workers table.
  std::vector<std::string> WorkerRows() {
    std::vector<std::string> names;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT name FROM workers", -1, &stmt,
                             nullptr) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
          names.push_back(
              reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
        }
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return names;
  }

  int64_t Metrics() {
    try {
      auto store = Store::Open(db_, true);
      auto study = store->FindStudy(kStudyName);
      return study ? static_cast<int64_t>(store->Metrics(study->id, -1).size())
                   : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }

  void ExpectComplete() {
    auto store = Store::Open(db_, true);
    auto study = store->FindStudy(kStudyName);
    ASSERT_TRUE(study);
    EXPECT_EQ(study->state, "complete");
    EXPECT_EQ(store->Trials(study->id, "complete").size(),
              static_cast<size_t>(kTrials));
  }

  std::string study_;
  std::string db_;
};

TEST_F(SecurityTest, KeygenWritesAPrivateSecretAndAPublicKey) {
  struct stat st = {};
  ASSERT_EQ(stat((Key("worker") + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const CurveKeyPair keys = ReadSecretKeyFile(Key("worker") + ".key");
  EXPECT_EQ(ReadPublicKeyFile(Key("worker") + ".pub"), keys.public_key);
  EXPECT_NE(ReadFile(Key("worker") + ".pub").find("public-key = \""),
            std::string::npos);
  // Never overwrites a key pair by accident.
  auto r = RunCommand({HPO_KEYGEN, "--out", Key("worker")}, dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(ReadSecretKeyFile(Key("worker") + ".key").secret_key,
            keys.secret_key);
  r = RunCommand({HPO_KEYGEN, "--out", Key("worker"), "--force"}, dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(ReadSecretKeyFile(Key("worker") + ".key").secret_key,
            keys.secret_key);
  r = RunCommand({HPO_KEYGEN}, dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--out NAME is required"), std::string::npos);
}

TEST_F(SecurityTest, AuthorisedWorkerCompletesAStudyOverEncryptedTraffic) {
  std::string endpoint;
  Process* coordinator = StartCoordinator(true, &endpoint);
  TcpRelay relay(PortOf(endpoint));
  Process* worker = StartWorker(relay.endpoint(), "trusted", "worker");
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(worker->Wait(20), 0) << worker->log();
  ExpectComplete();
  EXPECT_EQ(WorkerRows(), std::vector<std::string>{"trusted"});
  const std::string log = coordinator->log();
  EXPECT_NE(log.find("CurveZMQ on: server public key " +
                     ReadPublicKeyFile(Key("coordinator") + ".pub")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("1 authorised worker key(s)"), std::string::npos) << log;
  // Everything went through the relay, and none of it in clear text.
  const std::string wire = relay.bytes();
  EXPECT_GT(wire.size(), 2000u);
  EXPECT_EQ(wire.find(kStudyName), std::string::npos);
  EXPECT_EQ(wire.find("synthetic"), std::string::npos);
  EXPECT_NE(wire.find("CURVE"), std::string::npos);  // The ZMTP greeting.
}

TEST_F(SecurityTest, WithoutKeysTheRelaySeesTheStudy) {
  // The control for the test above: the same relay does see plain traffic.
  std::string endpoint;
  Process* coordinator = StartCoordinator(false, &endpoint);
  TcpRelay relay(PortOf(endpoint));
  StartWorker(relay.endpoint(), "plain", "");
  EXPECT_TRUE(WaitFor(
      [&] { return relay.bytes().find(kStudyName) != std::string::npos; }, 20))
      << coordinator->log();
}

TEST_F(SecurityTest, WorkersWithoutAnAuthorisedKeyGetNothingUntilAuthorised) {
  std::string endpoint;
  Process* coordinator = StartCoordinator(true, &endpoint);
  // A valid key pair the coordinator does not know, a worker without keys,
  // and an authorised key that trusts the wrong server key.
  Process* rogue = StartWorker(endpoint, "rogue", "rogue");
  Process* plain = StartWorker(endpoint, "plain", "");
  Process* misled = StartWorker(endpoint, "misled", "worker", "rogue");
  // A plaintext DEALER speaking the protocol gets no answer either.
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  (void)dealer.send(zmq::buffer(Encode(MakeMessage(
                        MessageType::kHello, {{"name", "raw"},
                                              {"host", "h"},
                                              {"devices", json::array({"cpu"})},
                                              {"slots", 1},
                                              {"session", 1},
                                              {"pid", 1}}))),
                    zmq::send_flags::dontwait);
  const std::string rogue_key = ReadPublicKeyFile(Key("rogue") + ".pub");
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = coordinator->log();
        return log.find("its public key " + rogue_key) != std::string::npos &&
               log.find("failed the CURVE handshake") != std::string::npos &&
               rogue->log().find("refused this worker's key") !=
                   std::string::npos &&
               plain->log().find("handshake with the coordinator") !=
                   std::string::npos;
      },
      10))
      << coordinator->log() << rogue->log() << plain->log();
  zmq::pollitem_t item = {dealer.handle(), 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(200)), 0);
  // Nothing joined, nothing ran.
  EXPECT_EQ(Metrics(), 0);
  EXPECT_TRUE(WorkerRows().empty());
  EXPECT_EQ(coordinator->log().find("joined"), std::string::npos);
  EXPECT_EQ(coordinator->Wait(0), std::nullopt);

  // Once its key is in the directory, the rogue worker (which kept
  // retrying) is let in without a restart of either side, and the study
  // goes on; the others still get nothing.
  std::filesystem::copy_file(Key("rogue") + ".pub",
                             dir_ + "/authorized/rogue.pub");
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(rogue->Wait(20), 0) << rogue->log();
  EXPECT_NE(coordinator->log().find("authorised workers: 2 key(s)"),
            std::string::npos)
      << coordinator->log();
  ExpectComplete();
  EXPECT_EQ(WorkerRows(), std::vector<std::string>{"rogue"});
  for (Process* p : {plain, misled}) {
    EXPECT_EQ(p->log().find("joined"), std::string::npos) << p->log();
  }
}

// A hostile coordinator (a ROUTER in this test) cannot make a real worker
// train with parameters outside the study, delete files outside its
// checkpoint directory, or read data outside --data.
TEST_F(SecurityTest, AWorkerChecksWhatTheCoordinatorSends) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ + "/data/checkpoints");
  fs::create_directories(dir_ + "/outside");
  std::ofstream(dir_ + "/outside/victim") << "keep me";
  fs::create_directory_symlink(dir_ + "/outside",
                               dir_ + "/data/checkpoints/link");
  zmq::context_t context;
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  // Waits for the next message of `type` from a worker; returns its body.
  std::string identity;
  auto receive = [&](MessageType type) -> json {
    zmq::pollitem_t item = {router.handle(), 0, ZMQ_POLLIN, 0};
    const auto end =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      zmq::message_t id, payload;
      while (router.recv(id, zmq::recv_flags::dontwait)) {
        (void)router.recv(payload);
        Message m = Decode(payload.data(), payload.size());
        if (m.type == type) {
          identity = id.to_string();
          return m.body;
        }
      }
    }
    return nullptr;
  };
  auto send = [&](MessageType type, json fields) {
    router.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    router.send(zmq::buffer(Encode(MakeMessage(type, std::move(fields)))),
                zmq::send_flags::none);
  };
  json spec = TinyStudy(kTrials, 0.01);
  auto welcome = [&](const json& study) {
    send(MessageType::kWelcome, {{"worker_id", 1},
                                 {"study", kStudyName},
                                 {"spec", study},
                                 {"heartbeat_s", 0.1},
                                 {"lease_timeout_s", 5}});
  };
  Process* worker = processes_
                        .emplace_back(std::make_unique<Process>(
                            std::vector<std::string>{
                                HPO_WORKER, "--connect", endpoint, "--name",
                                "target", "--data", dir_ + "/data"},
                            dir_ + "/target.log"))
                        .get();
  ASSERT_FALSE(receive(MessageType::kHello).is_null()) << worker->log();
  welcome(spec);
  send(MessageType::kAssign, {{"lease", 77},
                              {"trial", 0},
                              {"attempt", 1},
                              {"study", kStudyName},
                              {"params", {{"lr", 5.0}, {"data_dir", "/etc"}}},
                              {"from_epoch", 0},
                              {"to_epoch", 3}});
  json failure = receive(MessageType::kFailure);
  ASSERT_FALSE(failure.is_null()) << worker->log();
  EXPECT_EQ(failure["lease"], 77);
  EXPECT_EQ(failure["kind"], "config");
  EXPECT_NE(failure["message"].get<std::string>().find(
                "params.lr: 5.0 is out of the range"),
            std::string::npos)
      << failure;
  EXPECT_NE(failure["message"].get<std::string>().find("params.data_dir"),
            std::string::npos)
      << failure;

  send(MessageType::kForget,
       {{"study", kStudyName},
        {"checkpoints",
         {"../../outside/victim", dir_ + "/outside/victim", "link/victim"}}});
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = worker->log();
        size_t n = 0;
        for (size_t at = 0; (at = log.find("refused to delete checkpoint",
                                           at)) != std::string::npos;
             ++at) {
          ++n;
        }
        return n == 3;
      },
      10))
      << worker->log();
  EXPECT_TRUE(fs::exists(dir_ + "/outside/victim"));

  // A study whose data lies outside --data is refused: the worker exits 2.
  spec["data"] = {{"shards", "../outside"}};
  welcome(spec);
  EXPECT_EQ(worker->Wait(10), 2) << worker->log();
  EXPECT_NE(worker->log().find("data.shards ../outside has a \"..\""),
            std::string::npos)
      << worker->log();
}

TEST_F(SecurityTest, BadKeyFilesAreBadInput) {
  auto coordinator = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        HPO_COORDINATOR, "--study",          study_, "--db", db_,
        "--bind",        "tcp://127.0.0.1:*"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, dir_);
  };
  const std::string authorized = dir_ + "/authorized";
  auto r = coordinator({"--curve-secret", Key("nope") + ".key",
                        "--authorized-workers", authorized});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--curve-secret " + Key("nope") + ".key: cannot read"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("hpo-keygen --out " + Key("nope")), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  chmod((Key("coordinator") + ".key").c_str(), 0640);
  r = coordinator({"--curve-secret", Key("coordinator") + ".key",
                   "--authorized-workers", authorized});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  chmod((Key("coordinator") + ".key").c_str(), 0600);

  r = coordinator({"--curve-secret", Key("coordinator") + ".pub",
                   "--authorized-workers", authorized});
  EXPECT_EQ(r.code, 2);  // A public key where the secret one goes.

  r = coordinator({"--curve-secret", Key("coordinator") + ".key"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("go together"), std::string::npos) << r.err;

  std::ofstream(authorized + "/broken.pub") << "public-key = \"short\"\n";
  r = coordinator({"--curve-secret", Key("coordinator") + ".key",
                   "--authorized-workers", authorized});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("broken.pub:1: public-key is not a 40-character"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(db_));  // Refused before starting.

  auto worker = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {HPO_WORKER, "--connect",
                                     "tcp://127.0.0.1:1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, dir_);
  };
  r = worker({"--curve-public", Key("rogue") + ".pub", "--curve-secret",
              Key("worker") + ".key", "--server-public",
              Key("coordinator") + ".pub"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is not the public key of --curve-secret"),
            std::string::npos)
      << r.err;
  r = worker({"--curve-public", Key("worker") + ".pub", "--curve-secret",
              Key("worker") + ".key", "--server-public",
              Key("coordinator") + ".key"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--server-public " + Key("coordinator") +
                       ".key: holds a secret key"),
            std::string::npos)
      << r.err;
}

TEST_F(SecurityTest, PublicBindWithoutKeysWarns) {
  auto r = RunCommand({HPO_COORDINATOR, "--help"}, dir_);
  EXPECT_NE(r.out.find("tcp://127.0.0.1:5555"), std::string::npos) << r.out;
  std::string endpoint;
  Process* open = StartCoordinator(false, &endpoint, {}, "tcp://0.0.0.0:*");
  EXPECT_TRUE(WaitFor(
      [&] {
        return open->log().find("warning: listening on tcp://0.0.0.0:") !=
               std::string::npos;
      },
      5))
      << open->log();
  open->Signal(SIGTERM);
  open->Wait(10);
  db_ = dir_ + "/local.db";
  Process* local = StartCoordinator(false, &endpoint);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(local->log().find("warning"), std::string::npos) << local->log();
  local->Signal(SIGTERM);
  local->Wait(10);
}

TEST_F(SecurityTest, AFloodFromOnePeerIsDroppedAndTheStudyGoesOn) {
  // About 1.2 s of training, so the study runs through the flood.
  std::ofstream(study_) << TinyStudy(kTrials, 0.1).dump(2);
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(false, &endpoint, {"--worker-rate-limit", "500"});
  Process* worker = StartWorker(endpoint, "busy", "");
  ASSERT_TRUE(WaitFor([&] { return Metrics() > 0; }, 20));
  // Well-formed heartbeats from an unknown peer, as fast as it can: without
  // a limit each would be decoded and answered. It floods until the
  // coordinator has said it drops them and the worker has been served
  // meanwhile (at least a second, at most 30 s: a loaded machine sends
  // slower, so the test waits for the outcome rather than timing it).
  zmq::context_t context;
  zmq::socket_t flood(context, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.set(zmq::sockopt::routing_id, std::string("flooder"));
  flood.connect(endpoint);
  const std::string heartbeat = Encode(
      MakeMessage(MessageType::kHeartbeat, {{"running", json::array()}}));
  const std::string limited =
      "from peer flooder over the rate limit (500 messages/s";
  int64_t sent = 0;
  const int64_t before_flood = Metrics();
  int64_t after_flood = before_flood;
  bool dropped = false;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  auto next_look = start;
  while (elapsed() < 30) {
    for (int i = 0; i < 100; ++i) {
      sent += flood.send(zmq::buffer(heartbeat), zmq::send_flags::dontwait)
                  .has_value();
    }
    zmq::message_t reply;
    while (flood.recv(reply, zmq::recv_flags::dontwait)) {
    }
    if (std::chrono::steady_clock::now() < next_look) continue;
    next_look =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    dropped = dropped || coordinator->log().find(limited) != std::string::npos;
    after_flood = Metrics();
    if (dropped && after_flood > before_flood && elapsed() >= 1) break;
  }
  const double flood_s = elapsed();
  std::printf(
      "flood: %lld heartbeats in %.2f s (%.0f per second) against a "
      "limit of 500 messages/s\n",
      static_cast<long long>(sent), flood_s, sent / flood_s);
  EXPECT_TRUE(dropped) << "no rate-limit line after " << sent
                       << " heartbeats in " << flood_s << " s";
  EXPECT_GT(after_flood, before_flood);  // The worker was served meanwhile.
  ASSERT_EQ(coordinator->Wait(60), 0) << coordinator->log();
  EXPECT_EQ(worker->Wait(20), 0) << worker->log();
  ExpectComplete();
}

}  // namespace
}  // namespace hpo
