#include "coordinator/endpoint_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace hpo {

namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool IsLoopbackHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "lo") return true;
  in_addr v4 = {};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6 = {};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (StartsWith(endpoint, "ipc://") || StartsWith(endpoint, "inproc://")) {
    return true;
  }
  const std::string scheme = "tcp://";
  if (!StartsWith(endpoint, scheme)) return false;
  const std::string rest = endpoint.substr(scheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  return IsLoopbackHost(rest.substr(0, colon));
}

}  // namespace hpo
