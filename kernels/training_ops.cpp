// training_ops.h: the CUDA launches for float32/float16/bfloat16 CUDA tensors (when built with
// CUDA) whose shapes and strides the kernels take, the ATen references otherwise.
#include "kernels/training_ops.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/launch.h"
#include "cuda_dtype.h"
#endif

namespace duo::kernels {
namespace {

#ifdef DUO_WITH_CUDA
// What the vectorised kernels need: rows of whole 16-byte vectors, 16-byte aligned.
bool vector_rows(int64_t cols, std::initializer_list<const at::Tensor*> ts) {
  if (cols % 8 != 0) return false;
  for (const at::Tensor* t : ts)
    if (reinterpret_cast<uintptr_t>(t->data_ptr()) % 16 != 0) return false;
  return true;
}

bool same_kind(const at::Tensor& a, std::initializer_list<const at::Tensor*> others) {
  for (const at::Tensor* o : others)
    if (o->scalar_type() != a.scalar_type() || o->device() != a.device()) return false;
  return true;
}
#endif

// [B, H, T, D] with the memory order [B, T, H, D], the layout attention outputs come in.
at::Tensor empty_bthd(const at::Tensor& like) {
  return at::empty({like.size(0), like.size(2), like.size(1), like.size(3)}, like.options()).transpose(1, 2);
}

at::Tensor head_alpha(const at::Tensor& alpha, at::ScalarType t) { return alpha.to(t).view({1, -1, 1, 1}); }

}  // namespace

at::Tensor rms_norm_backward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight, double eps) {
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(x) && same_kind(x, {&dy, &weight}) && dy.sizes() == x.sizes() && weight.dim() == 1 &&
      weight.size(0) == x.size(-1)) {
    const c10::cuda::CUDAGuard guard(x.device());
    const at::Tensor xc = x.contiguous(), dyc = dy.contiguous(), w = weight.contiguous();
    if (!vector_rows(x.size(-1), {&xc, &dyc, &w})) return rms_norm_backward_reference(dy, x, weight, eps);
    at::Tensor dx = at::empty_like(xc);
    cuda::RmsNormBackwardParams p{};
    p.dtype = to_dtype(x.scalar_type());
    p.cols = x.size(-1);
    p.rows = p.cols > 0 ? x.numel() / p.cols : 0;
    p.eps = static_cast<float>(eps);
    p.dy = dyc.data_ptr(), p.x = xc.data_ptr(), p.weight = w.data_ptr(), p.dx = dx.data_ptr();
    C10_CUDA_CHECK(cuda::launch_rms_norm_backward(p, at::cuda::getCurrentCUDAStream()));
    return dx;
  }
#endif
  return rms_norm_backward_reference(dy, x, weight, eps);
}

at::Tensor rms_norm_backward_reference(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                       double eps) {
  const auto t = at::promote_types(x.scalar_type(), at::kFloat);
  const at::Tensor xf = x.to(t), g = dy.to(t) * weight.to(t);
  const at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, true) + eps), xhat = xf * r;
  return ((g - xhat * (g * xhat).mean(-1, true)) * r).to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> silu_mul_backward(const at::Tensor& dy, const at::Tensor& gate,
                                                    const at::Tensor& up) {
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(gate) && same_kind(gate, {&dy, &up}) && dy.sizes() == gate.sizes() && up.sizes() == gate.sizes()) {
    const c10::cuda::CUDAGuard guard(gate.device());
    const at::Tensor d = dy.contiguous(), g = gate.contiguous(), u = up.contiguous();
    if (!vector_rows(g.numel(), {&d, &g, &u})) return silu_mul_backward_reference(dy, gate, up);
    at::Tensor d_gate = at::empty_like(g), d_up = at::empty_like(g);
    C10_CUDA_CHECK(cuda::launch_silu_mul_backward(to_dtype(g.scalar_type()), g.numel(), d.data_ptr(), g.data_ptr(),
                                                  u.data_ptr(), d_gate.data_ptr(), d_up.data_ptr(),
                                                  at::cuda::getCurrentCUDAStream()));
    return {d_gate, d_up};
  }
#endif
  return silu_mul_backward_reference(dy, gate, up);
}

