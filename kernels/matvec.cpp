// matvec / matvec_swiglu: the CUDA launch when matvec_supported, at::linear otherwise.
#include "matvec.h"

#include <stdexcept>

#include "decode_ops.h"

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/launch.h"
#include "cuda_dtype.h"
#endif

namespace duo::kernels {
namespace {

at::Tensor linear(const at::Tensor& x, const Projection& p) {
  return p.bias.defined() ? at::linear(x, p.weight, p.bias) : at::linear(x, p.weight);
}

#ifdef DUO_WITH_CUDA
std::vector<int64_t> out_shape(const at::Tensor& x, int64_t n) {
  auto shape = x.sizes().vec();
  shape.back() = n;
  return shape;
}

// One launch of the products of x and ps (with norm: of x normalised), their outputs; with a
// norm and its residual, h_out receives x + residual.
std::vector<at::Tensor> launch(const at::Tensor& x, const std::vector<Projection>& ps, bool swiglu,
                               const InputNorm* norm = nullptr, const at::Tensor& h_out = {},
                               const OutputRope* rope = nullptr) {
  const c10::cuda::CUDAGuard guard(x.device());
  cuda::MatvecParams p{};
  p.dtype = to_dtype(x.scalar_type());
  p.K = x.size(-1);
  p.x = x.data_ptr();
  p.num = static_cast<int>(ps.size());
  p.swiglu = swiglu;
  p.min_blocks = 4 * static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  if (norm) {
    p.norm_weight = norm->weight.data_ptr();
    p.residual = norm->residual.defined() ? norm->residual.data_ptr() : nullptr;
    p.h_out = h_out.defined() ? h_out.data_ptr() : nullptr;
    p.eps = static_cast<float>(norm->eps);
  }
  if (rope) {
    p.rope_outputs = 2;
    p.head_dim = static_cast<int>(rope->head_dim);
    p.rope_cos = rope->cos.data_ptr();
    p.rope_sin = rope->sin.data_ptr();
  }
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < ps.size(); ++i) {
    p.w[i] = ps[i].weight.data_ptr();
    p.bias[i] = ps[i].bias.defined() ? ps[i].bias.data_ptr() : nullptr;
    p.n[i] = ps[i].weight.size(0);
    if (!swiglu || i == 0) {
      out.push_back(at::empty(out_shape(x, p.n[i]), x.options()));
      p.out[i] = out.back().data_ptr();
    }
  }
  C10_CUDA_CHECK(cuda::launch_matvec(p, at::cuda::getCurrentCUDAStream()));
  return out;
}

// Whether the norm can be fused into the launch for x: its weight and residual laid out like x
// (the kernel reads them in the same 16-byte pieces), and the normalised row small enough for
// shared memory.
bool norm_fusable(const at::Tensor& x, const InputNorm& n) {
  auto like_x = [&](const at::Tensor& t) {
    return t.scalar_type() == x.scalar_type() && t.device() == x.device() && t.is_contiguous() &&
           t.numel() == x.size(-1) && reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
  };
  return like_x(n.weight) && (!n.residual.defined() || (n.residual.sizes() == x.sizes() && like_x(n.residual))) &&
         cuda::matvec_norm_fits(to_dtype(x.scalar_type()), x.size(-1));
}

// Whether the kernel's epilogue can rotate the first two outputs: whole heads, every output of
// even size (two rows per warp), cos and sin of the head_dim, laid out as x.
bool rope_fusable(const at::Tensor& x, const std::vector<Projection>& ps, const OutputRope& r) {
  if (ps.size() < 2 || r.head_dim < 2 || r.head_dim % 2 != 0) return false;
  for (size_t i = 0; i < ps.size(); ++i)
    if (ps[i].weight.size(0) % 2 != 0 || (i < 2 && ps[i].weight.size(0) % r.head_dim != 0)) return false;
  for (const at::Tensor* t : {&r.cos, &r.sin})
    if (t->scalar_type() != x.scalar_type() || t->device() != x.device() || !t->is_contiguous() ||
        t->numel() != r.head_dim)
      return false;
  return true;
}

NormedProjections fused(const at::Tensor& x, const InputNorm& norm, const std::vector<Projection>& ps,
                        bool swiglu, const OutputRope* rope = nullptr) {
  NormedProjections r;
  r.h = norm.residual.defined() ? at::empty_like(x) : x;
  r.out = launch(x, ps, swiglu, &norm, norm.residual.defined() ? r.h : at::Tensor(), rope);
  return r;
}
#endif

}  // namespace

