// What the benchmarks read off the device: peak bytes the CUDA caching allocator handed out,
// resetting that peak, and waiting for queued work. On the CPU there is no such statistic: -1.
#pragma once
#include <torch/cuda.h>

#ifdef DUO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <cstdint>

namespace duo::bench {

inline int64_t peak_allocated_bytes(const at::Device& device) {
#ifdef DUO_WITH_CUDA
  if (device.is_cuda())
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak;
#endif
  (void)device;
  return -1;
}

// release_cache: also hand cached blocks back, so that the next setting starts from what is live.
inline void reset_peak(const at::Device& device, bool release_cache) {
#ifdef DUO_WITH_CUDA
  if (device.is_cuda()) {
    if (release_cache) c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
  }
#endif
  (void)device;
  (void)release_cache;
}

inline void sync(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

inline double gib(double bytes) { return bytes / double(1ull << 30); }

}  // namespace duo::bench