void silu_mul_backward_(const at::Tensor& dy, const at::Tensor& gate, const at::Tensor& up) {
#ifdef DUO_WITH_CUDA
  if (kernel_dtype(gate) && same_kind(gate, {&dy, &up}) && dy.sizes() == gate.sizes() && up.sizes() == gate.sizes() &&
      gate.is_contiguous() && up.is_contiguous()) {
    const c10::cuda::CUDAGuard guard(gate.device());
    const at::Tensor d = dy.contiguous();
    if (vector_rows(gate.numel(), {&d, &gate, &up})) {
      // Each thread reads its elements of gate and up before it writes them.
      C10_CUDA_CHECK(cuda::launch_silu_mul_backward(to_dtype(gate.scalar_type()), gate.numel(), d.data_ptr(),
                                                    gate.data_ptr(), up.data_ptr(), gate.data_ptr(), up.data_ptr(),
                                                    at::cuda::getCurrentCUDAStream()));
      return;
    }
  }
#endif
  auto [d_gate, d_up] = silu_mul_backward_reference(dy, gate, up);
  gate.detach().copy_(d_gate);
  up.detach().copy_(d_up);
}

std::pair<at::Tensor, at::Tensor> silu_mul_backward_reference(const at::Tensor& dy, const at::Tensor& gate,
                                                              const at::Tensor& up) {
  return {at::silu_backward(dy * up, gate), dy * at::silu(gate)};
}

#ifdef DUO_WITH_CUDA
namespace {

// The kernels' view of a gate mix, or nothing where they do not apply.
bool gate_mix_params(const at::Tensor& full, const at::Tensor& streaming, const at::Tensor& alpha,
                     const at::Tensor* grad, cuda::GateMixParams& p) {
  if (!kernel_dtype(full) || !same_kind(full, {&streaming}) || full.dim() != 4 || streaming.sizes() != full.sizes() ||
      full.stride(3) != 1 || streaming.stride(3) != 1 || alpha.scalar_type() != at::kFloat ||
      alpha.device() != full.device() || alpha.numel() != full.size(1))
    return false;
  if (grad && (!same_kind(full, {grad}) || grad->sizes() != full.sizes() || grad->stride(3) != 1)) return false;
  p = {};
  p.dtype = to_dtype(full.scalar_type());
  p.batch = full.size(0), p.heads = full.size(1), p.seq = full.size(2), p.head_dim = full.size(3);
  p.full = full.data_ptr(), p.f_sb = full.stride(0), p.f_sh = full.stride(1), p.f_st = full.stride(2);
  p.streaming = streaming.data_ptr(), p.s_sb = streaming.stride(0), p.s_sh = streaming.stride(1);
  p.s_st = streaming.stride(2);
  if (grad) p.grad = grad->data_ptr(), p.g_sb = grad->stride(0), p.g_sh = grad->stride(1), p.g_st = grad->stride(2);
  return cuda::gate_mix_fits(p);
}

}  // namespace
#endif

at::Tensor gate_mix(const at::Tensor& full, const at::Tensor& streaming, const at::Tensor& alpha) {
#ifdef DUO_WITH_CUDA
  cuda::GateMixParams p;
  if (gate_mix_params(full, streaming, alpha, nullptr, p)) {
    const c10::cuda::CUDAGuard guard(full.device());
    const at::Tensor a = alpha.contiguous();
    at::Tensor out = empty_bthd(full);
    p.alpha = a.data_ptr<float>();
    p.out = out.data_ptr();
    C10_CUDA_CHECK(cuda::launch_gate_mix(p, at::cuda::getCurrentCUDAStream()));
    return out;
  }
#endif
  return gate_mix_reference(full, streaming, alpha);
}

at::Tensor gate_mix_reference(const at::Tensor& full, const at::Tensor& streaming, const at::Tensor& alpha) {
  const auto t = at::promote_types(full.scalar_type(), at::kFloat);
  const at::Tensor a = head_alpha(alpha, t);
  at::Tensor out = empty_bthd(full);
  out.copy_(a * full.to(t) + (1 - a) * streaming.to(t));
  return out;
}

