// Gated attention for gate training: per (layer, KV head) gate α in [0, 1],
//   out = α · full_attention + (1 − α) · streaming_attention
// per head; a GQA group shares its KV head's gate.
//
// Two ways to get full_attention on the gated path (GateMode, from the run's config):
//   paper      recompute it from the gated path's own q, k, v (the paper's formula);
//   reference  reuse the frozen reference pass's full-attention output, detached (the reference
//              code's shortcut: cheaper, since the gated path then only runs streaming attention).
// For `reference` the reference pass must run through a FullAttentionRecorder first.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "model/attention.h"
#include "streaming_mask.h"

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
  // required for GateMode::reference.
  GatedAttention(at::Tensor gates, StreamingWindow window, GateMode mode,
                 const FullAttentionRecorder* recorder = nullptr);
  at::Tensor forward(const AttentionInput& in) override;

 private:
  const at::Tensor& mask(int64_t T, at::Device device);

  at::Tensor gates_;
  StreamingWindow window_;
  GateMode mode_;
  const FullAttentionRecorder* recorder_;
  at::Tensor mask_;  // cached for the last sequence length
};

// Attention restricted by a boolean [T, T] mask (true = allowed); GQA heads share their KV head.
at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask);

}  // namespace duo
