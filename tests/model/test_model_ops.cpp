// model/rms_norm.h and model/rope.h on a GPU: the fused forward (one kernel) against the eager
// ops, and its backward against autograd through the eager ops in float32. On the CPU rms_norm is the eager
// ops themselves (the parity tests hold them to transformers); without a GPU these are skipped.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include "model/rms_norm.h"
#include "model/rope.h"

namespace duo {
namespace {

at::Tensor eager(const at::Tensor& x, const at::Tensor& w, double eps) {
  at::Tensor xf = x.to(at::kFloat);
  return w * (xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(x.scalar_type());
}

TEST(RmsNorm, FusedNodeMatchesTheEagerOpsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  at::manual_seed(3);
  const at::Tensor x0 = at::randn({2, 300, 1024}, bf16) * 3, w0 = 1 + 0.1 * at::randn({1024}, bf16);
  const at::Tensor dy = at::randn({2, 300, 1024}, bf16);

  at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  at::Tensor y = rms_norm(x, w, 1e-5);
  (y * dy).sum().backward();
  // The same roundings; the statistics may sum in another order: one bf16 ulp at most.
  const at::Tensor want = eager(x0, w0, 1e-5);
  EXPECT_LE((y.detach().to(at::kFloat) - want.to(at::kFloat)).abs().max().item<double>(),
            want.to(at::kFloat).abs().max().item<double>() * 1e-2);

  at::Tensor xr = x0.to(at::kFloat).requires_grad_(true), wr = w0.to(at::kFloat).requires_grad_(true);
  (eager(xr, wr, 1e-5) * dy.to(at::kFloat)).sum().backward();
  auto rel = [](const at::Tensor& a, const at::Tensor& b) { return ((a.to(at::kFloat) - b).norm() / b.norm()).item<double>(); };
  EXPECT_LT(rel(x.grad(), xr.grad()), 1e-2);
  EXPECT_LT(rel(w.grad(), wr.grad()), 1e-2);
}

// RoPE's node: the kernel forward equals the eager ops; its backward (the rotation with sin
// negated) equals autograd through them.
TEST(Rope, FusedNodeMatchesTheEagerOpsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ModelConfig cfg;
  cfg.head_dim = 128;
  cfg.rope_theta = 500000;
  const at::Tensor inv_freq = rope_inv_freq(cfg, at::kCUDA);
  at::manual_seed(4);
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
  const at::Tensor x0 = at::randn({1, 700, 8, 128}, f32.dtype(at::kBFloat16)).transpose(1, 2);
  const at::Tensor dy = at::randn({1, 8, 700, 128}, f32);
  const RopeCosSin cs = rope_cos_sin(inv_freq, 0, 700, at::kBFloat16);
  at::Tensor x = x0.detach().requires_grad_(true);
  at::Tensor y = rope_apply(x, cs);
  (y.to(at::kFloat) * dy).sum().backward();
  const at::Tensor half = x0.narrow(-1, 64, 64);
  const at::Tensor want = x0 * cs.cos + at::cat({-half, x0.narrow(-1, 0, 64)}, -1) * cs.sin;
  EXPECT_TRUE(y.detach().equal(want));

  const RopeCosSin cs32 = rope_cos_sin(inv_freq, 0, 700, at::kFloat);
  at::Tensor xr = x0.to(at::kFloat).requires_grad_(true);
  (rope_apply(xr, cs32) * dy).sum().backward();  // float32: the eager ops under autograd
  EXPECT_LT(((x.grad().to(at::kFloat) - xr.grad()).norm() / xr.grad().norm()).item<double>(), 1e-2);
}

}  // namespace
}  // namespace duo
