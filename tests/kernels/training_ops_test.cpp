// kernels/training_ops.h: each reference against autograd through the eager formula (float64, on
// the CPU), and with a CUDA device each kernel against its reference, on the strided layouts
// gate training hands them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include "kernels/training_ops.h"

namespace duo::kernels {
namespace {

const auto f64 = at::TensorOptions().dtype(at::kDouble);

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor w = want.to(at::kDouble);
  return ((got.to(at::kDouble) - w).norm() / w.norm()).item<double>();
}

// [B, H, T, D] views of [B, T, H, D] memory: how attention outputs and their gradients come.
at::Tensor bthd(int64_t B, int64_t H, int64_t T, int64_t D, const at::TensorOptions& o) {
  return at::randn({B, T, H, D}, o).transpose(1, 2);
}

TEST(RmsNormBackward, ReferenceIsTheGradientOfRmsNorm) {
  at::manual_seed(1);
  const at::Tensor x0 = at::randn({3, 5, 64}, f64) * 2, w = 1 + 0.1 * at::randn({64}, f64), dy = at::randn({3, 5, 64}, f64);
  at::Tensor x = x0.clone().requires_grad_(true);
  (w * x * at::rsqrt(x.pow(2).mean(-1, true) + 1e-5) * dy).sum().backward();
  EXPECT_LT(rel_err(rms_norm_backward_reference(dy, x0, w, 1e-5), x.grad()), 1e-12);
}

TEST(SiluMulBackward, ReferenceIsTheGradientOfSwiglu) {
  at::manual_seed(2);
  const at::Tensor g0 = at::randn({4, 96}, f64) * 3, u0 = at::randn({4, 96}, f64), dy = at::randn({4, 96}, f64);
  at::Tensor g = g0.clone().requires_grad_(true), u = u0.clone().requires_grad_(true);
  (at::silu(g) * u * dy).sum().backward();
  auto [dg, du] = silu_mul_backward_reference(dy, g0, u0);
  EXPECT_LT(rel_err(dg, g.grad()), 1e-12);
  EXPECT_LT(rel_err(du, u.grad()), 1e-12);
}

TEST(GateMix, ReferenceAndItsBackwardAreTheMixAndItsGradient) {
  at::manual_seed(3);
  const at::Tensor f0 = bthd(2, 4, 7, 16, f64), s0 = bthd(2, 4, 7, 16, f64), g = bthd(2, 4, 7, 16, f64);
  const at::Tensor a0 = at::rand({4}, f64);
  at::Tensor f = f0.clone().requires_grad_(true), s = s0.clone().requires_grad_(true), a = a0.clone().requires_grad_(true);
  const at::Tensor av = a.view({1, 4, 1, 1});
  const at::Tensor want = av * f + (1 - av) * s;
  (want * g).sum().backward();
  const at::Tensor out = gate_mix_reference(f0, s0, a0);
  EXPECT_LT(rel_err(out, want.detach()), 1e-14);
  EXPECT_EQ(out.transpose(1, 2).is_contiguous(), true);  // [B, T, H, D] in memory
  GateMixGrads got = gate_mix_backward_reference(g, f0, s0, a0);
  EXPECT_LT(rel_err(got.d_full, f.grad()), 1e-14);
  EXPECT_LT(rel_err(got.d_streaming, s.grad()), 1e-14);
  EXPECT_LT(rel_err(got.d_alpha, a.grad()), 1e-12);
}

// Attention over keys A ∪ B from attention over A and over B: merging by log-sum-exp is exact.
TEST(LseMerge, ReferenceMergesTwoDisjointKeySetsIntoOneSoftmax) {
  at::manual_seed(4);
  const int64_t N = 6, H = 3, D = 8, ka = 5, kb = 4;
  const at::Tensor q = at::randn({H, N, D}, f64), k = at::randn({H, ka + kb, D}, f64), v = at::randn({H, ka + kb, D}, f64);
  auto attend = [&](int64_t k0, int64_t n) {
    const at::Tensor s = at::matmul(q, k.narrow(1, k0, n).transpose(1, 2));  // [H, N, n]
    return std::make_pair(at::matmul(at::softmax(s, -1), v.narrow(1, k0, n)).transpose(0, 1).contiguous(),
                          at::logsumexp(s, -1));  // [N, H, D], [H, N]
  };
  auto [oa, la] = attend(0, ka);
  auto [ob, lb] = attend(ka, kb);
  auto [want, lw] = attend(0, ka + kb);
  lse_merge_reference_(oa, la, ob, lb);
  EXPECT_LT(rel_err(oa, want), 1e-14);
  EXPECT_LT(rel_err(at::logaddexp(la, lb), lw), 1e-14);
}

class TrainingOpsCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  }
  const at::TensorOptions bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
};

