// The matrix-vector products of a decode step (one token, so x is a single row): on CUDA for
// float32/float16/bfloat16, kernels that read the weights at memory bandwidth and fuse what one
// layer needs into fewer launches (kernels/cuda/matvec.cu); everywhere else at::linear, which is
// also the reference the tests hold them to.
#pragma once
#include <ATen/ATen.h>

#include <utility>
#include <vector>

namespace duo::kernels {

// A weight [N, K] and its optional bias [N].
struct Projection {
  at::Tensor weight, bias;
};

// x · Wᵢᵀ + bᵢ for each projection (at most three, of the same K), x: [..., K] with a single row;
// outputs [..., Nᵢ]. One launch on CUDA.
std::vector<at::Tensor> matvec(const at::Tensor& x, const std::vector<Projection>& projections);

// SwiGLU's silu(x · W_gateᵀ + b_gate) · (x · W_upᵀ + b_up), [..., N]; one launch on CUDA.
at::Tensor matvec_swiglu(const at::Tensor& x, const Projection& gate, const Projection& up);

// A residual add and RMSNorm in front of the projections (a decoder layer's input_layernorm or
// post_attention_layernorm): they then read weight · rmsnorm(x + residual), as add_rms_norm
// (kernels/decode_ops.h) computes it. residual may be undefined (then h is x itself).
struct InputNorm {
  at::Tensor residual, weight;
  double eps = 1e-6;
};
struct NormedProjections {
  at::Tensor h;                 // x + residual: the residual stream after the add
  std::vector<at::Tensor> out;  // the projections (one for the SwiGLU form)
};
// RoPE of one position on the first two outputs (queries and keys: heads of head_dim contiguous
// elements), as rope_qk (kernels/decode_ops.h) computes it; cos and sin of head_dim elements.
struct OutputRope {
  at::Tensor cos, sin;
  int64_t head_dim = 0;
};
// add_rms_norm then matvec / matvec_swiglu (and, given rope, rope_qk of the first two outputs,
// which keep their shapes). One launch on CUDA (where matvec_supported and the normalised row fits
// in 48 KB of shared memory): every CTA normalises x itself, and RoPE runs in the epilogue.
NormedProjections norm_matvec(const at::Tensor& x, const InputNorm& norm, const std::vector<Projection>& projections,
                              const OutputRope* rope = nullptr);
NormedProjections norm_matvec_swiglu(const at::Tensor& x, const InputNorm& norm, const Projection& gate,
                                     const Projection& up);

// Whether the CUDA kernels take x and these weights (a CUDA build, CUDA tensors of one dtype
// among float32/float16/bfloat16, x a single contiguous row, weights contiguous with K a
// multiple of 16 bytes); otherwise the functions above run at::linear.
bool matvec_supported(const at::Tensor& x, const std::vector<Projection>& projections);

}  // namespace duo::kernels
