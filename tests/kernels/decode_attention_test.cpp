// kernels/: the ATen references against independent computations (SDPA, the model's own
// RMSNorm and RoPE), on the CPU; and, where a CUDA device exists, the CUDA kernels against the
// references (in float64 on the CPU) on fresh random inputs, including a CUDA graph replayed at
// lengths other than the captured one. Without a GPU the CUDA tests are skipped.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "kernels/decode_attention.h"
#include "kernels/decode_ops.h"
#include "kernels/matvec.h"
#include "model/model_config.h"
#include "model/rms_norm.h"
#include "model/rope.h"

namespace duo::kernels {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.to(at::kCPU, at::kDouble), w = want.to(at::kCPU, at::kDouble);
  return (g - w).norm().item<double>() / w.norm().item<double>();
}

at::Tensor len_tensor(int64_t n, at::Device d = at::kCPU) {
  return at::full({1}, n, at::TensorOptions().dtype(at::kLong).device(d));
}

// SDPA over the first `len` cached keys (plus an optional extra key), every query head.
at::Tensor sdpa_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t len,
                       const at::Tensor& k_new = {}, const at::Tensor& v_new = {}) {
  auto keys = k.narrow(2, 0, len), values = v.narrow(2, 0, len);
  if (k_new.defined()) {
    keys = at::cat({keys, k_new.unsqueeze(2)}, 2);
    values = at::cat({values, v_new.unsqueeze(2)}, 2);
  }
  return at::scaled_dot_product_attention(q.unsqueeze(2), keys, values, {}, 0.0, false, {}, /*enable_gqa=*/true)
      .squeeze(2);
}

TEST(DecodeAttentionReference, MatchesSdpaWithGqaAndAnExtraKey) {
  torch::NoGradGuard no_grad;
  at::manual_seed(1);
  const int64_t B = 2, Hq = 8, Hkv = 2, D = 16, cap = 40;
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  auto q = at::randn({B, Hq, D}, f64), k = at::randn({B, Hkv, cap, D}, f64), v = at::randn({B, Hkv, cap, D}, f64);
  for (int64_t len : {int64_t{1}, int64_t{29}, cap}) {
    auto out = at::full({B, Hq, D}, kNaN, f64);
    decode_attention_reference(out, q, k, v, len_tensor(len));
    EXPECT_LT(rel_err(out, sdpa_decode(q, k, v, len)), 1e-12) << "length " << len;
  }
  // The extra key attended after the cache; and a [B, H, 1, D] layout.
  auto kn = at::randn({B, Hkv, D}, f64), vn = at::randn({B, Hkv, D}, f64);
  auto out = at::full({B, Hq, 1, D}, kNaN, f64);
  DecodeAttentionOptions opt;
  opt.k_new = kn.unsqueeze(2);
  opt.v_new = vn;
  decode_attention_reference(out, q.unsqueeze(2), k, v, len_tensor(17), opt);
  EXPECT_LT(rel_err(out.squeeze(2), sdpa_decode(q, k, v, 17, kn, vn)), 1e-12);
  // Only the extra key: its value comes out unchanged.
  out.fill_(kNaN);
  decode_attention_reference(out, q.unsqueeze(2), k, v, len_tensor(0), opt);
  EXPECT_LT(rel_err(out.squeeze(2), vn.repeat_interleave(Hq / Hkv, 1)), 1e-12);
}

TEST(DecodeAttentionReference, KvHeadMapWritesOnlyTheServedQueryHeads) {
  torch::NoGradGuard no_grad;
  at::manual_seed(2);
  const int64_t B = 1, Hq = 6, Hkv = 3, group = 2, D = 8, cap = 12;
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  auto q = at::randn({B, Hq, D}, f64);
  auto full_k = at::randn({B, Hkv, cap, D}, f64), full_v = at::randn({B, Hkv, cap, D}, f64);
  // A cache holding KV heads 2 and 0 (in that order) serves query heads 4, 5, 0, 1.
  auto heads = at::tensor(std::vector<int64_t>{2, 0}, at::kLong);
  auto k = full_k.index_select(1, heads).contiguous(), v = full_v.index_select(1, heads).contiguous();
  auto out = at::full({B, Hq, D}, kNaN, f64);
  DecodeAttentionOptions opt;
  opt.kv_heads = heads;
  opt.group = group;
  decode_attention_reference(out, q, k, v, len_tensor(9), opt);
  auto want = sdpa_decode(q, full_k, full_v, 9);
  for (int64_t h : {0, 1, 4, 5}) EXPECT_LT(rel_err(out.select(1, h), want.select(1, h)), 1e-12) << h;
  for (int64_t h : {2, 3}) EXPECT_TRUE(out.select(1, h).isnan().all().item<bool>()) << h;
}

