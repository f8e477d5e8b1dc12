// A small network of separate hosts for integration tests: one Linux network
// namespace per host, each with one Ethernet port (eth0, a TAP device) cabled
// to a switch that runs in this process on its own thread. The switch learns
// addresses like a bridge and, as an impairment box, can pull a host's cable
// (every frame to or from it is lost) and add one-way delay with jitter and
// random loss to every frame, as tc netem does; NetemImpair() applies the
// kernel's netem instead where the kernel has it.
//
// Needs root (CAP_NET_ADMIN), iproute2's `ip` and /dev/net/tun; Unavailable()
// says why a lab cannot be built here. Namespaces are named hpolab<pid>-HOST,
// removed by the destructor, and those of a test process that died without
// cleaning up are removed (with the processes left in them) by the next lab.
#ifndef HPO_TESTS_UTIL_NET_LAB_H_
#define HPO_TESTS_UTIL_NET_LAB_H_

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/util/leftovers.h"
#include "tests/util/process.h"

namespace hpo::testutil {

// The path of iproute2's `ip`, or "" when it is not installed.
inline std::string IpCommand() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// The path of iproute2's `tc`, or "".
inline std::string TcCommand() {
  for (const char* p : {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc", "/bin/tc"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

class NetLab {
 public:
  // What the switch has done since the lab was made.
  struct Counters {
    int64_t forwarded = 0;  // Frames delivered to a port.
    int64_t lost = 0;       // Frames dropped at random (impairment).
    int64_t cut = 0;        // Frames dropped at a pulled cable.
  };

  // Why a lab cannot be built on this machine, or "" when it can. Tries to
  // create (and removes) a namespace with a TAP device in it.
  static std::string Unavailable(const std::string& dir) {
    if (geteuid() != 0) return "needs root (network namespaces, TAP devices)";
    if (IpCommand().empty()) return "iproute2's ip is not installed";
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
      return "/dev/net/tun is missing (no TUN/TAP in this kernel)";
    }
    const std::string ns = "hpolab" + std::to_string(getpid()) + "-probe";
    CommandResult r = RunCommand({IpCommand(), "netns", "add", ns}, dir);
    if (r.code != 0) return "ip netns add failed: " + FirstLine(r.err);
    std::string why;
    r = RunCommand(
        {IpCommand(), "-n", ns, "tuntap", "add", "dev", "eth0", "mode", "tap"},
        dir);
    if (r.code != 0) {
      why = "ip tuntap add failed in a namespace: " + FirstLine(r.err);
    } else {
      std::string error;
      int fd = AttachTap(ns, "eth0", &error);
      if (fd < 0) why = error;
      if (fd >= 0) close(fd);
    }
    RunCommand({IpCommand(), "netns", "del", ns}, dir);
    return why;
  }

  // Makes one namespace per host, with eth0 at 10.77.0.(i + 1)/24 in the
  // order given, cabled to the switch. `dir` holds the output of the
  // commands it runs. Throws std::runtime_error when a step fails.
  NetLab(const std::vector<std::string>& hosts, const std::string& dir)
      : dir_(dir), ip_(IpCommand()) {
    RemoveLeftovers(dir_);
    try {
      for (size_t i = 0; i < hosts.size(); ++i) {
        auto port = std::make_unique<Port>();
        port->host = hosts[i];
        port->ns = "hpolab" + std::to_string(getpid()) + "-" + hosts[i];
        port->address = "10.77.0." + std::to_string(i + 1);
        Ip({"netns", "add", port->ns});
        ports_.push_back(std::move(port));
        Port& p = *ports_.back();
        Ip({"-n", p.ns, "link", "set", "lo", "up"});
        Ip({"-n", p.ns, "tuntap", "add", "dev", "eth0", "mode", "tap"});
        Ip({"-n", p.ns, "addr", "add", p.address + "/24", "dev", "eth0"});
        Ip({"-n", p.ns, "link", "set", "eth0", "up"});
        std::string error;
        p.fd = AttachTap(p.ns, "eth0", &error);
        if (p.fd < 0) throw std::runtime_error(error);
      }
    } catch (...) {
      Teardown();
      throw;
    }
    thread_ = std::thread([this] { Switch(); });
  }

  ~NetLab() { Teardown(); }
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  const std::string& ns(const std::string& host) const { return port(host).ns; }
  const std::string& address(const std::string& host) const {
    return port(host).address;
  }

  // `argv` run on `host` (ip netns exec NS ARGV...).
  std::vector<std::string> On(const std::string& host,
                              const std::vector<std::string>& argv) const {
    std::vector<std::string> out = {ip_, "netns", "exec", ns(host)};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  // Pulls `host`'s cable out of the switch: every frame to or from it,
  // including those already on the wire, is lost until Heal().
  void Cut(const std::string& host) { port(host).cut = true; }
  void Heal(const std::string& host) { port(host).cut = false; }

  // Delays every frame the switch forwards by `delay_s` +- `jitter_s`
  // (uniform; frames to one port keep their order) and loses a fraction
  // `loss` of them at random. Zeros restore a perfect network.
  void SwitchImpair(double delay_s, double jitter_s, double loss) {
    std::lock_guard<std::mutex> lock(mutex_);
    delay_s_ = delay_s;
    jitter_s_ = jitter_s;
    loss_ = loss;
  }

  // The same with `tc qdisc ... netem` on every host's eth0 (so one netem
  // per direction of every path). False, with the reason, when tc or the
  // kernel's netem is missing; nothing is changed then.
  bool NetemImpair(int delay_ms, int jitter_ms, double loss_percent,
                   std::string* why) {
    const std::string tc = TcCommand();
    if (tc.empty()) {
      *why = "iproute2's tc is not installed";
      return false;
    }
    for (const auto& p : ports_) {
      std::ostringstream loss;
      loss << loss_percent << "%";
      CommandResult r =
          RunCommand({tc, "-n", p->ns, "qdisc", "replace", "dev", "eth0",
                      "root", "netem", "delay", std::to_string(delay_ms) + "ms",
                      std::to_string(jitter_ms) + "ms", "loss", loss.str()},
                     dir_);
      if (r.code != 0) {
        *why = "tc qdisc ... netem: " + FirstLine(r.err) +
               " (this kernel has no sch_netem)";
        for (const auto& q : ports_) {
          RunCommand({tc, "-n", q->ns, "qdisc", "del", "dev", "eth0", "root"},
                     dir_);
        }
        return false;
      }
    }
    return true;
  }

  Counters counters() const {
    Counters c;
    c.forwarded = forwarded_;
    c.lost = lost_;
    c.cut = cut_;
    return c;
  }

  // TCP segments `host`'s kernel has retransmitted (RetransSegs of
  // /proc/net/snmp in its namespace), or -1 if it cannot be read.
  int64_t TcpRetransmits(const std::string& host) const {
    CommandResult r =
        RunCommand(On(host, {"/bin/cat", "/proc/net/snmp"}), dir_);
    std::istringstream in(r.out);
    std::string names, values;
    while (std::getline(in, names)) {
      if (names.rfind("Tcp:", 0) != 0 || !std::getline(in, values)) continue;
      std::istringstream n(names), v(values);
      std::string name, value;
      while (n >> name && v >> value) {
        if (name == "RetransSegs") return std::stoll(value);
      }
    }
    return -1;
  }

 private:
  struct Port {
    std::string host, ns, address;
    int fd = -1;
    std::atomic<bool> cut{false};
  };
  struct Frame {
    double due = 0;
    uint64_t seq = 0;
    size_t to = 0;
    std::string bytes;
    bool operator>(const Frame& o) const {
      return due != o.due ? due > o.due : seq > o.seq;
    }
  };

  static std::string FirstLine(const std::string& text) {
    return text.substr(0, text.find('\n'));
  }

  static double Now() {
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Opens the TAP device `dev` of namespace `ns` (on a thread that enters
  // the namespace, so the rest of the process stays where it is); returns
  // its descriptor, or -1 with `error` set.
  static int AttachTap(const std::string& ns, const std::string& dev,
                       std::string* error) {
    int result = -1;
    std::thread t([&] {
      const std::string path = "/var/run/netns/" + ns;
      int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) {
        *error = path + ": " + std::strerror(errno);
        return;
      }
      if (setns(nsfd, CLONE_NEWNET) != 0) {
        *error = "setns " + ns + ": " + std::strerror(errno);
        close(nsfd);
        return;
      }
      close(nsfd);
      int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        *error = std::string("/dev/net/tun: ") + std::strerror(errno);
        return;
      }
      ifreq ifr = {};
      ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
      std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
      if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        *error = "TUNSETIFF " + dev + " in " + ns + ": " + std::strerror(errno);
        close(fd);
        return;
      }
      result = fd;
    });
    t.join();
    return result;
  }

  // Removes the namespaces (and kills the processes in them) of lab
  // owners that no longer run.
  static void RemoveLeftovers(const std::string& dir) {
    const std::string ip = IpCommand();
    CommandResult r = RunCommand({ip, "netns", "list"}, dir);
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind("hpolab", 0) != 0) continue;
      const pid_t owner = std::atoi(name.c_str() + 6);
      if (owner <= 0 || owner == getpid() || OwnerRuns(owner)) continue;
      CommandResult pids = RunCommand({ip, "netns", "pids", name}, dir);
      std::istringstream p(pids.out);
      for (pid_t pid; p >> pid;) kill(pid, SIGKILL);
      RunCommand({ip, "netns", "del", name}, dir);
    }
  }

  void Ip(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {ip_};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv, dir_);
    if (r.code != 0) {
      std::string cmd;
      for (const std::string& a : argv) cmd += a + " ";
      throw std::runtime_error(cmd + "failed: " + FirstLine(r.err));
    }
  }

