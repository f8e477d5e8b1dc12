#include "worker/device.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>

#include "common/error.h"

namespace hpo {
namespace {

bool HasCuda() { return torch::cuda::is_available(); }

TEST(DeviceTest, AutoIsTheFirstGpuWhenLibTorchSeesOneAndElseTheCpu) {
  const DeviceChoice auto_choice = ResolveDevice("auto");
  EXPECT_EQ(auto_choice.device, HasCuda() ? "cuda:0" : "cpu");
  EXPECT_NE(auto_choice.reason.find("--device auto: LibTorch sees"),
            std::string::npos)
      << auto_choice.reason;
  if (!HasCuda()) {
    // The case CI covers: a CPU build of LibTorch, no GPU.
    EXPECT_NE(auto_choice.reason.find("no CUDA device"), std::string::npos)
        << auto_choice.reason;
  }
}

TEST(DeviceTest, CpuStaysCpu) { EXPECT_EQ(ResolveDevice("cpu").device, "cpu"); }

TEST(DeviceTest, CudaIsRefusedWithoutAGpuAndIndexedWithOne) {
  for (const std::string spec : {"cuda", "cuda:0"}) {
    if (HasCuda()) {
      EXPECT_EQ(ResolveDevice(spec).device, "cuda:0") << spec;
    } else {
      try {
        ResolveDevice(spec);
        ADD_FAILURE() << spec << " accepted without a GPU";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
        const std::string what = e.what();
        EXPECT_NE(what.find("--device " + spec + ", but LibTorch sees no CUDA"),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("use --device cpu or auto"), std::string::npos)
            << what;
      }
    }
  }
  // Past the last device LibTorch sees (none here, or fewer than 1000).
  EXPECT_THROW(ResolveDevice("cuda:999"), Error);
}

TEST(DeviceTest, OtherSpellingsAreBadInput) {
  for (const std::string spec : {"", "gpu", "cuda:", "cuda:-1", "CPU", "mps"}) {
    try {
      ResolveDevice(spec);
      ADD_FAILURE() << "\"" << spec << "\" accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << spec;
      EXPECT_NE(std::string(e.what()).find("is not one of auto, cpu, cuda"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace hpo
