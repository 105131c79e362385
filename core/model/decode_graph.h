// DecodeGraph: decoding one token at a time with the whole step (every layer, the logits)
// captured once in a CUDA graph and replayed per token, so that the GPU is not left waiting on
// the CPU to launch each of the step's several hundred kernels.
//
// The step is LlamaModel::decode_step: the token id and its position sit in static device
// tensors that are written before each replay; RoPE, the cache append, the ring slot of
// streaming heads and the attention lengths are all computed from the position on the device,
// and attention runs through kernels/decode_attention.h, whose launches do not depend on the
// cache length. The first device-position step runs eagerly on a side stream (the warm-up:
// cuBLAS handles and workspaces, the allocator) and is then captured on that stream.
//
// Steps the cache cannot take with a device position (MixedKVCacheAttention::graph_decodable: e.g. a
// streaming head whose buffers are not yet full) go through the ordinary LlamaModel::forward.
// Without CUDA, or when the kernels do not take the model's shapes, device-position steps run
// eagerly (on the CPU through the kernels' ATen references), which is what the CPU tests check
// against the ordinary path.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

#include "model/llama.h"
#include "model/mixed_kv_cache.h"

namespace duo {

class DecodeGraph {
 public:
  struct Options {
    bool cuda_graph = true;    // false: device-position steps run eagerly, one launch at a time
    bool fused_matvec = true;  // LlamaModel::decode_step's projections through kernels/matvec.h
  };
  // model and cache must outlive this object.
  DecodeGraph(const LlamaModel& model, MixedKVCacheAttention& cache, Options options);
  DecodeGraph(const LlamaModel& model, MixedKVCacheAttention& cache) : DecodeGraph(model, cache, Options{}) {}
  ~DecodeGraph();
  DecodeGraph(const DecodeGraph&) = delete;
  DecodeGraph& operator=(const DecodeGraph&) = delete;

  // Logits [B, 1, vocab] of the token ids ([B, 1] int64 on the model's device) at position
  // pos, the cache's next position. A replayed step returns the graph's own output
  // tensor, which the next step overwrites: read it before calling step() again.
  at::Tensor step(const at::Tensor& ids, int64_t pos);

  // Whether this build and the model's shapes allow a CUDA graph at all (CUDA build, model on
  // a CUDA device, decode_attention_supported for its dtype, head_dim and GQA group).
  static bool available(const LlamaModel& model);

  bool captured() const { return captured_; }
  int64_t replays() const { return replays_; }            // steps replayed from the graph
  int64_t position_steps() const { return position_steps_; }  // device-position steps run eagerly
  int64_t plain_steps() const { return plain_steps_; }        // steps through LlamaModel::forward

 private:
  struct Cuda;  // the graph and its stream (CUDA builds)
  const LlamaModel& model_;
  MixedKVCacheAttention& attn_;
  bool use_graph_;
  bool fused_matvec_;
  bool position_mode_;  // device-position steps possible (kernels or their references)
  bool captured_ = false;
  std::unique_ptr<Cuda> cuda_;
  at::Tensor ids_, pos_, logits_;  // static inputs and the captured output (freed before the graph)
  int64_t replays_ = 0, position_steps_ = 0, plain_steps_ = 0;
};

}  // namespace duo