  Port& port(const std::string& host) const {
    for (const auto& p : ports_) {
      if (p->host == host) return *p;
    }
    throw std::out_of_range("no host " + host + " in the lab");
  }

  void Teardown() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (const auto& p : ports_) {
      if (p->fd >= 0) close(p->fd);
      p->fd = -1;
      // Processes still in the namespace were started by the test; the
      // Process objects that own them kill them first in a normal run.
      CommandResult pids = RunCommand({ip_, "netns", "pids", p->ns}, dir_);
      std::istringstream in(pids.out);
      for (pid_t pid; in >> pid;) kill(pid, SIGKILL);
      RunCommand({ip_, "netns", "del", p->ns}, dir_);
    }
    ports_.clear();
  }

  // The switch: reads frames from every port, learns which port each
  // source address is behind, and forwards (or floods) them through the
  // impairments.
  void Switch() {
    std::mt19937_64 rng(20261121);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::map<std::array<unsigned char, 6>, size_t> where;
    std::priority_queue<Frame, std::vector<Frame>, std::greater<Frame>> wire;
    std::vector<double> last_due(ports_.size(), 0);
    std::vector<pollfd> fds(ports_.size());
    for (size_t i = 0; i < ports_.size(); ++i) {
      fds[i] = {ports_[i]->fd, POLLIN, 0};
    }
    uint64_t seq = 0;
    std::vector<unsigned char> buffer(65536);
    while (!stop_) {
      double now = Now();
      while (!wire.empty() && wire.top().due <= now) {
        const Frame& f = wire.top();
        if (ports_[f.to]->cut) {
          ++cut_;
        } else if (write(ports_[f.to]->fd, f.bytes.data(), f.bytes.size()) >
                   0) {
          ++forwarded_;
        }
        wire.pop();
      }
      int timeout_ms = 5;
      if (!wire.empty()) {
        timeout_ms = std::min(
            timeout_ms,
            std::max(0, static_cast<int>((wire.top().due - now) * 1000)));
      }
      if (poll(fds.data(), fds.size(), timeout_ms) <= 0) continue;
      double delay, jitter, loss;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        delay = delay_s_;
        jitter = jitter_s_;
        loss = loss_;
      }
      now = Now();
      for (size_t from = 0; from < ports_.size(); ++from) {
        if (!(fds[from].revents & POLLIN)) continue;
        for (int n = 0; n < 64; ++n) {
          ssize_t got = read(ports_[from]->fd, buffer.data(), buffer.size());
          if (got < 14) break;  // EAGAIN, or not an Ethernet frame.
          if (ports_[from]->cut) {
            ++cut_;
            continue;
          }
          std::array<unsigned char, 6> dst, src;
          std::memcpy(dst.data(), buffer.data(), 6);
          std::memcpy(src.data(), buffer.data() + 6, 6);
          where[src] = from;
          auto known = where.find(dst);
          for (size_t to = 0; to < ports_.size(); ++to) {
            if (to == from) continue;
            if (known != where.end() && known->second != to) continue;
            if (loss > 0 && unit(rng) < loss) {
              ++lost_;
              continue;
            }
            Frame f;
            f.due = now + std::max(0.0, delay + jitter * (2 * unit(rng) - 1));
            f.due = std::max(f.due, last_due[to]);
            last_due[to] = f.due;
            f.seq = seq++;
            f.to = to;
            f.bytes.assign(reinterpret_cast<const char*>(buffer.data()),
                           static_cast<size_t>(got));
            wire.push(std::move(f));
          }
        }
      }
    }
  }

  std::string dir_;
  std::string ip_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  double delay_s_ = 0, jitter_s_ = 0, loss_ = 0;
  std::atomic<int64_t> forwarded_{0}, lost_{0}, cut_{0};
};

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_NET_LAB_H_
