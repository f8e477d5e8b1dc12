// Worker authentication for a CURVE coordinator: a ZAP handler (ZeroMQ RFC
// 27) that lets a client in only if its public key is one of the *.pub files
// of the --authorized-workers directory.
//
// libzmq asks the handler bound at inproc://zeromq.zap.01 in the socket's
// context about every CURVE handshake, so the authenticator must be created
// before the ROUTER binds and outlive it. It serves requests on its own
// thread; the directory is read again (at most once a second, when a client
// connects) so keys added or removed take effect without a restart. It also
// watches the ROUTER for failed handshakes (a client without keys, or with
// the wrong server key) and logs them. Log lines are rate-limited.
#ifndef HPO_COORDINATOR_ZAP_AUTH_H_
#define HPO_COORDINATOR_ZAP_AUTH_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/socket_monitor.h"

namespace hpo {

class ZapAuthenticator {
 public:
  // Called from the authenticator's thread.
  using Log = std::function<void(const std::string&)>;

  // Reads `dir` and binds the ZAP endpoint in `context`, then starts serving
  // and watching `router` (not yet bound). Throws hpo::Error (bad input) for
  // a directory that cannot be read or holds a malformed *.pub file, and
  // hpo::Error (runtime) when another handler is bound already.
  // Rate limits and reloads go by `clock`.
  ZapAuthenticator(zmq::context_t& context, zmq::socket_t& router,
                   std::string dir, Log log,
                   const Clock& clock = SystemClock::Instance());
  // Stops the thread. Destroy the ROUTER first: a CURVE handshake with no
  // handler bound is not authenticated.
  ~ZapAuthenticator();

  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  // The number of keys read from the directory at start.
  size_t authorized() const { return initial_keys_; }

 private:
  void Serve();
  void Answer();
  void OnMonitorEvent();
  void Reload(bool at_start);
  // Logs `line` unless a line with the same `key` was logged in the last
  // minute; counts what it holds back and reports it with the next one.
  void LogLimited(const std::string& key, const std::string& line);

  std::string dir_;
  Log log_;
  const Clock& clock_;
  zmq::socket_t zap_;
  SocketMonitor monitor_;
  std::map<std::string, std::string> keys_;  // 32 bytes -> name.
  size_t initial_keys_ = 0;
  double last_reload_ = 0;
  struct Limited {
    double last = -1e18;
    int64_t held = 0;
  };
  std::map<std::string, Limited> limited_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hpo

#endif  // HPO_COORDINATOR_ZAP_AUTH_H_
