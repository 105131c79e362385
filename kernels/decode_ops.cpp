// add_rms_norm, rope_qk, rope_sequence, silu_mul: the CUDA launch for float32/float16/bfloat16 tensors on a
// CUDA device (when built with CUDA), the ATen reference otherwise.
#include "decode_ops.h"

#include <stdexcept>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/launch.h"
#include "cuda_dtype.h"
#endif

namespace duo::kernels {

AddRmsNorm add_rms_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, double eps) {
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(x) && weight.scalar_type() == x.scalar_type() && weight.dim() == 1 &&
      weight.size(0) == x.size(-1) && (!residual.defined() || (residual.sizes() == x.sizes() &&
                                                               residual.scalar_type() == x.scalar_type()))) {
    const c10::cuda::CUDAGuard guard(x.device());
    const at::Tensor xc = x.contiguous(), w = weight.contiguous();
    const at::Tensor r = residual.defined() ? residual.contiguous() : at::Tensor();
    AddRmsNorm out;
    out.h = r.defined() ? at::empty_like(xc) : xc;
    out.y = at::empty_like(xc);
    cuda::AddRmsNormParams p{};
    p.dtype = to_dtype(x.scalar_type());
    p.cols = x.size(-1);
    p.rows = p.cols > 0 ? x.numel() / p.cols : 0;
    p.eps = static_cast<float>(eps);
    p.x = xc.data_ptr();
    p.residual = r.defined() ? r.data_ptr() : nullptr;
    p.weight = w.data_ptr();
    p.h = out.h.data_ptr();
    p.y = out.y.data_ptr();
    C10_CUDA_CHECK(cuda::launch_add_rms_norm(p, at::cuda::getCurrentCUDAStream()));
    return out;
  }
#endif
  return add_rms_norm_reference(x, residual, weight, eps);
}

AddRmsNorm add_rms_norm_reference(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight,
                                  double eps) {
  AddRmsNorm out;
  out.h = residual.defined() ? x + residual : x;
  // model/rms_norm.cpp, op for op.
  at::Tensor xf = out.h.to(at::promote_types(out.h.scalar_type(), at::kFloat));
  at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  out.y = weight * (xf * at::rsqrt(variance + eps)).to(out.h.scalar_type());
  return out;
}

std::pair<at::Tensor, at::Tensor> rope_qk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                          const at::Tensor& sin) {
  if (q.dim() != 4 || k.dim() != 4 || q.size(1) != 1 || k.size(1) != 1 || q.size(0) != k.size(0) ||
      q.size(3) != k.size(3) || q.size(3) % 2 != 0)
    throw std::invalid_argument("rope_qk: q and k must be [B, 1, H, D] with D even");
#ifdef DUO_WITH_CUDA
  const int64_t D = q.size(3);
  if (kernel_dtype(q) && k.scalar_type() == q.scalar_type() && cos.scalar_type() == q.scalar_type() &&
      sin.scalar_type() == q.scalar_type() && q.stride(3) == 1 && k.stride(3) == 1 && cos.numel() == D &&
      sin.numel() == D) {
    const c10::cuda::CUDAGuard guard(q.device());
    const int64_t B = q.size(0), Hq = q.size(2), Hk = k.size(2);
    at::Tensor q_out = at::empty({B, Hq, 1, D}, q.options()), k_out = at::empty({B, Hk, 1, D}, k.options());
    const at::Tensor c = cos.contiguous(), s = sin.contiguous();
    cuda::RopeParams p{};
    p.dtype = to_dtype(q.scalar_type());
    p.batch = static_cast<int>(B);
    p.hq = static_cast<int>(Hq);
    p.hk = static_cast<int>(Hk);
    p.head_dim = static_cast<int>(D);
    p.q = q.data_ptr();
    p.q_sb = q.stride(0);
    p.q_sh = q.stride(2);
    p.k = k.data_ptr();
    p.k_sb = k.stride(0);
    p.k_sh = k.stride(2);
    p.cos = c.data_ptr();
    p.sin = s.data_ptr();
    p.q_out = q_out.data_ptr();
    p.k_out = k_out.data_ptr();
    if (B * (Hq + Hk) > 0) C10_CUDA_CHECK(cuda::launch_rope_qk(p, at::cuda::getCurrentCUDAStream()));
    return {q_out, k_out};
  }
#endif
  return rope_qk_reference(q, k, cos, sin);
}

at::Tensor rope_sequence(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (x.dim() != 4 || x.size(3) % 2 != 0 || cos.dim() != 2 || cos.size(0) != x.size(2) || cos.size(1) != x.size(3) ||
      sin.sizes() != cos.sizes())
    throw std::invalid_argument("rope_sequence: x must be [B, H, T, D] with D even, cos and sin [T, D]");
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(x) && cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type() &&
      x.stride(3) == 1) {
    const c10::cuda::CUDAGuard guard(x.device());
    // The projections' layout, [B, T, H, D] in memory, which the attention kernels read as is.
    at::Tensor out = at::empty({x.size(0), x.size(2), x.size(1), x.size(3)}, x.options()).transpose(1, 2);
    const at::Tensor c = cos.contiguous(), s = sin.contiguous();
    cuda::RopeSequenceParams p{};
    p.dtype = to_dtype(x.scalar_type());
    p.batch = x.size(0), p.heads = x.size(1), p.seq = x.size(2), p.head_dim = x.size(3);
    p.x = x.data_ptr(), p.x_sb = x.stride(0), p.x_sh = x.stride(1), p.x_st = x.stride(2);
    p.out = out.data_ptr(), p.out_sb = out.stride(0), p.out_sh = out.stride(1), p.out_st = out.stride(2);
    p.cos = c.data_ptr(), p.sin = s.data_ptr();
    C10_CUDA_CHECK(cuda::launch_rope_sequence(p, at::cuda::getCurrentCUDAStream()));
    return out;
  }
#endif
  return rope_sequence_reference(x, cos, sin);
}

at::Tensor rope_sequence_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;  // model/rope.cpp's rope_apply, op for op
  return x * cos + at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1) * sin;
}

std::pair<at::Tensor, at::Tensor> rope_qk_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                    const at::Tensor& sin) {
  // model/rope.cpp's rope_apply on the [B, H, T, D] views, op for op.
  auto apply = [&](const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
  };
  return {apply(q.transpose(1, 2)), apply(k.transpose(1, 2))};
}

at::Tensor silu_mul(const at::Tensor& gate, const at::Tensor& up) {
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(gate) && up.scalar_type() == gate.scalar_type() && up.sizes() == gate.sizes()) {
    const c10::cuda::CUDAGuard guard(gate.device());
    const at::Tensor g = gate.contiguous(), u = up.contiguous();
    at::Tensor out = at::empty_like(g);
    C10_CUDA_CHECK(cuda::launch_silu_mul(to_dtype(g.scalar_type()), g.numel(), g.data_ptr(), u.data_ptr(),
                                         out.data_ptr(), at::cuda::getCurrentCUDAStream()));
    return out;
  }
#endif
  return silu_mul_reference(gate, up);
}

at::Tensor silu_mul_reference(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

}  // namespace duo::kernels