TEST(DecodeAttentionReference, RejectsInconsistentShapes) {
  auto q = at::randn({1, 4, 8}), k = at::randn({1, 2, 5, 8}), out = at::empty({1, 4, 8});
  EXPECT_THROW(decode_attention_reference(out, q, k, at::randn({1, 2, 6, 8}), len_tensor(3)), std::invalid_argument);
  EXPECT_THROW(decode_attention_reference(out, q, k, k, at::full({1}, 3, at::kInt)), std::invalid_argument);
  DecodeAttentionOptions opt;
  opt.kv_heads = at::tensor(std::vector<int64_t>{1, 0}, at::kLong);  // no group given
  EXPECT_THROW(decode_attention_reference(out, q, k, k, len_tensor(3), opt), std::invalid_argument);
  EXPECT_THROW(decode_attention(out, at::randn({1, 3, 8}), k, k, len_tensor(3)), std::invalid_argument);
}

TEST(CacheAppendReference, WritesTheMappedHeadsAtTheSlot) {
  torch::NoGradGuard no_grad;
  auto kc = at::zeros({2, 2, 5, 4}), vc = at::zeros({2, 2, 5, 4});
  auto k = at::randn({2, 3, 1, 4}), v = at::randn({2, 3, 4});
  cache_append_reference(kc, vc, k, v, len_tensor(3), at::tensor(std::vector<int64_t>{2, 0}, at::kLong));
  EXPECT_TRUE(kc.select(2, 3).select(1, 0).equal(k.select(2, 0).select(1, 2)));
  EXPECT_TRUE(kc.select(2, 3).select(1, 1).equal(k.select(2, 0).select(1, 0)));
  EXPECT_TRUE(vc.select(2, 3).select(1, 0).equal(v.select(1, 2)));
  EXPECT_EQ(kc.narrow(2, 0, 3).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(kc.narrow(2, 4, 1).abs().sum().item<double>(), 0.0);
}

TEST(DecodeOpsReference, EqualTheModelsOwnOps) {
  torch::NoGradGuard no_grad;
  at::manual_seed(3);
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    auto x = at::randn({2, 1, 24}).to(dtype), r = at::randn({2, 1, 24}).to(dtype);
    auto w = (at::rand({24}) + 0.5).to(dtype);
    auto n = add_rms_norm_reference(x, r, w, 1e-5);
    EXPECT_TRUE(n.h.equal(x + r));
    EXPECT_TRUE(n.y.equal(rms_norm(x + r, w, 1e-5)));
    EXPECT_TRUE(add_rms_norm_reference(x, {}, w, 1e-5).y.equal(rms_norm(x, w, 1e-5)));

    ModelConfig cfg;
    cfg.head_dim = 16;
    cfg.rope_theta = 10000;
    auto cs = rope_cos_sin(rope_inv_freq(cfg, at::kCPU), 37, 1, dtype);
    auto q = at::randn({2, 1, 4, 16}).to(dtype), k = at::randn({2, 1, 2, 16}).to(dtype);
    auto [qr, kr] = rope_qk_reference(q, k, cs.cos, cs.sin);
    EXPECT_TRUE(qr.equal(rope_apply(q.transpose(1, 2), cs)));
    EXPECT_TRUE(kr.equal(rope_apply(k.transpose(1, 2), cs)));

    auto g = at::randn({3, 40}).to(dtype), u = at::randn({3, 40}).to(dtype);
    EXPECT_TRUE(silu_mul_reference(g, u).equal(at::silu(g) * u));
  }
}

