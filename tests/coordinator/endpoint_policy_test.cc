// Which --bind endpoints the coordinator warns about without keys.
#include "coordinator/endpoint_policy.h"

#include <gtest/gtest.h>

namespace hpo {
namespace {

TEST(EndpointPolicyTest, LoopbackAndLocalTransportsAreLocal) {
  EXPECT_TRUE(IsLoopbackEndpoint(kDefaultBind));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:*"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.1.2.3:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://localhost:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://lo:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::ffff:127.0.0.1]:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("ipc:///tmp/hpo.sock"));
  EXPECT_TRUE(IsLoopbackEndpoint("inproc://hpo"));
}

TEST(EndpointPolicyTest, EverythingElseIsPublic) {
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://[::]:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://eth0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.1.2.3:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://128.0.0.1:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://head.example.org:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://127.0.0.1"));
}

}  // namespace
}  // namespace hpo
