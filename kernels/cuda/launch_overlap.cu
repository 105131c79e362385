// The process-wide switch of overlapped launches (common.cuh: launch_kernel).
#include <atomic>

#include "launch.h"

namespace duo::kernels::cuda {
namespace {

std::atomic<bool> requested{true};

// Programmatic dependent launch needs compute capability 9.0 (asked once, of the device current
// at the first launch).
bool device_supports_overlap() {
  static const bool supported = [] {
    int device = 0, major = 0;
    return cudaGetDevice(&device) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess && major >= 9;
  }();
  return supported;
}

}  // namespace

void set_launch_overlap(bool on) { requested = on; }
bool launch_overlap() { return requested && device_supports_overlap(); }

}  // namespace duo::kernels::cuda
