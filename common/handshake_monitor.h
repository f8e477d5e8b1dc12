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
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/socket_monitor.h"

namespace hpo {

class HandshakeMonitor {
 public:
  using Log = std::function<void(const std::string&)>;

  // Watches `socket` (which must outlive this object) connected to `peer`;
  // `log` is called from the monitor's thread, at most once per `every_s`
  // seconds of `clock`.
  HandshakeMonitor(zmq::context_t& context, zmq::socket_t& socket,
                   std::string peer, Log log, double every_s = 30,
                   const Clock& clock = SystemClock::Instance())
      : monitor_(context, socket,
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
        peer_(std::move(peer)),
        log_(std::move(log)),
        every_s_(every_s),
        clock_(clock) {
    // Only a diagnostic: the worker works without it.
    if (monitor_.ok()) thread_ = std::thread([this] { Run(); });
  }
  // Call on the thread that owns the watched socket.
  ~HandshakeMonitor() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    monitor_.Stop();
  }
  HandshakeMonitor(const HandshakeMonitor&) = delete;
  HandshakeMonitor& operator=(const HandshakeMonitor&) = delete;

  // True, once, when `after_s` seconds have passed since a handshake failure
  // that libzmq does not retry by itself; the caller should then disconnect
  // and connect the socket again. Thread-safe.
  bool RetryDue(double after_s) {
    double failed = failed_at_.load();
    if (failed < 0 || clock_.Now() - failed < after_s) return false;
    return failed_at_.compare_exchange_strong(failed, -1);
  }

 private:
  void Run() {
    zmq::pollitem_t item = {monitor_.socket().handle(), 0, ZMQ_POLLIN, 0};
    double last = -1e18;
    while (!stop_) {
      try {
        zmq::poll(&item, 1, std::chrono::milliseconds(100));
        if (!(item.revents & ZMQ_POLLIN)) continue;
        std::optional<SocketMonitor::Event> e = monitor_.Read();
        if (!e) continue;
        const uint16_t event = e->event;
        const uint32_t value = e->value;
        const double now = clock_.Now();
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

  SocketMonitor monitor_;
  std::string peer_;
  Log log_;
  double every_s_;
  const Clock& clock_;
  std::atomic<bool> stop_{false};
  std::atomic<double> failed_at_{-1};  // When a retry became due; -1: none.
  std::thread thread_;
};

}  // namespace hpo

#endif  // HPO_COMMON_HANDSHAKE_MONITOR_H_
