// The element-wise passes of a gate-training step, one kernel each on CUDA
// (kernels/cuda/training_ops.cu) where ATen runs several over activations of T × hidden or
// T × intermediate elements: at 32K tokens of an 8B model these passes took about 0.8 s of a
// 6.5 s step (experiments/train-step-h200.md). Each has a reference of plain ATen ops with the
// same signature, used on the CPU, for float64 and wherever a kernel does not apply; the GPU
// tests hold the kernels to it.
#pragma once
#include <ATen/ATen.h>

#include <utility>

namespace duo::kernels {

// RMSNorm's input gradient in float32 (the roundings of the forward taken as identities):
//   dx = r · (g − x̂ · mean(g ∘ x̂)),  g = dy ∘ w,  x̂ = x · r,  r = 1 / √(mean(x²) + eps)
// over the last dim; x, dy of the same shape and dtype, w [cols]. Returns dx in x's dtype.
at::Tensor rms_norm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor rms_norm_backward_reference(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                       double eps);

// SwiGLU's gradients for out = silu(gate) · up, rounded as ATen's ops round them:
//   d_gate = silu'(gate) · T(dy · up),  d_up = dy · T(silu(gate)).
std::pair<at::Tensor, at::Tensor> silu_mul_backward(const at::Tensor& dy, const at::Tensor& gate,
                                                    const at::Tensor& up);
std::pair<at::Tensor, at::Tensor> silu_mul_backward_reference(const at::Tensor& dy, const at::Tensor& gate,
                                                              const at::Tensor& up);
// The same, written over gate and up (d_gate into gate, d_up into up; their autograd history
// is left as it is): for a backward that needs gate and up no more, so that the two largest
// activations of a layer are not held twice.
void silu_mul_backward_(const at::Tensor& dy, const at::Tensor& gate, const at::Tensor& up);

// The gate mix of gated attention, per query head h:
//   out = α_h · full + (1 − α_h) · streaming
// full, streaming [B, H, T, D] (any strides, D contiguous on the kernel path); alpha float32
// [H]. Computed in float32 and rounded once; the output is laid out [B, T, H, D] in memory,
// which is what the output projection reads.
at::Tensor gate_mix(const at::Tensor& full, const at::Tensor& streaming, const at::Tensor& alpha);
at::Tensor gate_mix_reference(const at::Tensor& full, const at::Tensor& streaming, const at::Tensor& alpha);

struct GateMixGrads {
  at::Tensor d_full, d_streaming;  // α · g and (1 − α) · g, [B, T, H, D] in memory
  at::Tensor d_alpha;              // float32 [H]: Σ g · (full − streaming) over B, T, D
};
GateMixGrads gate_mix_backward(const at::Tensor& grad, const at::Tensor& full, const at::Tensor& streaming,
                               const at::Tensor& alpha);
GateMixGrads gate_mix_backward_reference(const at::Tensor& grad, const at::Tensor& full,
                                         const at::Tensor& streaming, const at::Tensor& alpha);

// Merges a second attention over other keys into rows of a first, in place, by their
// log-sum-exps: out ← w · out + (1 − w) · o,  w = exp(lse − logaddexp(lse, l)); lse is not
// updated (the caller does, from the same two). out, o [N, H, D] (out float32 or o's dtype);
// lse, l float32 [H, N]; any strides, D contiguous on the kernel path. With out in o's dtype the
// merge is rounded once, as a float32 merge of two parts rounded at the end would be.
void lse_merge_(const at::Tensor& out, const at::Tensor& lse, const at::Tensor& o, const at::Tensor& l);
void lse_merge_reference_(const at::Tensor& out, const at::Tensor& lse, const at::Tensor& o, const at::Tensor& l);

}  // namespace duo::kernels
