// Decode attention: one new query token per (batch, query head) over a KV cache whose number of
// valid positions lives in a device tensor, so that the call can be captured in a CUDA graph
// and replayed as the cache grows. GQA native: query heads h·group .. h·group + group - 1 share
// KV head h, whose keys and values are read once for all of them.
//
// On a CUDA tensor whose shapes the kernel supports (decode_attention_supported), this runs the
// flash-decoding kernel of kernels/cuda/decode_attention.cu; everywhere else it runs
// decode_attention_reference, plain ATen ops with the same signature (which reads the length
// on the host, so it is not graph-capturable).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace duo::kernels {

struct DecodeAttentionOptions {
  // int64 [Hc] on the device: cache head i holds KV head kv_heads[i] and serves its query
  // heads; undefined: cache head i is KV head i. Lets one output tensor collect the heads of
  // two caches (a layer's full and streaming heads) without gathers or scatters.
  at::Tensor kv_heads;
  int64_t group = 0;  // query heads per KV head; 0: Hq / Hc (only without kv_heads)
  // Optional [B, Hkv, D] or [B, Hkv, 1, D]: one more key and value per KV head, attended after
  // the cached ones (the decoded token itself, when the cache cannot hold it before attention).
  at::Tensor k_new, v_new;
  double scale = 0;    // softmax scale; 0: 1/√D
  int64_t splits = 0;  // CUDA: CTAs per (batch, cache head) over the keys; 0: sized to the GPU
  // CUDA: which split kernel (kernels/README.md): 0 scalar, loads straight into registers;
  // 1 scalar, loads through a cp.async pipeline in shared memory; 2 scalar, loads of the next
  // iteration in flight during this one's arithmetic; 3 tensor cores (bf16/fp16, D 64 or 128,
  // group ≤ 8; variant 0 elsewhere). -1: the process default (decode_attention_default_variant,
  // 3: the fastest on an H200).
  int variant = -1;
};

// The variant used where none is asked for; set_... exists for benchmarks comparing them.
int decode_attention_default_variant();
void set_decode_attention_default_variant(int variant);

// One cache of a multi-cache call: its tensors, as in decode_attention's arguments and options,
// and optionally append_slot (int64, one element, on the device): after attending, k_new and
// v_new are stored in the cache at that slot (as cache_append_reference; on CUDA inside the
// attention's second kernel, skipped when the slot is outside the capacity), so that a decode
// step needs no launch of its own to keep the token.
struct DecodeCache {
  at::Tensor k_cache, v_cache, length;
  at::Tensor kv_heads, k_new, v_new;
  at::Tensor append_slot;
  int64_t splits = 0;
};

// out[b, h] = softmax(q[b, h] · Kᵀ · scale) · V over the first `length` positions of the cache
// head serving h (and the extra key), for every query head h served by the cache.
//   out, q:           [B, Hq, D] or [B, Hq, 1, D]; out is written at the served heads only
//   k_cache, v_cache: [B, Hc, capacity, D]
//   length:           int64 tensor of one element on q's device, clamped to [0, capacity]
// At least one key must be attended (length ≥ 1 or k_new given).
void decode_attention(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache,
                      const at::Tensor& v_cache, const at::Tensor& length,
                      const DecodeAttentionOptions& opt = {});
void decode_attention_reference(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache,
                                const at::Tensor& v_cache, const at::Tensor& length,
                                const DecodeAttentionOptions& opt = {});

// One or two caches serving disjoint query heads (a layer's full and streaming heads) in one
// launch on CUDA: the same as one decode_attention per cache into the same out. `group` is
// required; scale and variant as in DecodeAttentionOptions.
void decode_attention(const at::Tensor& out, const at::Tensor& q, const std::vector<DecodeCache>& caches,
                      int64_t group, double scale = 0, int variant = -1);

// Whether decode_attention runs the CUDA kernel for caches of this device, dtype (float32,
// float16, bfloat16), head_dim (32, 64, 128) and group (1..8); a cache must also be contiguous
// along its last two dims with 16-byte aligned rows.
bool decode_attention_supported(at::Device device, at::ScalarType dtype, int64_t head_dim, int64_t group);

// k_cache[b, i, slot] = k[b, kv_heads[i]] (and the same for v), slot an int64 tensor of one
// element. k, v: [B, Hkv, D] or [B, Hkv, 1, D]; caches [B, Hc, capacity, D]; index_copy_.
void cache_append_reference(const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& k,
                            const at::Tensor& v, const at::Tensor& slot, const at::Tensor& kv_heads = {});

}  // namespace duo::kernels