bool matvec_supported(const at::Tensor& x, const std::vector<Projection>& ps) {
#ifdef DUO_WITH_CUDA
  const auto t = x.scalar_type();
  if (!x.is_cuda() || !(t == at::kFloat || t == at::kHalf || t == at::kBFloat16) || !x.is_contiguous() ||
      x.dim() < 1 || x.numel() != x.size(-1) || ps.empty() || ps.size() > 3)
    return false;
  const int64_t K = x.size(-1), vec = 16 / static_cast<int64_t>(x.element_size());
  if (K % vec != 0 || reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0) return false;
  for (const Projection& p : ps) {
    const at::Tensor& w = p.weight;
    if (w.scalar_type() != t || !w.is_cuda() || w.dim() != 2 || w.size(1) != K || !w.is_contiguous() ||
        reinterpret_cast<uintptr_t>(w.data_ptr()) % 16 != 0 || w.device() != x.device())
      return false;
    if (p.bias.defined() && (p.bias.scalar_type() != t || !p.bias.is_contiguous() || p.bias.numel() != w.size(0) ||
                             p.bias.device() != x.device()))
      return false;
  }
  return true;
#else
  (void)x, (void)ps;
  return false;
#endif
}

std::vector<at::Tensor> matvec(const at::Tensor& x, const std::vector<Projection>& ps) {
  if (ps.empty() || ps.size() > 3) throw std::invalid_argument("matvec: one to three projections");
#ifdef DUO_WITH_CUDA
  if (matvec_supported(x, ps)) return launch(x, ps, /*swiglu=*/false);
#endif
  std::vector<at::Tensor> out;
  for (const Projection& p : ps) out.push_back(linear(x, p));
  return out;
}

at::Tensor matvec_swiglu(const at::Tensor& x, const Projection& gate, const Projection& up) {
  if (gate.weight.sizes() != up.weight.sizes())
    throw std::invalid_argument("matvec_swiglu: gate and up weights differ in shape");
#ifdef DUO_WITH_CUDA
  if (matvec_supported(x, {gate, up})) return launch(x, {gate, up}, /*swiglu=*/true)[0];
#endif
  return silu_mul_reference(linear(x, gate), linear(x, up));
}

NormedProjections norm_matvec(const at::Tensor& x, const InputNorm& norm, const std::vector<Projection>& ps,
                              const OutputRope* rope) {
  if (rope && ps.size() < 2) throw std::invalid_argument("norm_matvec: RoPE needs the query and key projections");
#ifdef DUO_WITH_CUDA
  if (matvec_supported(x, ps) && norm_fusable(x, norm) && (!rope || rope_fusable(x, ps, *rope)))
    return fused(x, norm, ps, /*swiglu=*/false, rope);
#endif
  AddRmsNorm n = add_rms_norm(x, norm.residual, norm.weight, norm.eps);
  NormedProjections r{n.h, matvec(n.y, ps)};
  if (rope) {  // rope_qk takes [B, 1, H, D] and gives [B, H, 1, D]: the same order for one token
    const int64_t D = rope->head_dim;
    at::Tensor& q = r.out[0];
    at::Tensor& k = r.out[1];
    auto [qr, kr] = rope_qk(q.reshape({-1, 1, q.size(-1) / D, D}), k.reshape({-1, 1, k.size(-1) / D, D}),
                            rope->cos, rope->sin);
    q = qr.reshape(q.sizes());
    k = kr.reshape(k.sizes());
  }
  return r;
}

NormedProjections norm_matvec_swiglu(const at::Tensor& x, const InputNorm& norm, const Projection& gate,
                                     const Projection& up) {
#ifdef DUO_WITH_CUDA
  if (gate.weight.sizes() == up.weight.sizes() && matvec_supported(x, {gate, up}) && norm_fusable(x, norm))
    return fused(x, norm, {gate, up}, /*swiglu=*/true);
#endif
  AddRmsNorm n = add_rms_norm(x, norm.residual, norm.weight, norm.eps);
  return {n.h, {matvec_swiglu(n.y, gate, up)}};
}

}  // namespace duo::kernels