TEST(RopeCosSinAt, EqualsTheHostPositionVersion) {
  ModelConfig cfg;
  cfg.head_dim = 32;
  cfg.rope_theta = 500000;
  auto inv = rope_inv_freq(cfg, at::kCPU);
  auto a = rope_cos_sin(inv, 123456, 1, at::kBFloat16);
  auto b = rope_cos_sin_at(inv, len_tensor(123456), at::kBFloat16);
  EXPECT_TRUE(a.cos.equal(b.cos));
  EXPECT_TRUE(a.sin.equal(b.sin));
}

TEST(MatvecReference, IsLinear) {
  torch::NoGradGuard no_grad;
  auto x = at::randn({1, 1, 16}), w1 = at::randn({5, 16}), w2 = at::randn({3, 16}), b2 = at::randn({3});
  auto out = matvec(x, {{w1, {}}, {w2, b2}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].equal(at::linear(x, w1)));
  EXPECT_TRUE(out[1].equal(at::linear(x, w2, b2)));
  EXPECT_TRUE(matvec_swiglu(x, {w1, {}}, {w1 * 2, {}}).equal(at::silu(at::linear(x, w1)) * at::linear(x, w1 * 2)));
  EXPECT_FALSE(matvec_supported(x, {{w1, {}}}));  // the CPU: at::linear
}

TEST(DecodeAttentionReference, TwoCachesEqualTwoCalls) {
  torch::NoGradGuard no_grad;
  at::manual_seed(8);
  const int64_t B = 1, Hq = 6, group = 2, D = 8;
  auto q = at::randn({B, Hq, 1, D});
  DecodeCache a, b;
  a.k_cache = at::randn({B, 2, 20, D}), a.v_cache = at::randn({B, 2, 20, D}), a.length = len_tensor(13);
  a.kv_heads = at::tensor(std::vector<int64_t>{0, 2}, at::kLong);
  b.k_cache = at::randn({B, 1, 6, D}), b.v_cache = at::randn({B, 1, 6, D}), b.length = len_tensor(6);
  b.kv_heads = at::tensor(std::vector<int64_t>{1}, at::kLong);
  b.k_new = a.k_new = at::randn({B, 3, 1, D});
  b.v_new = a.v_new = at::randn({B, 3, 1, D});
  auto got = at::full({B, Hq, 1, D}, kNaN), want = at::full({B, Hq, 1, D}, kNaN);
  decode_attention(got, q, {a, b}, group);
  for (const DecodeCache* c : {&a, &b}) {
    DecodeAttentionOptions opt;
    opt.kv_heads = c->kv_heads;
    opt.group = group;
    opt.k_new = c->k_new;
    opt.v_new = c->v_new;
    decode_attention_reference(want, q, c->k_cache, c->v_cache, c->length, opt);
  }
  EXPECT_FALSE(want.isnan().any().item<bool>());
  EXPECT_TRUE(got.equal(want));
}

// ---- CUDA kernels against the references -------------------------------------------------

bool have_cuda() { return torch::cuda::is_available(); }

double tolerance(at::ScalarType t) { return t == at::kFloat ? 2e-5 : (t == at::kHalf ? 2e-3 : 1e-2); }

struct Case {
  at::ScalarType dtype;
  int64_t D, group, len, splits;
  bool map, extra;
  int variant = 0;
};

std::string describe(const Case& c) {
  return std::string(c10::toString(c.dtype)) + " D=" + std::to_string(c.D) + " group=" + std::to_string(c.group) +
         " len=" + std::to_string(c.len) + " splits=" + std::to_string(c.splits) + " map=" + std::to_string(c.map) +
         " extra=" + std::to_string(c.extra) + " variant=" + std::to_string(c.variant);
}

