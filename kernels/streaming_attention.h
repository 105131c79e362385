// Streaming attention: causal attention in which query i sees only the first `sink` keys and the
// `recent` most recent ones (StreamingWindow, token granularity), or the reference code's
// block-sparse version of it (block granularity: query block b sees key block c when c ≤ b and
// c < sink/block_size or b − c < recent/block_size, causal inside the diagonal block).
//
// Why it exists: gate training runs streaming attention next to full attention in every layer,
// forward and backward. Through a dense [T, T] mask (SDPA's memory-efficient kernel) it costs T²
// work and memory — more than the full attention it is mixed with, since a mask forbids the
// causal skip. Here it costs (sink + recent) × T: on CUDA it is a few calls of libtorch's flash
// kernel over the window (flash takes a sliding window) and over the sink keys, merged by
// their log-sum-exps; backward hands each call the merged output and log-sum-exp, which makes
// every part's gradient that of the whole softmax.
//
// Layout as the Attention interface: q [B, Hq, T, D], k and v [B, Hkv, T, D] (GQA: query heads
// h·group .. h·group + group − 1 share KV head h), for tokens at positions 0..T−1.
#pragma once
#include <ATen/ATen.h>

#include "kernels/streaming_window.h"

namespace duo::kernels {

// Differentiable (autograd) with respect to q, k and v. On CUDA tensors that
// streaming_attention_supported accepts, the flash path; elsewhere streaming_attention_reference.
at::Tensor streaming_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const StreamingWindow& window);

// The same through a dense boolean mask (streaming_mask) and SDPA, differentiable by autograd:
// the reference the flash path is tested against, and the path on the CPU.
at::Tensor streaming_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         const StreamingWindow& window);

// The decomposition itself on any device and dtype: libtorch's flash kernel where
// streaming_attention_supported, plain ATen ops computing the same parts (and their
// log-sum-exp merge and merged-statistics backward) elsewhere, so that the CPU tests check it.
at::Tensor streaming_attention_split(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     const StreamingWindow& window);

// Boolean [T, T] tensor, true where query i may attend key j (positions 0..T−1).
at::Tensor streaming_mask(const StreamingWindow& window, int64_t T, at::Device device);

// CUDA, float16 or bfloat16, head_dim a multiple of 8 up to 256 (the flash kernel's limits), a
// window that gives every query at least its own key.
bool streaming_attention_supported(const at::Tensor& q, const StreamingWindow& window);

}  // namespace duo::kernels
