// Which bind endpoints expose the coordinator beyond this machine, for the
// warning it gives when it listens on one without CurveZMQ keys.
#ifndef HPO_COORDINATOR_ENDPOINT_POLICY_H_
#define HPO_COORDINATOR_ENDPOINT_POLICY_H_

#include <string>

namespace hpo {

// The default --bind: loopback only, so a coordinator started without
// thinking about the network is not reachable from it.
constexpr char kDefaultBind[] = "tcp://127.0.0.1:5555";

// True if `endpoint` (as given to bind) can be reached only from this
// machine: ipc:// and inproc://, and tcp:// on a loopback address
// (127.0.0.0/8, ::1, an IPv4-mapped 127.x address, "localhost", the "lo"
// interface). False for "*", 0.0.0.0, ::, any other address or interface
// name, and other transports.
bool IsLoopbackEndpoint(const std::string& endpoint);

}  // namespace hpo

#endif  // HPO_COORDINATOR_ENDPOINT_POLICY_H_
