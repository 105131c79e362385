// The attention interface: the model computes rotated queries and keys for one layer and hands
// them to an Attention object, which returns the attended values. Full attention among the
// given tokens lives here; the KV cache (model/mixed_kv_cache.h), gated training attention and
// the analysis probes are other implementations elsewhere, so the model knows nothing of them.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace duo {

// q: [B, Hq, T, D]; k, v: [B, Hkv, T, D]; the T tokens sit at positions [start_pos, start_pos + T).
struct AttentionInput {
  int layer;
  const at::Tensor& q;
  const at::Tensor& k;
  const at::Tensor& v;
  int64_t start_pos;
  // Set for a decode step whose position lives on the device (LlamaModel::decode_step, CUDA
  // graphs): an int64 tensor of one element holding the token's position, T == 1. start_pos
  // then only says where the step was first called (a graph replays it at later positions).
  // Only the KV cache takes such steps (MixedKVCacheAttention::graph_decodable).
  const at::Tensor* position = nullptr;
};

class Attention {
 public:
  virtual ~Attention() = default;
  virtual at::Tensor forward(const AttentionInput& in) = 0;  // -> [B, Hq, T, D]
};

// Causal attention among the given tokens only (no state): a whole sequence in one call.
// Refuses device-position steps, which need a cache.
class FullAttention : public Attention {
 public:
  at::Tensor forward(const AttentionInput& in) override;
};

// While alive, keeps SDPA off its cuDNN backend, which builds a new plan for every new key
// length (every decode step, every chunk): measured on an H200, a Llama-3-8B decode step took
// 81 ms with it and 26 ms without (experiments/decode-h200.md). Flash and memory-efficient
// kernels remain. Scoped to the calls over a growing cache: whole sequences (gate training, a
// first prefill) keep cuDNN, which is the fastest there. SDPA's backend switches are
// process-wide, so this is for one thread's calls at a time.
class ShapeStableAttentionKernels {
 public:
  ShapeStableAttentionKernels();
  ~ShapeStableAttentionKernels();
  ShapeStableAttentionKernels(const ShapeStableAttentionKernels&) = delete;
  ShapeStableAttentionKernels& operator=(const ShapeStableAttentionKernels&) = delete;

 private:
  bool cudnn_was_on_;
};

// softmax(q kᵀ / √D) v for queries at positions [start, start + Tq) over keys at [0, Tk),
// each query seeing keys up to its own position; GQA heads share their KV head. Calls over a
// cache (Tq < Tk) run in libtorch's flash kernel on a GPU (bottom-right causal), elsewhere under
// ShapeStableAttentionKernels with the mask spelled out.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace duo