// Runs one case on the GPU and on the CPU reference in float64; returns the relative error.
double run_case(const Case& c) {
  const at::Device dev(at::kCUDA, 0);
  const int64_t B = 2, Hkv = 3, Hq = Hkv * c.group, cap = c.len + 5;
  auto opts = at::TensorOptions().dtype(c.dtype).device(dev);
  auto q = at::randn({B, Hq, 1, c.D}, opts);
  auto k = at::randn({B, Hkv, cap, c.D}, opts), v = at::randn({B, Hkv, cap, c.D}, opts);
  DecodeAttentionOptions opt, ref;
  opt.splits = c.splits;
  opt.variant = c.variant;
  at::Tensor kc = k, vc = v;
  if (c.map) {  // a cache of KV heads 2 and 0
    opt.kv_heads = at::tensor(std::vector<int64_t>{2, 0}, at::kLong).to(dev);
    opt.group = ref.group = c.group;
    kc = k.index_select(1, opt.kv_heads).contiguous();
    vc = v.index_select(1, opt.kv_heads).contiguous();
    ref.kv_heads = opt.kv_heads.cpu();
  }
  if (c.extra) {
    opt.k_new = at::randn({B, Hkv, 1, c.D}, opts);
    opt.v_new = at::randn({B, Hkv, c.D}, opts);
    ref.k_new = opt.k_new.cpu().to(at::kDouble);
    ref.v_new = opt.v_new.cpu().to(at::kDouble);
  }
  auto out = at::full({B, Hq, 1, c.D}, kNaN, opts);
  decode_attention(out, q, kc, vc, len_tensor(c.len, dev), opt);
  auto want = at::full({B, Hq, 1, c.D}, kNaN, at::kDouble);
  decode_attention_reference(want, q.cpu().to(at::kDouble), kc.cpu().to(at::kDouble), vc.cpu().to(at::kDouble),
                             len_tensor(c.len), ref);
  auto got = out.cpu().to(at::kDouble);
  // Served heads are written, the others left alone.
  EXPECT_TRUE(got.isnan().equal(want.isnan())) << describe(c);
  auto served = want.isnan().logical_not();
  return rel_err(got.masked_select(served), want.masked_select(served));
}

TEST(DecodeAttentionCuda, MatchesTheReference) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(4);
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat})
    for (int64_t D : {32, 64, 128})
      for (int64_t group : {1, 3, 4, 8}) {
        ASSERT_TRUE(decode_attention_supported(at::Device(at::kCUDA, 0), dtype, D, group));
        for (int variant : {0, 1, 2, 3})
          for (Case c : {Case{dtype, D, group, 1, 0, false, false}, Case{dtype, D, group, 37, 0, true, true},
                         Case{dtype, D, group, 1000, 3, false, true}, Case{dtype, D, group, 4099, 0, true, false},
                         Case{dtype, D, group, 300, 64, false, false}, Case{dtype, D, group, 0, 5, true, true}}) {
            c.variant = variant;
            const double err = run_case(c);
            EXPECT_LT(err, tolerance(dtype)) << describe(c);
          }
      }
}

TEST(DecodeAttentionCuda, LongCacheManySplits) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(5);
  for (int variant : {0, 1, 2, 3}) {
    EXPECT_LT(run_case({at::kBFloat16, 128, 4, 200003, 0, false, false, variant}), 1e-2) << variant;
    EXPECT_LT(run_case({at::kHalf, 64, 8, 70001, 0, true, true, variant}), 2e-3) << variant;
  }
  EXPECT_LT(run_case({at::kFloat, 128, 4, 65536, 0, true, true}), 1e-4);
}

