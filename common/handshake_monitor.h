// Tells a worker's user why it cannot join a coordinator whose CurveZMQ
// settings differ from its own: libzmq reports failed handshakes only to a
// socket monitor, which this watches on its own thread. Header-only.
//
// libzmq gives up on an endpoint after a handshake fails for a protocol
// reason (the coordinator refused the key, or one side has keys and the
// other has not): RetryDue() tells the socket's owner when to connect again,
// so a worker whose key is authorised later gets in without a restart.
#ifndef HPO_COMMON_HANDSHAKE_MONITOR_H_
#define HPO_COMMON_HANDSHAKE_MONITOR_H_

#include <atomic>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/clock.h"

namespace hpo {

class HandshakeMonitor {
 public:
  using Log = std::function<void(const std::string&)>;

  // Watches `socket` (which must outlive this object) connected to `peer`;
  // `log` is called from the monitor's thread, at most once per `every_s`
  // seconds.
  HandshakeMonitor(zmq::context_t& context, zmq::socket_t& socket,
                   std::string peer, Log log, double every_s = 30)
      : socket_(socket),
        monitor_(context, zmq::socket_type::pair),
        peer_(std::move(peer)),
        log_(std::move(log)),
        every_s_(every_s) {
    const std::string endpoint =
        "inproc://hpo-handshakes-" + std::to_string(Counter()++);
    if (zmq_socket_monitor(socket_.handle(), endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      return;  // Only a diagnostic: the worker works without it.
    }
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(endpoint);
    thread_ = std::thread([this] { Run(); });
  }
  // Call on the thread that owns the watched socket.
  ~HandshakeMonitor() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    (void)zmq_socket_monitor(socket_.handle(), nullptr, 0);
  }
  HandshakeMonitor(const HandshakeMonitor&) = delete;
  HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

  // True, once, when `after_s` seconds have passed since a handshake failure
  // that libzmq does not retry by itself; the caller should then disconnect
  // and connect the socket again. Thread-safe.
  bool RetryDue(double after_s) {
    double failed = failed_at_.load();
    if (failed < 0 || MonotonicSeconds() - failed < after_s) return false;
    return failed_at_.compare_exchange_strong(failed, -1);
  }

 private:
  static std::atomic<int>& Counter() {
    static std::atomic<int> counter{0};
    return counter;
  }

  void Run() {
    zmq::pollitem_t item = {monitor_.handle(), 0, ZMQ_POLLIN, 0};
    double last = -1e18;
    while (!stop_) {
      try {
        zmq::poll(&item, 1, std::chrono::milliseconds(100));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        zmq::message_t head, address;
        if (!monitor_.recv(head) || !head.more()) continue;
        (void)monitor_.recv(address);
        if (head.size() < 6) continue;
        uint16_t event = 0;
        uint32_t value = 0;
        std::memcpy(&event, head.data(), sizeof event);
        std::memcpy(&value, static_cast<const char*>(head.data()) + 2,
                    sizeof value);
        const double now = MonotonicSeconds();
        // After these libzmq stops reconnecting; after the others it goes on.
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
          failed_at_ = now;
        }
        if (now - last < every_s_) continue;
        last = now;
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
          log_("the coordinator at " + peer_ +
               " refused this worker's key (status " + std::to_string(value) +
               "): copy this worker's .pub file into the coordinator's "
               "--authorized-workers directory; retrying");
        } else {
          log_("the handshake with the coordinator at " + peer_ +
               " failed: its CurveZMQ settings and this worker's differ "
               "(a coordinator with keys needs --curve-public, --curve-secret "
               "and its --server-public; one without needs none); retrying");
        }
      } catch (const zmq::error_t&) {
        return;  // The context is ending.
      }
    }
  }

  zmq::socket_t& socket_;
  zmq::socket_t monitor_;
  std::string peer_;
  Log log_;
  double every_s_;
  std::atomic<bool> stop_{false};
  std::atomic<double> failed_at_{-1};  // When a retry became due; -1: none.
  std::thread thread_;
};

}  // namespace hpo

#endif  // HPO_COMMON_HANDSHAKE_MONITOR_H_
