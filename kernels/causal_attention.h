// Causal attention over a whole sequence with its log-sum-exp kept, and the backward that takes
// them: what lets gate training keep a layer's full-attention result from the forward pass and
// skip computing it again when activation checkpointing recomputes the layer (the output and
// log-sum-exp are all a flash-style backward needs besides q, k, v).
//
// SDPA's cuDNN kernel, the fastest of libtorch's on an H200 for this shape (duo-bench-attention:
// 575 against flash's 346 TFLOP/s at 32K tokens, head_dim 128, GQA 32/8). CUDA float16 and
// bfloat16 only (causal_attention_supported); elsewhere SDPA with autograd does the same job.
//
// Layout as the Attention interface: q [B, Hq, T, D]; k, v [B, Hkv, T, D]; out [B, Hq, T, D].
#pragma once
#include <ATen/ATen.h>

#include <tuple>

namespace duo::kernels {

struct CausalAttentionResult {
  at::Tensor out, lse;
  at::Tensor seed, offset;  // cuDNN's random state (unused without dropout, but its backward takes it)
};

bool causal_attention_supported(const at::Tensor& q);

CausalAttentionResult causal_attention_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// dq, dk, dv of sum(out · dout).
std::tuple<at::Tensor, at::Tensor, at::Tensor> causal_attention_backward(const at::Tensor& dout, const at::Tensor& q,
                                                                         const at::Tensor& k, const at::Tensor& v,
                                                                         const CausalAttentionResult& forward);

}  // namespace duo::kernels
