// kernels/causal_attention.h: cuDNN's attention with its log-sum-exp, and its backward, against
// SDPA with autograd in float32 (on a GPU).
// kernels/streaming_attention.h: the flash decomposition (sliding-window part + sink parts,
// merged by log-sum-exp; backward with the merged statistics) against the dense-mask reference.
// On the CPU the decomposition runs its parts in plain ATen ops (float64), so its plan, merge
// and backward are checked to rounding; with a CUDA device, libtorch's flash kernel runs the
// parts (bf16) and is held to the reference in float32.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include <array>
#include <string>
#include <vector>

#include "kernels/causal_attention.h"
#include "kernels/streaming_attention.h"

namespace duo::kernels {
namespace {

struct Case {
  int64_t T, hq, hkv, D;
  StreamingWindow w;
};

std::string describe(const Case& c) {
  return "T=" + std::to_string(c.T) + " Hq=" + std::to_string(c.hq) + " Hkv=" + std::to_string(c.hkv) +
         " sink=" + std::to_string(c.w.sink) + " recent=" + std::to_string(c.w.recent) +
         (c.w.granularity == StreamingGranularity::block ? " block=" + std::to_string(c.w.block_size) : " token");
}

StreamingWindow token(int64_t sink, int64_t recent) { return {sink, recent, StreamingGranularity::token, 128}; }
StreamingWindow block(int64_t sink, int64_t recent, int64_t bs) { return {sink, recent, StreamingGranularity::block, bs}; }

struct Grads {
  at::Tensor out, dq, dk, dv;
};

// out and the gradients of sum(out · g) for a fixed random g.
template <class F>
Grads run(F attention, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& g) {
  auto q1 = q.detach().requires_grad_(true), k1 = k.detach().requires_grad_(true), v1 = v.detach().requires_grad_(true);
  at::Tensor out = attention(q1, k1, v1);
  (out * g).sum().backward();
  return {out.detach(), q1.grad(), k1.grad(), v1.grad()};
}

double max_err(const at::Tensor& a, const at::Tensor& b) { return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>(); }

// Cases around every boundary of the plan: contexts shorter than the window, inside the sink's
// triangle, longer than both; no sink; GQA; blocks with the context not a whole number of them.
std::vector<Case> cases() {
  return {
      {10, 2, 2, 8, token(3, 4)},   {6, 2, 1, 8, token(3, 8)},     {9, 4, 2, 8, token(3, 4)},
      {40, 4, 1, 16, token(0, 5)},  {40, 4, 2, 16, token(7, 5)},   {33, 2, 2, 8, token(1, 1)},
      {40, 4, 2, 8, block(4, 8, 4)}, {37, 4, 2, 8, block(8, 12, 4)}, {30, 2, 1, 8, block(0, 4, 4)},
      {50, 2, 2, 8, block(12, 4, 4)}, {3, 2, 2, 8, block(4, 8, 4)},
  };
}

TEST(StreamingAttentionSplit, MatchesTheDenseMaskOnTheCpu) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    at::manual_seed(c.T * 131 + c.w.sink);
    auto q = at::randn({2, c.hq, c.T, c.D}, f64), k = at::randn({2, c.hkv, c.T, c.D}, f64);
    auto v = at::randn({2, c.hkv, c.T, c.D}, f64), g = at::randn({2, c.hq, c.T, c.D}, f64);
    auto ref = run([&](auto& a, auto& b, auto& d) { return streaming_attention_reference(a, b, d, c.w); }, q, k, v, g);
    auto split = run([&](auto& a, auto& b, auto& d) { return streaming_attention_split(a, b, d, c.w); }, q, k, v, g);
    EXPECT_LT(max_err(split.out, ref.out), 1e-12);
    EXPECT_LT(max_err(split.dq, ref.dq), 1e-11);
    EXPECT_LT(max_err(split.dk, ref.dk), 1e-11);
    EXPECT_LT(max_err(split.dv, ref.dv), 1e-11);
  }
}

TEST(StreamingAttentionSplit, RefusesAWindowThatLeavesAQueryNoKey) {
  auto q = at::randn({1, 2, 8, 8}, at::kDouble);
  EXPECT_THROW(streaming_attention_split(q, q, q, token(4, 0)), std::invalid_argument);
  EXPECT_THROW(streaming_attention_split(q, q, q, block(4, 2, 4)), std::invalid_argument);
}

