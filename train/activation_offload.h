// What activation checkpointing keeps from the forward pass to the backward — each layer's
// input and, with keep_full_attention, its full-attention output — parked in pinned host memory
// in between, copied on a stream of its own while later layers compute and brought back one
// layer ahead of the backward that needs it.
//
// Why: at 32K tokens of an 8B model each kind is 8 GiB of GPU memory (T × hidden × 2 bytes per
// layer) held for the whole step, and the copies (256 MB per layer and kind, tens of ms of
// compute per layer to hide behind) cost the step nothing measurable
// (experiments/train-step-h200.md). At 256K tokens the layer inputs alone are 64 GiB.
//
// Tensors beyond the host budget, any not on a CUDA device and any not dense (with gaps between
// elements) stay where they are: the class is then a plain store. Dense tensors of any layout
// leave as they are, strides and all (cuDNN's attention output is not contiguous in the
// [B, Hq, T, D] view, and its backward wants the gradient in that layout). One object per step,
// used from the thread that runs it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>

namespace duo {

class ActivationOffload {
 public:
  // host_budget_bytes: the pinned host memory this step may hold (0: nothing leaves the GPU).
  explicit ActivationOffload(int64_t host_budget_bytes);
  ~ActivationOffload();
  ActivationOffload(const ActivationOffload&) = delete;
  ActivationOffload& operator=(const ActivationOffload&) = delete;

  enum class Kind { layer_input, full_attention };

  // Keeps t as layer's `kind`; t may be used and dropped by the caller right after.
  void put(int layer, Kind kind, const at::Tensor& t);
  // Starts bringing everything held for layer back to its device.
  void prefetch(int layer);
  // The tensor, on its device, removed from the store; throws for one not held.
  at::Tensor take(int layer, Kind kind);

  int64_t host_bytes() const { return host_bytes_; }

  // Half the host memory available now (Linux's MemAvailable; 0 where unknown): what a step may
  // pin without starving the data pipeline and the rest of the machine.
  static int64_t default_host_budget();

 private:
  struct Slot;
  struct CopyStream;
  bool has_room(int64_t bytes) const;
  static int64_t key(int layer, Kind kind) { return 2 * int64_t(layer) + (kind == Kind::full_attention); }
  void prefetch_key(int64_t key);
  int64_t budget_, host_bytes_ = 0;
  std::unique_ptr<CopyStream> stream_;
  std::map<int64_t, std::unique_ptr<Slot>> slots_;
};

}  // namespace duo
