#include "activation_offload.h"

#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace duo {

#ifdef DUO_WITH_CUDA
struct ActivationOffload::CopyStream {
  c10::cuda::CUDAStream stream;
};

struct ActivationOffload::Slot {
  at::Tensor device;  // on the GPU: never offloaded, or brought back
  at::Tensor host;    // pinned, while parked
  at::Device home = at::kCPU;
  std::optional<c10::cuda::CUDAEvent> arrived;  // recorded on the copy stream after the copy back
};

namespace {
// The compute stream's work so far must be done before the copy stream touches what it made or
// reuses: an event recorded on one, waited for on the other.
void copy_stream_waits_for_compute(const c10::cuda::CUDAStream& copy, at::Device device) {
  c10::cuda::CUDAEvent done;
  done.record(c10::cuda::getCurrentCUDAStream(device.index()));
  done.block(copy);
}

// The caching host allocator hands out power-of-two blocks.
int64_t pinned_block_bytes(int64_t n) {
  int64_t b = 1;
  while (b < n) b <<= 1;
  return b;
}
}  // namespace

ActivationOffload::ActivationOffload(int64_t host_budget_bytes) : budget_(host_budget_bytes) {}
ActivationOffload::~ActivationOffload() = default;

bool ActivationOffload::has_room(int64_t bytes) const { return host_bytes_ + pinned_block_bytes(bytes) <= budget_; }

void ActivationOffload::put(int layer, Kind kind, const at::Tensor& t) {
  const int64_t key = ActivationOffload::key(layer, kind);
  auto slot = std::make_unique<Slot>();
  slot->home = t.device();
  const int64_t bytes = pinned_block_bytes(t.numel() * t.element_size());
  // Any dense layout leaves as it is (cuDNN's attention output is [B, T, H, D] memory seen as
  // [B, H, T, D]): host and device copies keep t's strides, so each copy is one memcpy.
  if (!t.is_cuda() || !t.is_non_overlapping_and_dense() || !has_room(bytes)) {
    slot->device = t;
    slots_[key] = std::move(slot);
    return;
  }
  const c10::cuda::CUDAGuard guard(t.device());
  if (!stream_) stream_.reset(new CopyStream{c10::cuda::getStreamFromPool(false, t.device().index())});
  copy_stream_waits_for_compute(stream_->stream, t.device());
  slot->host = at::empty_strided(t.sizes(), t.strides(), t.options().device(at::kCPU).pinned_memory(true));
  {
    const c10::cuda::CUDAStreamGuard on_copy(stream_->stream);
    slot->host.copy_(t, /*non_blocking=*/true);
  }
  // The caller may drop t now: its memory is not reused before the copy stream has read it.
  c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream_->stream);
  host_bytes_ += bytes;
  slots_[key] = std::move(slot);
}

void ActivationOffload::prefetch(int layer) {
  prefetch_key(key(layer, Kind::layer_input));
  prefetch_key(key(layer, Kind::full_attention));
}

void ActivationOffload::prefetch_key(int64_t key) {
  auto it = slots_.find(key);
  if (it == slots_.end() || !it->second->host.defined()) return;
  Slot& slot = *it->second;
  const c10::cuda::CUDAGuard guard(slot.home);
  // Allocated on the compute stream, whose earlier users of this memory the copy waits for.
  slot.device = at::empty_strided(slot.host.sizes(), slot.host.strides(),
                                  slot.host.options().device(slot.home).pinned_memory(false));
  copy_stream_waits_for_compute(stream_->stream, slot.home);
  {
    const c10::cuda::CUDAStreamGuard on_copy(stream_->stream);
    slot.device.copy_(slot.host, /*non_blocking=*/true);
  }
  slot.arrived.emplace();
  slot.arrived->record(stream_->stream);
  // Should the slot be dropped untaken (an error unwinding the step), its memory still waits.
  c10::cuda::CUDACachingAllocator::recordStream(slot.device.storage().data_ptr(), stream_->stream);
  // The pinned block goes back to the host allocator's cache, which waits for the copy itself.
  host_bytes_ -= pinned_block_bytes(slot.host.numel() * slot.host.element_size());
  slot.host = at::Tensor();
}

at::Tensor ActivationOffload::take(int layer, Kind kind) {
  auto it = slots_.find(key(layer, kind));
  if (it == slots_.end()) throw std::logic_error("ActivationOffload: layer " + std::to_string(layer) + " is not held");
  prefetch_key(it->first);
  std::unique_ptr<Slot> slot = std::move(it->second);
  slots_.erase(it);
  if (slot->arrived) slot->arrived->block(c10::cuda::getCurrentCUDAStream(slot->home.index()));
  return slot->device;
}

#else  // a build without CUDA: nothing to offload to, a plain store

struct ActivationOffload::CopyStream {};
struct ActivationOffload::Slot {
  at::Tensor device;
};

ActivationOffload::ActivationOffload(int64_t host_budget_bytes) : budget_(host_budget_bytes) {}
ActivationOffload::~ActivationOffload() = default;

void ActivationOffload::put(int layer, Kind kind, const at::Tensor& t) {
  slots_[key(layer, kind)].reset(new Slot{t});
}
void ActivationOffload::prefetch(int) {}
void ActivationOffload::prefetch_key(int64_t) {}
at::Tensor ActivationOffload::take(int layer, Kind kind) {
  auto it = slots_.find(key(layer, kind));
  if (it == slots_.end()) throw std::logic_error("ActivationOffload: layer " + std::to_string(layer) + " is not held");
  at::Tensor t = it->second->device;
  slots_.erase(it);
  return t;
}
#endif

int64_t ActivationOffload::default_host_budget() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::stoll(line.substr(13)) * 1024 / 2;  // "... kB"
  return 0;
}

}  // namespace duo