TEST_F(TrainingOpsCuda, RmsNormBackwardMatchesTheReference) {
  at::manual_seed(5);
  for (auto opts : {bf16, f32}) {
    const at::Tensor x = at::randn({2, 300, 4096}, opts) * 3, w = 1 + 0.1 * at::randn({4096}, opts);
    const at::Tensor dy = at::randn({2, 300, 4096}, opts);
    // Both round the same float32 value once; the sums' order differs: about one ulp.
    EXPECT_LT(rel_err(rms_norm_backward(dy, x, w, 1e-5), rms_norm_backward_reference(dy, x, w, 1e-5)),
              opts.dtype() == at::kFloat ? 1e-5 : 1e-2);
  }
}

TEST_F(TrainingOpsCuda, SiluMulBackwardMatchesTheReference) {
  at::manual_seed(6);
  for (auto opts : {bf16, f32}) {
    const at::Tensor g = at::randn({3, 1000, 1408}, opts) * 3, u = at::randn({3, 1000, 1408}, opts);
    const at::Tensor dy = at::randn({3, 1000, 1408}, opts);
    auto [dg, du] = silu_mul_backward(dy, g, u);
    auto [rg, ru] = silu_mul_backward_reference(dy, g, u);
    const double tol = opts.dtype() == at::kFloat ? 1e-5 : 1e-2;
    EXPECT_LT(rel_err(dg, rg), tol);
    EXPECT_LT(rel_err(du, ru), tol);
  }
}

TEST_F(TrainingOpsCuda, GateMixAndItsBackwardMatchTheReferenceAndAreDeterministic) {
  at::manual_seed(7);
  for (auto opts : {bf16, f32}) {
    const int64_t B = 2, H = 32, T = 1500, D = 128;
    // full in [B, T, H, D] memory, streaming and the gradient in [B, H, T, D]: both layouts.
    const at::Tensor f = bthd(B, H, T, D, opts), s = at::randn({B, H, T, D}, opts), g = bthd(B, H, T, D, opts);
    const at::Tensor a = at::rand({H}, f32);
    const double tol = opts.dtype() == at::kFloat ? 1e-6 : 1e-2;
    const at::Tensor out = gate_mix(f, s, a);
    EXPECT_TRUE(out.transpose(1, 2).is_contiguous());
    EXPECT_LT(rel_err(out, gate_mix_reference(f, s, a)), tol);
    GateMixGrads got = gate_mix_backward(g, f, s, a), want = gate_mix_backward_reference(g, f, s, a);
    EXPECT_LT(rel_err(got.d_full, want.d_full), tol);
    EXPECT_LT(rel_err(got.d_streaming, want.d_streaming), tol);
    EXPECT_LT(rel_err(got.d_alpha, want.d_alpha), 1e-5);  // both sum in float32
    EXPECT_TRUE(gate_mix_backward(g, f, s, a).d_alpha.equal(got.d_alpha));  // a fixed order of summation
  }
}

TEST_F(TrainingOpsCuda, LseMergeMatchesTheReferenceIntoFloatAndIntoItsOwnType) {
  at::manual_seed(8);
  const int64_t T = 900, H = 8, D = 128, r0 = 100, n = 700;
  const at::Tensor o = at::randn({n, H, D}, bf16), l = at::randn({1, H, n}, f32)[0] * 3;
  const at::Tensor lse = (at::randn({H, T}, f32) * 3).narrow(1, r0, n);  // rows of a longer statistic
  for (auto out_opts : {bf16, f32}) {
    const at::Tensor base = at::randn({T, H, D}, out_opts);
    at::Tensor got = base.clone(), want = base.clone();
    lse_merge_(got.narrow(0, r0, n), lse, o, l);
    lse_merge_reference_(want.narrow(0, r0, n), lse, o, l);
    EXPECT_LT(rel_err(got, want), out_opts.dtype() == at::kFloat ? 1e-6 : 1e-2);
    EXPECT_TRUE(got.narrow(0, 0, r0).equal(base.narrow(0, 0, r0)));  // rows outside untouched
  }
}

}  // namespace
}  // namespace duo::kernels
