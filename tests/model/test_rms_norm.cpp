// model/rms_norm.h on a GPU: the fused forward (one kernel) against the eager ops, and its
// backward against autograd through the eager ops in float32. On the CPU rms_norm is the eager
// ops themselves (the parity tests hold them to transformers); without a GPU these are skipped.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include "model/rms_norm.h"

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

}  // namespace
}  // namespace duo
