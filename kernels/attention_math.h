// Attention in plain ATen ops, with its log-sum-exp, and the backward that takes the output and
// log-sum-exp as given (as flash and cuDNN compute it): the reference the fused attention
// kernels are held to, and what runs in their place on the CPU and in float32/float64.
//
// Flash's layout: q [n, rows, Hq, D]; k, v [n, keys, Hkv, D] (GQA: query heads h·group ..
// h·group + group − 1 share KV head h); mask [rows, keys], true where a query sees a key.
#pragma once
#include <ATen/ATen.h>

#include <tuple>
#include <utility>

namespace duo::kernels {

// -> out [n, rows, Hq, D] in q's dtype, lse [n, Hq, rows] float32 (float64 for double inputs).
std::pair<at::Tensor, at::Tensor> attention_math_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                         const at::Tensor& mask);

// dq, dk, dv for the upstream gradient dout, with P = exp(S − lse) and
// dS = P ∘ (dO Vᵀ − rowsum(dO ∘ O)): given the output and log-sum-exp of a larger softmax that
// this one is part of, the gradients are this part's share of that softmax's.
std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_math_backward(const at::Tensor& dout, const at::Tensor& q,
                                                                       const at::Tensor& k, const at::Tensor& v,
                                                                       const at::Tensor& out, const at::Tensor& lse,
                                                                       const at::Tensor& mask);

// [B, Hkv, T, D] -> [B, Hkv * group, T, D], each KV head repeated for its query group, for
// kernels that take no GQA (SDPA with a mask). expand + reshape, not repeat_interleave, which
// would wait for the GPU to size its output.
at::Tensor repeat_kv_heads(const at::Tensor& kv, int64_t group);

}  // namespace duo::kernels
