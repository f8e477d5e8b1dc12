#include "worker/device.h"

#include <torch/cuda.h>

#include <cstdlib>
#include <regex>

#include "common/error.h"

namespace hpo {
namespace {

// What the user can check when LibTorch sees fewer GPUs than asked for.
std::string VisibleDevicesNote() {
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (visible == nullptr) return "";
  return "; CUDA_VISIBLE_DEVICES=\"" + std::string(visible) + "\"";
}

}  // namespace

DeviceChoice ResolveDevice(const std::string& spec) {
  std::smatch m;
  if (!std::regex_match(spec, m, std::regex("auto|cpu|cuda(?::([0-9]+))?"))) {
    throw BadInput("hpo-worker: --device " + spec +
                   " is not one of auto, cpu, cuda, cuda:N");
  }
  if (spec == "cpu") return {"cpu", "--device cpu"};
  const int count = torch::cuda::is_available()
                        ? static_cast<int>(torch::cuda::device_count())
                        : 0;
  const std::string seen =
      count == 0 ? "LibTorch sees no CUDA device (a CPU build of LibTorch, "
                   "no NVIDIA driver, or no GPU visible" +
                       VisibleDevicesNote() + ")"
                 : "LibTorch sees " + std::to_string(count) + " CUDA device" +
                       (count == 1 ? "" : "s") + VisibleDevicesNote();
  if (spec == "auto") {
    return count > 0 ? DeviceChoice{"cuda:0", "--device auto: " + seen}
                     : DeviceChoice{"cpu", "--device auto: " + seen};
  }
  const long index =
      m[1].matched ? std::strtol(m[1].str().c_str(), nullptr, 10) : 0;
  if (count == 0) {
    throw BadInput(
        "hpo-worker: --device " + spec + ", but " + seen +
        "; use --device cpu or auto, or run a worker built "
        "against a CUDA LibTorch (README: Workers on other nodes and on GPUs)");
  }
  if (index >= count) {
    throw BadInput("hpo-worker: --device " + spec + ", but " + seen +
                   " (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
  }
  return {"cuda:" + std::to_string(index), "--device " + spec + ": " + seen};
}

}  // namespace hpo
