// How the coordinator and its workers reach each other, as the services see
// it: one encoded protocol message (common/protocol.h) at a time. The
// ZeroMQ implementations are in common/zmq_transport.h; tests pass fakes
// that record what was sent.
#ifndef HPO_COMMON_TRANSPORT_H_
#define HPO_COMMON_TRANSPORT_H_

#include <string>

namespace hpo {

// The coordinator's side: delivers one encoded message to the worker with
// routing id `identity`. Must not block; a message to a vanished worker may
// be lost.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(const std::string& identity, const std::string& bytes) = 0;
};

// A worker's side: delivers one encoded message to its coordinator. Must not
// block; with no coordinator connected the message is dropped (hellos are
// resent, stale reports would be dropped anyway).
class WorkerTransport {
 public:
  virtual ~WorkerTransport() = default;
  virtual void Send(const std::string& bytes) = 0;
  // Drops the connection and opens a new one: the old one may be stalled
  // behind TCP's retransmission backoff after a long outage.
  virtual void Reconnect() = 0;
};

}  // namespace hpo

#endif  // HPO_COMMON_TRANSPORT_H_
