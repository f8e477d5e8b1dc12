// The ZeroMQ transport: the coordinator binds a ROUTER, each worker connects
// a DEALER, every protocol message is one frame (a ROUTER adds the peer's
// routing-id frame). ZmqEndpoint owns what both ends share (the socket
// options that bound memory and message size, CurveZMQ, framing); the two
// backends add only how they bind or connect, send and receive, and the
// DEALER its reconnect policy.
#ifndef HPO_COMMON_ZMQ_TRANSPORT_H_
#define HPO_COMMON_ZMQ_TRANSPORT_H_

#include <functional>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/transport.h"

namespace hpo {

class HandshakeMonitor;

class ZmqEndpoint {
 public:
  ZmqEndpoint(const ZmqEndpoint&) = delete;
  ZmqEndpoint& operator=(const ZmqEndpoint&) = delete;
  virtual ~ZmqEndpoint();

  // For zmq::poll, and for the ZAP handler that watches a ROUTER.
  zmq::socket_t& socket() { return socket_; }

 protected:
  ZmqEndpoint(zmq::context_t& context, zmq::socket_type type, int linger_ms);

  // Sends `bytes` as the last frame, without blocking; false when the peer's
  // queue is full (it is not reading). Logs a failed send.
  bool SendFrame(const std::string& bytes, bool more);
  // The next frame, without blocking; false when none waits. Frames after
  // the payload are not part of the protocol: they are read and dropped.
  bool ReceiveFrame(std::string* bytes, bool* more);
  void DropRest(bool more);

  zmq::context_t& context_;
  zmq::socket_t socket_;
};

// The coordinator's ROUTER: bound once, sends to and receives from any
// worker by routing id.
class RouterEndpoint : public ZmqEndpoint, public Transport {
 public:
  explicit RouterEndpoint(zmq::context_t& context);

  // Makes this a CurveZMQ server with `secret_key` (Z85), authenticated by
  // the ZAP handler the caller installs before Bind() (zap_auth.h).
  void EnableCurveServer(const std::string& secret_key);
  // Binds and returns the endpoint bound (the port resolved). Throws
  // hpo::Error (bad input) naming the option and the fix.
  std::string Bind(const std::string& endpoint);

  void Send(const std::string& identity, const std::string& bytes) override;
  // One message, without blocking: false when none waits. A message without
  // a payload frame comes back with `bytes` empty.
  bool Receive(std::string* identity, std::string* bytes);
};

// A worker's DEALER: connects to one coordinator and keeps reconnecting.
class DealerEndpoint : public ZmqEndpoint, public WorkerTransport {
 public:
  struct Curve {
    std::string public_key;  // This worker's pair (Z85)...
    std::string secret_key;
    std::string server_public;  // ...and the coordinator's public key.
  };
  using Log = std::function<void(const std::string&)>;

  // `routing_id` must be stable for the life of the process, so that a
  // reconnection after a network blip is the same worker to the
  // coordinator. `curve` is empty for plain TCP.
  DealerEndpoint(zmq::context_t& context, const std::string& routing_id,
                 const Curve& curve, Log log);
  ~DealerEndpoint() override;

  // Connects to `endpoint`. Throws hpo::Error (bad input) for an endpoint
  // ZeroMQ refuses, saying what was expected.
  void Connect(const std::string& endpoint);
  void Reconnect() override;
  // libzmq does not reconnect after the coordinator refused this worker's
  // key (or their CurveZMQ settings differ): this reconnects when such a
  // failure is `after_s` seconds old, so a key authorised later lets the
  // worker in without a restart. Call it from the loop.
  void RetryFailedHandshake(double after_s = 2.0);

  void Send(const std::string& bytes) override;
  // One message, without blocking: false when none waits.
  bool Receive(std::string* bytes);

 private:
  std::string endpoint_;
  Log log_;
  std::unique_ptr<HandshakeMonitor> handshakes_;  // Stops before the socket.
};

}  // namespace hpo

#endif  // HPO_COMMON_ZMQ_TRANSPORT_H_