TEST(DecodeAttentionCuda, TwoCachesInOneLaunch) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(9);
  const at::Device dev(at::kCUDA, 0);
  for (auto dtype : {at::kBFloat16, at::kFloat}) {
    auto opts = at::TensorOptions().dtype(dtype).device(dev);
    const int64_t B = 2, Hq = 12, group = 4, D = 128;
    auto q = at::randn({B, Hq, 1, D}, opts);
    DecodeCache a, b;  // KV heads 0 and 2 in a full cache, head 1 in a small one
    a.k_cache = at::randn({B, 2, 5000, D}, opts), a.v_cache = at::randn({B, 2, 5000, D}, opts);
    a.length = len_tensor(3001, dev);
    a.kv_heads = at::tensor(std::vector<int64_t>{0, 2}, at::kLong).to(dev);
    b.k_cache = at::randn({B, 1, 320, D}, opts), b.v_cache = at::randn({B, 1, 320, D}, opts);
    b.length = len_tensor(320, dev);
    b.kv_heads = at::tensor(std::vector<int64_t>{1}, at::kLong).to(dev);
    a.k_new = b.k_new = at::randn({B, 3, 1, D}, opts);
    a.v_new = b.v_new = at::randn({B, 3, 1, D}, opts);
    auto want = at::full({B, Hq, 1, D}, kNaN, at::kDouble);
    auto cpu = [](const at::Tensor& t) { return t.cpu().to(t.is_floating_point() ? at::kDouble : t.scalar_type()); };
    for (const DecodeCache* c : {&a, &b}) {
      DecodeAttentionOptions opt;
      opt.kv_heads = cpu(c->kv_heads);
      opt.group = group;
      opt.k_new = cpu(c->k_new);
      opt.v_new = cpu(c->v_new);
      decode_attention_reference(want, cpu(q), cpu(c->k_cache), cpu(c->v_cache), cpu(c->length), opt);
    }
    for (int variant : {0, 3}) {
      auto out = at::full({B, Hq, 1, D}, kNaN, opts);
      decode_attention(out, q, {a, b}, group, 0, variant);
      EXPECT_LT(rel_err(out, want), tolerance(dtype)) << c10::toString(dtype) << " variant " << variant;
    }

    // With append slots the token is stored after attending: at the length in the full cache,
    // over slot 17 (which the attention still reads) in the small one; a slot at the capacity
    // is skipped.
    for (int64_t slot_a : {3001, 5000}) {
      DecodeCache a2 = a, b2 = b;
      a2.k_cache = a.k_cache.clone(), a2.v_cache = a.v_cache.clone();
      b2.k_cache = b.k_cache.clone(), b2.v_cache = b.v_cache.clone();
      a2.append_slot = len_tensor(slot_a, dev);
      b2.append_slot = len_tensor(17, dev);
      auto out = at::full({B, Hq, 1, D}, kNaN, opts);
      decode_attention(out, q, {a2, b2}, group);
      EXPECT_LT(rel_err(out, want), tolerance(dtype)) << c10::toString(dtype) << " slot " << slot_a;
      for (auto [c, c2, slot] : {std::make_tuple(&a, &a2, slot_a), std::make_tuple(&b, &b2, int64_t{17})}) {
        auto k_ref = c->k_cache.cpu(), v_ref = c->v_cache.cpu();
        if (slot < k_ref.size(2))
          cache_append_reference(k_ref, v_ref, c->k_new.cpu(), c->v_new.cpu(), len_tensor(slot), c->kv_heads.cpu());
        EXPECT_TRUE(c2->k_cache.cpu().equal(k_ref) && c2->v_cache.cpu().equal(v_ref)) << "slot " << slot;
      }
    }
  }
}

TEST(MatvecCuda, MatchesLinear) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(10);
  const at::Device dev(at::kCUDA, 0);
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat})
    for (int64_t K : {64, 4096, 14336}) {
      auto opts = at::TensorOptions().dtype(dtype).device(dev);
      auto x = at::randn({1, 1, K}, opts);
      auto w1 = at::randn({1000, K}, opts) * 0.05, w2 = at::randn({7, K}, opts) * 0.05,
           w3 = at::randn({1, K}, opts) * 0.05;
      auto b2 = at::randn({7}, opts);
      ASSERT_TRUE(matvec_supported(x, {{w1, {}}, {w2, b2}, {w3, {}}}));
      auto out = matvec(x, {{w1, {}}, {w2, b2}, {w3, {}}});
      auto ref = [&](const at::Tensor& w, const at::Tensor& b) {
        auto y = at::linear(x.cpu().to(at::kDouble), w.cpu().to(at::kDouble));
        return b.defined() ? y + b.cpu().to(at::kDouble) : y;
      };
      const std::string what = std::string(c10::toString(dtype)) + " K=" + std::to_string(K);
      EXPECT_LT(rel_err(out[0], ref(w1, {})), tolerance(dtype)) << what;
      EXPECT_LT(rel_err(out[1], ref(w2, b2)), tolerance(dtype)) << what;
      EXPECT_LT(rel_err(out[2], ref(w3, {})), tolerance(dtype)) << what;
      if (K == 4096) {  // enough rows for two rows per warp
        auto wbig = at::randn({20000, K}, opts) * 0.05;
        EXPECT_LT(rel_err(matvec(x, {{wbig, {}}})[0], ref(wbig, {})), tolerance(dtype)) << what;
      }
      auto wu = at::randn({1000, K}, opts) * 0.05;
      auto sw = matvec_swiglu(x, {w1, {}}, {wu, {}});
      auto want = at::silu(ref(w1, {})) * ref(wu, {});
      EXPECT_LT(rel_err(sw, want), 2 * tolerance(dtype)) << what;
    }
}

