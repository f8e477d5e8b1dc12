#include "coordinator/zap_auth.h"

#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/curve_keys.h"
#include "common/error.h"

namespace hpo {

namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr double kLogEvery = 60;  // Seconds between repeats of a log line.

// Receives the rest of a multipart message.
std::vector<zmq::message_t> ReceiveFrames(zmq::socket_t& socket) {
  std::vector<zmq::message_t> frames;
  do {
    frames.emplace_back();
    if (!socket.recv(frames.back(), zmq::recv_flags::dontwait)) {
      frames.pop_back();
      break;
    }
  } while (frames.back().more());
  return frames;
}

}  // namespace

ZapAuthenticator::ZapAuthenticator(zmq::context_t& context,
                                   zmq::socket_t& router, std::string dir,
                                   Log log, const Clock& clock)
    : dir_(std::move(dir)),
      log_(std::move(log)),
      clock_(clock),
      zap_(context, zmq::socket_type::rep),
      // A client without keys, or with the wrong --server-public, fails
      // before ZAP is asked: the ROUTER's monitor tells.
      monitor_(context, router,
               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
  if (!monitor_.ok()) {
    throw RuntimeFailure(std::string("cannot monitor the ROUTER socket: ") +
                         zmq_strerror(zmq_errno()));
  }
  Reload(/*at_start=*/true);
  zap_.set(zmq::sockopt::linger, 0);
  try {
    zap_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    throw RuntimeFailure(std::string("cannot serve ZAP at ") + kZapEndpoint +
                         ": " + e.what());
  }
  thread_ = std::thread([this] { Serve(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::Serve() {
  zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor_.socket().handle(), 0, ZMQ_POLLIN, 0}};
  while (!stop_) {
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
      if (items[0].revents & ZMQ_POLLIN) Answer();
      if (items[1].revents & ZMQ_POLLIN) OnMonitorEvent();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() != EINTR) log_(std::string("ZAP handler: ") + e.what());
    }
  }
}

// One ZAP request: version, request id, domain, address, routing id,
// mechanism, credentials (for CURVE: the client's 32-byte public key).
void ZapAuthenticator::Answer() {
  // A REP socket must answer every request; a malformed one gets a 500.
  std::vector<zmq::message_t> f = ReceiveFrames(zap_);
  const std::string version = f.size() > 0 ? f[0].to_string() : "";
  const std::string request_id = f.size() > 1 ? f[1].to_string() : "";
  const std::string address = f.size() > 3 ? f[3].to_string() : "?";
  const std::string mechanism = f.size() > 5 ? f[5].to_string() : "";
  std::string status = "400", text = "not authorised", user;
  if (version != "1.0" || f.size() < 6) {
    status = "500";
    text = "malformed ZAP request";
  } else if (mechanism != "CURVE" || f.size() < 7 ||
             f[6].size() != kCurveKeyBytes) {
    text = "CURVE required";
    LogLimited("mechanism " + mechanism, "refused a client from " + address +
                                             ": it uses the " + mechanism +
                                             " mechanism, not CURVE");
  } else {
    const std::string key = f[6].to_string();
    if (clock_.Now() - last_reload_ >= 1) Reload(/*at_start=*/false);
    auto it = keys_.find(key);
    if (it != keys_.end()) {
      status = "200";
      text = "OK";
      user = it->second;
    } else {
      const std::string z85 = EncodeZ85Key(key);
      LogLimited("key " + z85, "refused a worker from " + address +
                                   ": its public key " + z85 +
                                   " is not in --authorized-workers " + dir_ +
                                   " (copy the worker's .pub file there)");
    }
  }
  zap_.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(text), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(user), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(std::string()), zmq::send_flags::none);
}

void ZapAuthenticator::OnMonitorEvent() {
  std::optional<SocketMonitor::Event> e = monitor_.Read();
  if (!e || (e->event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
             e->event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
    return;
  }
  LogLimited("handshake", "a client failed the CURVE handshake on " +
                              e->address +
                              " (a worker without keys, or with the wrong "
                              "--server-public?)");
}

void ZapAuthenticator::Reload(bool at_start) {
  last_reload_ = clock_.Now();
  AuthorizedKeys read;
  try {
    read = ReadAuthorizedKeys(dir_);
  } catch (const Error& e) {
    if (at_start) {
      throw BadInput("hpo-coordinator: --authorized-workers " +
                     std::string(e.what()));
    }
    LogLimited("reload",
               std::string("keeping the authorised keys: ") + e.what());
    return;
  }
  if (at_start && !read.problems.empty()) {
    throw BadInput("hpo-coordinator: --authorized-workers: " +
                   read.problems.front());
  }
  for (const std::string& problem : read.problems) {
    LogLimited("problem " + problem,
               "left out of the authorised keys: " + problem);
  }
  if (at_start) {
    initial_keys_ = read.names.size();
  } else if (read.names != keys_) {
    log_("authorised workers: " + std::to_string(read.names.size()) +
         " key(s) in " + dir_ + " (the directory changed)");
  }
  keys_ = std::move(read.names);
}

void ZapAuthenticator::LogLimited(const std::string& key,
                                  const std::string& line) {
  const double now = clock_.Now();
  if (limited_.size() > 10000) limited_.clear();  // Bounded, come what may.
  Limited& l = limited_[key];
  if (now - l.last < kLogEvery) {
    ++l.held;
    return;
  }
  log_(line + (l.held > 0 ? " (" + std::to_string(l.held) +
                                " more like it since the last report)"
                          : ""));
  l.last = now;
  l.held = 0;
}

}  // namespace hpo
