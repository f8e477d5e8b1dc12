#include "common/zmq_transport.h"

#include <cerrno>
#include <iostream>

#include "common/error.h"
#include "common/handshake_monitor.h"
#include "common/protocol.h"

namespace hpo {

namespace {

// ZMQ_ZAP_ENFORCE_DOMAIN (a draft option of libzmq 4.3): with it, a CURVE
// handshake fails when no ZAP handler answers, instead of being let in.
constexpr int kZapEnforceDomain = 93;

}  // namespace

ZmqEndpoint::ZmqEndpoint(zmq::context_t& context, zmq::socket_type type,
                         int linger_ms)
    : context_(context), socket_(context, type) {
  socket_.set(zmq::sockopt::linger, linger_ms);
  socket_.set(zmq::sockopt::sndhwm, 100000);
  // A hard cap above the protocol's limit (which Decode() enforces, with a
  // log line): a peer that sends more is disconnected before it is
  // buffered.
  socket_.set(zmq::sockopt::maxmsgsize,
              static_cast<int64_t>(4 * kMaxMessageBytes));
}

ZmqEndpoint::~ZmqEndpoint() = default;

bool ZmqEndpoint::SendFrame(const std::string& bytes, bool more) {
  try {
    return socket_
        .send(zmq::buffer(bytes),
              (more ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                  zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t& e) {
    std::cerr << "hpo: send failed: " << e.what() << "\n";
    return false;
  }
}

bool ZmqEndpoint::ReceiveFrame(std::string* bytes, bool* more) {
  zmq::message_t frame;
  if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return false;
  *bytes = frame.to_string();
  *more = frame.more();
  return true;
}

void ZmqEndpoint::DropRest(bool more) {
  while (more) {
    zmq::message_t extra;
    if (!socket_.recv(extra, zmq::recv_flags::dontwait)) return;
    more = extra.more();
  }
}

RouterEndpoint::RouterEndpoint(zmq::context_t& context)
    : ZmqEndpoint(context, zmq::socket_type::router, /*linger_ms=*/1000) {
  // A worker that reconnects (after a network outage, its old connection
  // still half-open here) keeps its routing id: the new connection takes
  // over instead of being refused until the old one times out.
  socket_.set(zmq::sockopt::router_handover, 1);
  // Per peer: a flooding peer is held back by TCP once this many messages
  // wait, instead of filling the coordinator's memory.
  socket_.set(zmq::sockopt::rcvhwm, 1000);
  // Thousands of workers that start at once (one srun) connect at once:
  // ZeroMQ's default accept queue of 100 drops most of them, and they retry
  // after 1, 3, 7 ... s. The kernel caps it at net.core.somaxconn.
  socket_.set(zmq::sockopt::backlog, 4096);
}

void RouterEndpoint::EnableCurveServer(const std::string& secret_key) {
  int one = 1;
  (void)zmq_setsockopt(socket_.handle(), kZapEnforceDomain, &one,
                       sizeof one);  // Best effort: a draft option.
  socket_.set(zmq::sockopt::zap_domain, "hpo");
  socket_.set(zmq::sockopt::curve_server, 1);
  socket_.set(zmq::sockopt::curve_secretkey, secret_key);
}

std::string RouterEndpoint::Bind(const std::string& endpoint) {
  try {
    socket_.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw BadInput(
        "hpo-coordinator: cannot bind --bind " + endpoint + ": " + e.what() +
        (e.num() == EADDRINUSE
             ? " (another program, perhaps another coordinator, uses that "
               "port: pick another, e.g. tcp://*:5556)"
             : " (expected tcp://HOST:PORT, e.g. tcp://*:5555 or "
               "tcp://127.0.0.1:*)"));
  }
  return socket_.get(zmq::sockopt::last_endpoint);
}

void RouterEndpoint::Send(const std::string& identity,
                          const std::string& bytes) {
  // Nothing more when the peer's queue is full: it is not reading.
  if (!SendFrame(identity, /*more=*/true)) return;
  (void)SendFrame(bytes, /*more=*/false);
}

bool RouterEndpoint::Receive(std::string* identity, std::string* bytes) {
  bool more = false;
  if (!ReceiveFrame(identity, &more)) return false;
  bytes->clear();
  if (more) (void)ReceiveFrame(bytes, &more);
  DropRest(more);
  return true;
}

DealerEndpoint::DealerEndpoint(zmq::context_t& context,
                               const std::string& routing_id,
                               const Curve& curve, Log log)
    : ZmqEndpoint(context, zmq::socket_type::dealer, /*linger_ms=*/500),
      log_(std::move(log)) {
  // Queue nothing for a coordinator that is not there: hellos are resent,
  // and stale reports would only be dropped.
  socket_.set(zmq::sockopt::immediate, 1);
  socket_.set(zmq::sockopt::reconnect_ivl, 100);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  // A connection attempt into a cut network gives up after 2 s and is
  // retried, instead of waiting out the kernel's SYN retries (2 min).
  socket_.set(zmq::sockopt::connect_timeout, 2000);
  socket_.set(zmq::sockopt::routing_id, routing_id);
  // CurveZMQ: encrypts the traffic, proves this worker's key to the
  // coordinator and the coordinator's (server_public) to this worker.
  if (!curve.secret_key.empty()) {
    socket_.set(zmq::sockopt::curve_serverkey, curve.server_public);
    socket_.set(zmq::sockopt::curve_publickey, curve.public_key);
    socket_.set(zmq::sockopt::curve_secretkey, curve.secret_key);
  }
}

DealerEndpoint::~DealerEndpoint() { handshakes_.reset(); }

void DealerEndpoint::Connect(const std::string& endpoint) {
  endpoint_ = endpoint;
  if (!handshakes_) {
    handshakes_ =
        std::make_unique<HandshakeMonitor>(context_, socket_, endpoint, log_);
  }
  try {
    socket_.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw BadInput("hpo-worker: cannot connect to --connect " + endpoint +
                   ": " + e.what() + " (expected e.g. tcp://HOST:5555)");
  }
}

void DealerEndpoint::Reconnect() {
  try {
    socket_.disconnect(endpoint_);
  } catch (const zmq::error_t&) {
    // Already gone.
  }
  try {
    socket_.connect(endpoint_);
  } catch (const zmq::error_t& e) {
    log_(std::string("cannot reconnect: ") + e.what());
  }
}

void DealerEndpoint::RetryFailedHandshake(double after_s) {
  if (handshakes_ && handshakes_->RetryDue(after_s)) Reconnect();
}

void DealerEndpoint::Send(const std::string& bytes) {
  (void)SendFrame(bytes, /*more=*/false);
}

bool DealerEndpoint::Receive(std::string* bytes) {
  bool more = false;
  if (!ReceiveFrame(bytes, &more)) return false;
  DropRest(more);
  return true;
}

}  // namespace hpo