// norm_matvec (the norm inside the matvec launch) against add_rms_norm followed by matvec: the
// same h, the same products up to the norm's summation order; with and without a residual, for
// K whose normalised row fits in shared memory (fused) and one that does not in float32
// (K 14336: the two-launch fallback).
TEST(MatvecCuda, NormInsideTheLaunchEqualsNormThenMatvec) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(12);
  const at::Device dev(at::kCUDA, 0);
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat})
    for (int64_t K : {64, 4096, 14336})
      for (bool with_residual : {true, false}) {
        auto opts = at::TensorOptions().dtype(dtype).device(dev);
        auto x = at::randn({1, 1, K}, opts), w = at::rand({K}, opts) + 0.5;
        auto r = with_residual ? at::randn({1, 1, K}, opts) : at::Tensor();
        auto w1 = at::randn({1000, K}, opts) * 0.05, w2 = at::randn({24, K}, opts) * 0.05, b2 = at::randn({24}, opts);
        auto wu = at::randn({1000, K}, opts) * 0.05;
        const std::string what = std::string(c10::toString(dtype)) + " K=" + std::to_string(K) +
                                 (with_residual ? " residual" : "");
        auto n = add_rms_norm(x, r, w, 1e-5);
        auto got = norm_matvec(x, {r, w, 1e-5}, {{w1, {}}, {w2, b2}});
        ASSERT_EQ(got.out.size(), 2u);
        EXPECT_TRUE(got.h.equal(n.h)) << what;
        auto want = matvec(n.y, {{w1, {}}, {w2, b2}});
        EXPECT_LT(rel_err(got.out[0], want[0]), tolerance(dtype)) << what;
        EXPECT_LT(rel_err(got.out[1], want[1]), tolerance(dtype)) << what;
        auto sw = norm_matvec_swiglu(x, {r, w, 1e-5}, {w1, {}}, {wu, {}});
        EXPECT_TRUE(sw.h.equal(n.h)) << what;
        EXPECT_LT(rel_err(sw.out[0], matvec_swiglu(n.y, {w1, {}}, {wu, {}})), 2 * tolerance(dtype)) << what;
      }
}

// norm_matvec with RoPE in the epilogue against the two-step path (norm, matvec, rope_qk): the
// rotation pairs rows d and d + D/2 of each head, with biases, for head dims 64 and 128.
TEST(MatvecCuda, RopeInTheEpilogueEqualsRopeQk) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(13);
  const at::Device dev(at::kCUDA, 0);
  for (auto dtype : {at::kBFloat16, at::kFloat})
    for (int64_t D : {64, 128}) {
      const int64_t K = 512, Hq = 6, Hk = 2;
      auto opts = at::TensorOptions().dtype(dtype).device(dev);
      auto x = at::randn({1, 1, K}, opts), r = at::randn({1, 1, K}, opts), w = at::rand({K}, opts) + 0.5;
      auto wq = at::randn({Hq * D, K}, opts) * 0.05, wk = at::randn({Hk * D, K}, opts) * 0.05,
           wv = at::randn({Hk * D, K}, opts) * 0.05, bq = at::randn({Hq * D}, opts);
      auto cos = at::randn({1, D}, opts), sin = at::randn({1, D}, opts);
      const std::vector<Projection> ps = {{wq, bq}, {wk, {}}, {wv, {}}};
      const OutputRope rope{cos, sin, D};
      auto got = norm_matvec(x, {r, w, 1e-5}, ps, &rope);
      auto plain = norm_matvec(x, {r, w, 1e-5}, ps);
      auto [qw, kw] = rope_qk(plain.out[0].view({1, 1, Hq, D}), plain.out[1].view({1, 1, Hk, D}), cos, sin);
      const std::string what = std::string(c10::toString(dtype)) + " D=" + std::to_string(D);
      ASSERT_EQ(got.out[0].sizes(), plain.out[0].sizes()) << what;
      EXPECT_TRUE(got.out[0].equal(qw.reshape(got.out[0].sizes()))) << what;  // same products, same roundings
      EXPECT_TRUE(got.out[1].equal(kw.reshape(got.out[1].sizes()))) << what;
      EXPECT_TRUE(got.out[2].equal(plain.out[2])) << what;
    }
}

