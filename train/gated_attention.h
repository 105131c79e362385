// Gated attention for gate training: per (layer, KV head) gate α in [0, 1],
//   out = α · full_attention + (1 − α) · streaming_attention
// per head; a GQA group shares its KV head's gate.
//
// Two ways to get full_attention on the gated path (GateMode, from the run's config):
//   paper      recompute it from the gated path's own q, k, v (the paper's formula);
//   reference  reuse the frozen reference pass's full-attention output, detached (the reference
//              code's shortcut: cheaper, since the gated path then only runs streaming attention).
// For `reference` the reference pass must run through a FullAttentionRecorder first.
//
// keep_full_attention (paper mode, with activation checkpointing): the first, unrecorded pass
// keeps each layer's full-attention output and log-sum-exp until the layer is recomputed for
// backward, which then reuses them instead of attending again: one causal attention forward
// per layer less (about 7% of a 32K-token step of an 8B model), for T·Hq·D activations per
// layer held from the forward pass to the backward.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "activation_offload.h"
#include "kernels/causal_attention.h"
#include "model/attention.h"
#include "model/streaming_window.h"
#include "config.h"

namespace duo {

// Full causal attention that also keeps each layer's output (detached) for GateMode::reference.
class FullAttentionRecorder : public Attention {
 public:
  at::Tensor forward(const AttentionInput& in) override;
  const at::Tensor& output(int layer) const;
  void clear() { outputs_.clear(); }

 private:
  std::vector<at::Tensor> outputs_;
};

class GatedAttention : public Attention {
 public:
  // gates: [num_layers, num_kv_heads] float tensor (the trained parameter); recorder is
  // required for GateMode::reference; offload, if given, holds the kept full attention.
  GatedAttention(at::Tensor gates, StreamingWindow window, GateMode mode,
                 const FullAttentionRecorder* recorder = nullptr, bool keep_full_attention = false,
                 ActivationOffload* offload = nullptr);
  at::Tensor forward(const AttentionInput& in) override;

 private:
  at::Tensor full_attention(const AttentionInput& in);

  at::Tensor gates_;
  StreamingWindow window_;
  GateMode mode_;
  const FullAttentionRecorder* recorder_;
  bool keep_full_attention_;
  ActivationOffload* offload_;
  std::vector<kernels::CausalAttentionResult> kept_;  // per layer, from the unrecorded pass to its recomputation
};

}  // namespace duo