GateMixGrads gate_mix_backward(const at::Tensor& grad, const at::Tensor& full, const at::Tensor& streaming,
                               const at::Tensor& alpha) {
#ifdef DUO_WITH_CUDA
  cuda::GateMixParams p;
  if (gate_mix_params(full, streaming, alpha, &grad, p)) {
    const c10::cuda::CUDAGuard guard(full.device());
    const at::Tensor a = alpha.contiguous();
    GateMixGrads g{empty_bthd(full), empty_bthd(full), {}};
    // Enough CTAs to fill the GPU a few times over; each writes its own row of per-head sums.
    const int64_t rows = p.batch * p.seq;
    p.ctas = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(rows, 1024)));
    at::Tensor partial = at::empty({p.ctas, p.heads}, full.options().dtype(at::kFloat));
    p.alpha = a.data_ptr<float>();
    p.d_full = g.d_full.data_ptr(), p.d_streaming = g.d_streaming.data_ptr();
    p.d_alpha_partial = partial.data_ptr<float>();
    C10_CUDA_CHECK(cuda::launch_gate_mix_backward(p, at::cuda::getCurrentCUDAStream()));
    g.d_alpha = partial.sum(0);
    return g;
  }
#endif
  return gate_mix_backward_reference(grad, full, streaming, alpha);
}

GateMixGrads gate_mix_backward_reference(const at::Tensor& grad, const at::Tensor& full,
                                         const at::Tensor& streaming, const at::Tensor& alpha) {
  const auto t = at::promote_types(full.scalar_type(), at::kFloat);
  const at::Tensor a = head_alpha(alpha, t), g = grad.to(t);
  GateMixGrads out{empty_bthd(full), empty_bthd(full), {}};
  out.d_full.copy_(a * g);
  out.d_streaming.copy_((1 - a) * g);
  out.d_alpha = (g * (full.to(t) - streaming.to(t))).sum({0, 2, 3}).to(alpha.scalar_type());
  return out;
}

void lse_merge_(const at::Tensor& out, const at::Tensor& lse, const at::Tensor& o, const at::Tensor& l) {
  if (out.dim() != 3 || o.sizes() != out.sizes() || lse.dim() != 2 || lse.size(0) != out.size(1) ||
      lse.size(1) != out.size(0) || l.sizes() != lse.sizes())
    throw std::invalid_argument("lse_merge_: out and o must be [N, H, D], lse and l [H, N]");
#ifdef DUO_WITH_CUDA
  const bool out_float = out.scalar_type() == at::kFloat;
  if (kernel_dtype(o) && (out_float || out.scalar_type() == o.scalar_type()) && out.device() == o.device() &&
      lse.scalar_type() == at::kFloat && l.scalar_type() == at::kFloat && out.stride(2) == 1 && o.stride(2) == 1) {
    cuda::LseMergeParams p{};
    p.dtype = to_dtype(o.scalar_type());
    p.out_float = out_float;
    p.rows = out.size(0), p.heads = out.size(1), p.head_dim = out.size(2);
    p.out = out.data_ptr(), p.out_sr = out.stride(0), p.out_sh = out.stride(1);
    p.o = o.data_ptr(), p.o_sr = o.stride(0), p.o_sh = o.stride(1);
    p.lse = lse.data_ptr<float>(), p.lse_sh = lse.stride(0), p.lse_sr = lse.stride(1);
    p.l = l.data_ptr<float>(), p.l_sh = l.stride(0), p.l_sr = l.stride(1);
    if (cuda::lse_merge_fits(p)) {
      const c10::cuda::CUDAGuard guard(o.device());
      C10_CUDA_CHECK(cuda::launch_lse_merge(p, at::cuda::getCurrentCUDAStream()));
      return;
    }
  }
#endif
  lse_merge_reference_(out, lse, o, l);
}

void lse_merge_reference_(const at::Tensor& out, const at::Tensor& lse, const at::Tensor& o, const at::Tensor& l) {
  const auto t = at::promote_types(out.scalar_type(), at::kFloat);
  // [H, N] -> [N, H, 1]: each row's weight of the first side.
  const at::Tensor w = (lse - at::logaddexp(lse, l)).exp().transpose(0, 1).unsqueeze(-1).to(t);
  out.copy_(w * out.to(t) + (1 - w) * o.to(t));
}

}  // namespace duo::kernels
