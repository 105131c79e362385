// MixedKVCacheAttention: duo's KV cache, laid out by a head pattern as a runtime would run it.
// Retrieval heads keep a full KV cache; streaming heads keep a fixed-size one (the first `sink`
// tokens and a buffer of the `recent` most recent tokens), so memory really shrinks with
// sparsity. Every head a retrieval head is the dense cache. model/decoder.h drives it.
//
// Tokens arrive in chunks (chunked prefill, then one token per decode step). A streaming head
// attends, for the queries of the chunk starting at position s, to: its sink tokens, its recent
// buffer (the last `recent` tokens before s that are not sink tokens) and the chunk itself
// causally — the reference implementation's chunked-prefill rule. streaming_mask_for_chunks()
// spells that out as a dense mask, for tests.
//
// Decode steps with a device position (AttentionInput::position: CUDA graphs, see
// core/model/decode_graph.h) run through kernels/decode_attention.h, one call for all heads of a
// layer: retrieval heads attend to the `position` cached tokens plus the new one, streaming heads
// to their sink and recent buffers plus the new one; the same call then stores the token at the
// position (read on the device) and in the ring slot computed on the device. Their shapes are
// static only once both buffers are full, so such steps need position ≥ sink + recent when the
// pattern has streaming heads (graph_decodable); the results are those of the ordinary path.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/attention.h"
#include "model/head_pattern.h"

namespace duo {

class MixedKVCacheAttention : public Attention {
 public:
  // max_length: the longest context this cache will hold; the full caches are allocated for
  // it up front (a static cache), so kv_bytes() is known before the first token.
  MixedKVCacheAttention(const HeadPattern& pattern, int64_t batch, int64_t max_length,
                        int64_t head_dim, at::ScalarType dtype, at::Device device);
  at::Tensor forward(const AttentionInput& in) override;
  // Decoding with the position on the device (core/model/decode_graph.h): forward() of an
  // input carrying `position` takes the position from that tensor alone, launches the same
  // work whatever its value, and leaves host-side state untouched (a graph replay runs no host
  // code); the caller reports each such step with decoded(pos). graph_decodable(pos): whether
  // steps at pos and every later position up to max_length can run that way.
  bool graph_decodable(int64_t pos) const;
  void decoded(int64_t pos);

  int64_t length() const { return length_; }
  int64_t kv_bytes() const;  // bytes of every K and V buffer allocated

  // For speed and memory measurements at long contexts: make the cache hold `length` tokens of
  // random keys and values, as if a prompt of that length had been prefilled. Decoding then
  // costs what it would after a real prefill (attention reads every cached key either way).
  void fill_random(int64_t length);

 private:
  struct Layer {
    at::Tensor retrieval_idx, streaming_idx;  // KV head indices (int64)
    at::Tensor retrieval_q, streaming_q;      // their query heads, once the group size is known
    at::Tensor full_k, full_v;                // [B, |R|, max_length, D]
    at::Tensor stream_k, stream_v;            // [B, |S|, sink + recent, D]: the two below
    at::Tensor sink_k, sink_v;                // [B, |S|, sink, D]
    at::Tensor recent_k, recent_v;            // [B, |S|, recent, D], a ring: slot (pos - sink) % recent
    int64_t length = 0;
  };
  at::Tensor attend_streaming(Layer& l, const at::Tensor& q, const at::Tensor& k,
                              const at::Tensor& v, int64_t start);
  at::Tensor forward_at_position(Layer& l, const AttentionInput& in);

  HeadPattern pattern_;
  int64_t max_length_;
  int64_t sink_cap_ = 0, recent_cap_ = 0;  // streaming buffer sizes (sink, recent, capped by max_length)
  bool has_streaming_ = false;             // some layer has streaming heads
  std::vector<Layer> layers_;
  int64_t length_ = 0;
  // Device-position steps: int64 [1] tensors that keep their storage, so a captured graph
  // always reads and writes the same memory. step_slot_ = sink + (position - sink) % recent is
  // computed at layer 0 of each step; stream_length_ is sink + recent.
  at::Tensor step_slot_, stream_length_;
};

// The dense [T, T] mask a streaming head effectively uses when T tokens arrive in chunks of
// `chunk` (true = allowed); for checking the engine against a plain masked forward.
at::Tensor streaming_mask_for_chunks(int64_t T, int64_t chunk, int64_t sink, int64_t recent);

// KV-cache bytes of a pattern at a context length, by formula: per layer, retrieval heads hold
// max_length tokens, streaming heads min(max_length, sink + recent); K and V; batch × head_dim.
int64_t pattern_kv_bytes(const HeadPattern& pattern, int64_t batch, int64_t max_length,
                         int64_t head_dim, int64_t dtype_bytes);

}  // namespace duo