TEST(DecodeOpsCuda, MatchTheReferences) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(6);
  const at::Device dev(at::kCUDA, 0);
  for (auto dtype : {at::kBFloat16, at::kHalf, at::kFloat}) {
    auto opts = at::TensorOptions().dtype(dtype).device(dev);
    const double tol = tolerance(dtype);
    // A decode step's rows (16-byte vectors), a training step's many rows, and a row length
    // that takes the scalar loop.
    for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{3, 4096}, {2048, 4096}, {5, 1001}}) {
      auto x = at::randn({rows, 1, cols}, opts), r = at::randn({rows, 1, cols}, opts), w = at::rand({cols}, opts) + 0.5;
      auto got = add_rms_norm(x, r, w, 1e-5);
      auto want = add_rms_norm_reference(x, r, w, 1e-5);  // ATen on the GPU: the eager ops
      EXPECT_TRUE(got.h.equal(want.h)) << c10::toString(dtype) << " cols " << cols;
      EXPECT_LT(rel_err(got.y, want.y), tol) << c10::toString(dtype) << " cols " << cols;
      EXPECT_LT(rel_err(add_rms_norm(x, {}, w, 1e-5).y, add_rms_norm_reference(x, {}, w, 1e-5).y), tol);
    }

    auto q = at::randn({2, 1, 8, 128}, opts), k = at::randn({2, 1, 2, 128}, opts);
    auto cos = at::randn({1, 128}, opts), sin = at::randn({1, 128}, opts);
    auto [qg, kg] = rope_qk(q, k, cos, sin);
    auto [qw, kw] = rope_qk_reference(q, k, cos, sin);
    EXPECT_TRUE(qg.equal(qw)) << c10::toString(dtype);  // same roundings, no reduction
    EXPECT_TRUE(kg.equal(kw)) << c10::toString(dtype);

    // A sequence in the projections' layout (16-byte vectors), and a head dim the scalar loop takes.
    for (int64_t D : {128, 6}) {
      auto xs = at::randn({2, 300, 8, D}, opts).transpose(1, 2);
      auto cs = at::randn({300, D}, opts), sn = at::randn({300, D}, opts);
      EXPECT_TRUE(rope_sequence(xs, cs, sn).equal(rope_sequence_reference(xs, cs, sn))) << c10::toString(dtype) << " D " << D;
    }

    for (int64_t n : {14336, 1000 * 14336, 999}) {  // vectors; a training step's size; the scalar loop
      auto g = at::randn({2, 1, n}, opts), u = at::randn({2, 1, n}, opts);
      EXPECT_LT(rel_err(silu_mul(g, u), silu_mul_reference(g, u)), tol / 10) << c10::toString(dtype) << " n " << n;
    }
  }
}

#ifdef DUO_WITH_CUDA
TEST(DecodeAttentionCuda, CapturedGraphFollowsTheDeviceLength) {
  if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  at::manual_seed(7);
  const at::Device dev(at::kCUDA, 0);
  auto opts = at::TensorOptions().dtype(at::kBFloat16).device(dev);
  const int64_t B = 1, Hq = 8, Hkv = 2, D = 128, cap = 3000;
  auto q = at::randn({B, Hq, 1, D}, opts), k = at::randn({B, Hkv, cap, D}, opts), v = at::randn({B, Hkv, cap, D}, opts);
  auto length = len_tensor(10, dev), out = at::zeros({B, Hq, 1, D}, opts);
  auto run = [&] { decode_attention(out, q, k, v, length); };
  auto stream = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
  torch::cuda::synchronize();  // the inputs, made on the current stream, are ready
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    run();  // warm-up
    graph.capture_begin();
    run();
    graph.capture_end();
  }
  torch::cuda::synchronize();
  for (int64_t len : {1, 700, 2999, 3000, 55}) {
    length.fill_(len);
    out.fill_(kNaN);
    graph.replay();
    auto want = at::empty({B, Hq, 1, D}, at::kDouble);
    decode_attention_reference(want, q.cpu().to(at::kDouble), k.cpu().to(at::kDouble), v.cpu().to(at::kDouble),
                               len_tensor(len));
    EXPECT_LT(rel_err(out, want), 1e-2) << len;
  }
}
#endif

}  // namespace
}  // namespace duo::kernels
