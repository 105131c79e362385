// The small operations of a decode step as one kernel each on CUDA (kernels/cuda/decode_ops.cu):
// a graph-captured step is then a few launches per layer besides the matrix products and the
// attention. Gate training's layers use the same kernels over whole sequences (model/rms_norm.h,
// model/swiglu.h, model/rope.h), with rope_sequence for RoPE. Each has a reference of plain ATen ops that computes exactly what the eager model
// computes (model/rms_norm.cpp, model/rope.cpp, the SwiGLU of model/llama.cpp), used on the
// CPU and for dtypes the kernels do not take (float64).
#pragma once
#include <ATen/ATen.h>

#include <utility>

namespace duo::kernels {

struct AddRmsNorm {
  at::Tensor h;  // x + residual (x itself without a residual)
  at::Tensor y;  // weight · rmsnorm(h) over the last dim
};
// Residual add then RMSNorm (float32 statistics, cast back before the weight, as HF).
AddRmsNorm add_rms_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, double eps);
AddRmsNorm add_rms_norm_reference(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                  double eps);

// RoPE of one token: q [B, 1, Hq, D], k [B, 1, Hkv, D] (the projections' layout), cos/sin
// [1, D] → rotated q [B, Hq, 1, D] and k [B, Hkv, 1, D] (x·cos + rotate_half(x)·sin).
std::pair<at::Tensor, at::Tensor> rope_qk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                          const at::Tensor& sin);
std::pair<at::Tensor, at::Tensor> rope_qk_reference(const at::Tensor& q, const at::Tensor& k,
                                                    const at::Tensor& cos, const at::Tensor& sin);

// RoPE of a whole sequence: x [B, H, T, D] with the head dim contiguous (the projections'
// [B, T, H, D] layout viewed as [B, H, T, D]), cos/sin [T, D] → x·cos + rotate_half(x)·sin,
// laid out as [B, T, H, D] in memory.
at::Tensor rope_sequence(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
at::Tensor rope_sequence_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// silu(gate) · up, same shapes.
at::Tensor silu_mul(const at::Tensor& gate, const at::Tensor& up);
at::Tensor silu_mul_reference(const at::Tensor& gate, const at::Tensor& up);

}  // namespace duo::kernels