TEST(StreamingAttention, FallsBackToTheReferenceOnTheCpu) {
  auto q = at::randn({1, 2, 12, 8}, at::kFloat);
  EXPECT_FALSE(streaming_attention_supported(q, token(2, 4)));
  EXPECT_TRUE(at::equal(streaming_attention(q, q, q, token(2, 4)), streaming_attention_reference(q, q, q, token(2, 4))));
}

// The flash path in bf16 against the reference in float32, for the training shapes' head sizes.
TEST(StreamingAttention, FlashMatchesTheReferenceOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const std::vector<Case> gpu_cases = {
      {1000, 8, 2, 128, token(16, 64)}, {3000, 8, 2, 64, token(128, 256)},  {200, 4, 4, 128, token(128, 256)},
      {1000, 8, 2, 128, block(64, 128, 64)}, {3001, 8, 2, 64, block(128, 256, 128)}, {700, 8, 1, 128, block(256, 128, 128)},
  };
  for (const Case& c : gpu_cases) {
    SCOPED_TRACE(describe(c));
    at::manual_seed(c.T);
    auto q = at::randn({1, c.hq, c.T, c.D}, bf16), k = at::randn({1, c.hkv, c.T, c.D}, bf16);
    auto v = at::randn({1, c.hkv, c.T, c.D}, bf16), g = at::randn({1, c.hq, c.T, c.D}, bf16);
    ASSERT_TRUE(streaming_attention_supported(q, c.w));
    auto ref = run([&](auto& a, auto& b, auto& d) { return streaming_attention_reference(a, b, d, c.w); }, q.to(at::kFloat),
                   k.to(at::kFloat), v.to(at::kFloat), g.to(at::kFloat));
    auto flash = run([&](auto& a, auto& b, auto& d) { return streaming_attention(a, b, d, c.w); }, q, k, v, g);
    // bf16 inputs, float32 accumulation in both: errors of a few bf16 ulps of values of order 1.
    auto rel = [](const at::Tensor& a, const at::Tensor& b) {
      return ((a.to(at::kFloat) - b).norm() / b.norm()).item<double>();
    };
    EXPECT_LT(max_err(flash.out, ref.out), 3e-2);
    EXPECT_LT(rel(flash.out, ref.out), 1e-2);
    EXPECT_LT(rel(flash.dq, ref.dq), 2e-2);
    EXPECT_LT(rel(flash.dk, ref.dk), 2e-2);
    EXPECT_LT(rel(flash.dv, ref.dv), 2e-2);
  }
}

TEST(CausalAttention, RunsOnCudaHalfTypesOnly) {
  EXPECT_FALSE(causal_attention_supported(at::zeros({1, 2, 4, 8}, at::kBFloat16)));
  EXPECT_THROW(causal_attention_forward(at::zeros({1, 2, 4, 8}), at::zeros({1, 2, 4, 8}), at::zeros({1, 2, 4, 8})),
               std::invalid_argument);
}

// The forward result computed once and the backward taking it, as gate training uses them,
// against SDPA differentiated by autograd in float32.
TEST(CausalAttention, CudnnMatchesSdpaOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  for (auto [T, hq, hkv, D] : std::vector<std::array<int64_t, 4>>{{1000, 8, 2, 128}, {2048, 4, 4, 64}, {333, 8, 1, 128}}) {
    SCOPED_TRACE("T=" + std::to_string(T) + " Hq=" + std::to_string(hq) + " Hkv=" + std::to_string(hkv));
    at::manual_seed(T);
    auto q = at::randn({1, hq, T, D}, bf16), k = at::randn({1, hkv, T, D}, bf16), v = at::randn({1, hkv, T, D}, bf16);
    auto g = at::randn({1, hq, T, D}, bf16);
    auto ref = run([&](auto& a, auto& b, auto& d) {
      return at::scaled_dot_product_attention(a, b, d, {}, 0.0, true, {}, /*enable_gqa=*/hq != hkv);
    }, q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), g.to(at::kFloat));
    const CausalAttentionResult f = causal_attention_forward(q, k, v);
    auto [dq, dk, dv] = causal_attention_backward(g, q, k, v, f);
    auto rel = [](const at::Tensor& a, const at::Tensor& b) { return ((a.to(at::kFloat) - b).norm() / b.norm()).item<double>(); };
    EXPECT_LT(rel(f.out, ref.out), 1e-2);
    EXPECT_LT(rel(dq, ref.dq), 2e-2);
    EXPECT_LT(rel(dk, ref.dk), 2e-2);
    EXPECT_LT(rel(dv, ref.dv), 2e-2);
  }
}

}  // namespace
}  // namespace duo::kernels
