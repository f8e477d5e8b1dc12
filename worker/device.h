// Which device a worker trains on: what `hpo-worker --device` means.
#ifndef HPO_WORKER_DEVICE_H_
#define HPO_WORKER_DEVICE_H_

#include <string>

namespace hpo {

// The device a worker started with --device `spec` trains on, in LibTorch's
// spelling ("cpu" or "cuda:N"), and why, for the worker's log.
struct DeviceChoice {
  std::string device;
  std::string reason;
};

// Resolves --device once, at start: "auto" is cuda:0 when this LibTorch sees
// a CUDA device and cpu otherwise; "cuda" is cuda:0; "cpu" and "cuda:N" stay.
// Throws hpo::Error (bad input, one line with the fix) for any other spelling,
// for cuda or cuda:N when LibTorch sees no CUDA device (a CPU build, no
// driver, or CUDA_VISIBLE_DEVICES hides them), and for an N past the
// devices it sees. Thread safe.
DeviceChoice ResolveDevice(const std::string& spec);

}  // namespace hpo

#endif  // HPO_WORKER_DEVICE_H_
