// A libzmq socket monitor (zmq_socket_monitor): the events of one socket,
// read from a PAIR socket connected to a private inproc endpoint. What the
// worker's HandshakeMonitor and the coordinator's ZapAuthenticator both
// watch failed CurveZMQ handshakes with. Header-only.
#ifndef HPO_COMMON_SOCKET_MONITOR_H_
#define HPO_COMMON_SOCKET_MONITOR_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <zmq.hpp>

namespace hpo {

class SocketMonitor {
 public:
  struct Event {
    uint16_t event = 0;  // ZMQ_EVENT_*.
    uint32_t value = 0;  // The event's value (a status, an errno, ...).
    std::string address;
  };

  // Watches the events in `mask` of `socket`. ok() is false when libzmq
  // refused (the socket is then not watched). Monitoring ends when the
  // socket closes or Stop() is called.
  SocketMonitor(zmq::context_t& context, zmq::socket_t& socket, int mask)
      : pair_(context, zmq::socket_type::pair) {
    const std::string endpoint =
        "inproc://hpo-socket-monitor-" + std::to_string(Counter()++);
    if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), mask) != 0) {
      return;
    }
    pair_.set(zmq::sockopt::linger, 0);
    pair_.connect(endpoint);
    watched_ = &socket;
  }
  SocketMonitor(const SocketMonitor&) = delete;
  SocketMonitor& operator=(const SocketMonitor&) = delete;

  bool ok() const { return watched_ != nullptr; }
  // The socket to poll for ZMQ_POLLIN.
  zmq::socket_t& socket() { return pair_; }

  // The next event, without waiting; nullopt when none is queued or it is
  // malformed.
  std::optional<Event> Read() {
    zmq::message_t head, address;
    if (!pair_.recv(head, zmq::recv_flags::dontwait)) return std::nullopt;
    if (!head.more()) return std::nullopt;
    (void)pair_.recv(address, zmq::recv_flags::dontwait);
    if (head.size() < 6) return std::nullopt;
    Event e;
    std::memcpy(&e.event, head.data(), sizeof e.event);
    std::memcpy(&e.value, static_cast<const char*>(head.data()) + 2,
                sizeof e.value);
    e.address = address.to_string();
    return e;
  }

  // Stops monitoring (call on the thread that owns the watched socket,
  // while it is open).
  void Stop() {
    if (watched_ != nullptr)
      (void)zmq_socket_monitor(watched_->handle(), nullptr, 0);
    watched_ = nullptr;
  }

 private:
  static std::atomic<int>& Counter() {
    static std::atomic<int> counter{0};
    return counter;
  }

  zmq::socket_t pair_;
  zmq::socket_t* watched_ = nullptr;
};

}  // namespace hpo

#endif  // HPO_COMMON_SOCKET_MONITOR_H_
