// Gated attention and the distillation objective, checked against independent computations:
// a per-query loop for streaming attention, central finite differences for the gates' gradient.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include "model/llama.h"
#include "train/activation_offload.h"
#include "train/distill_objective.h"
#include "train/gated_attention.h"
#include "train/lr_schedule.h"
#include "kernels/causal_attention.h"
#include "kernels/streaming_attention.h"

namespace duo {
namespace {

auto kF64 = at::TensorOptions().dtype(at::kDouble);

// Attention of query i over the keys j the window allows, one query at a time.
at::Tensor loop_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const StreamingWindow* window) {
  const int64_t hq = q.size(1), hkv = k.size(1), T = q.size(2), D = q.size(3);
  auto out = at::zeros_like(q);
  for (int64_t h = 0; h < hq; ++h) {
    int64_t kh = h / (hq / hkv);
    for (int64_t i = 0; i < T; ++i) {
      std::vector<int64_t> keys;
      for (int64_t j = 0; j <= i; ++j) {
        bool allowed = true;
        if (window) {
          if (window->granularity == StreamingGranularity::token) {
            allowed = j < window->sink || i - j < window->recent;
          } else {
            int64_t b = i / window->block_size, c = j / window->block_size;
            allowed = c < window->sink / window->block_size ||
                      b - c < window->recent / window->block_size;
          }
        }
        if (allowed) keys.push_back(j);
      }
      auto idx = at::tensor(keys, at::kLong);
      auto kk = k[0][kh].index_select(0, idx), vv = v[0][kh].index_select(0, idx);
      auto p = at::softmax(at::matmul(kk, q[0][h][i]) / std::sqrt(double(D)), 0);
      out[0][h][i] = at::matmul(p, vv);
    }
  }
  return out;
}

struct Qkv {
  at::Tensor q, k, v;
};
Qkv random_qkv(int64_t hq, int64_t hkv, int64_t T, int64_t D, uint64_t seed) {
  at::manual_seed(seed);
  return {at::randn({1, hq, T, D}, kF64), at::randn({1, hkv, T, D}, kF64),
          at::randn({1, hkv, T, D}, kF64)};
}

TEST(StreamingMask, TokenWindowCountsSinkAndRecent) {
  StreamingWindow w{3, 4, StreamingGranularity::token, 128};
  auto m = kernels::streaming_mask(w, 20, at::kCPU);
  // Row i allows every earlier key until the window fills, then sink + recent keys.
  for (int64_t i = 0; i < 20; ++i)
    EXPECT_EQ(m[i].sum().item<int64_t>(), std::min<int64_t>(i + 1, 3 + 4)) << "row " << i;
  EXPECT_TRUE(m[19][0].item<bool>());
  EXPECT_FALSE(m[19][3].item<bool>());
  EXPECT_TRUE(m[19][16].item<bool>());
  EXPECT_FALSE(m[5][6].item<bool>());  // causal
}

TEST(GatedAttention, EndpointsAreFullAndStreamingAttention) {
  for (auto granularity : {StreamingGranularity::token, StreamingGranularity::block}) {
    StreamingWindow w{4, 8, granularity, 4};
    auto [q, k, v] = random_qkv(4, 2, 37, 8, 1);
    auto full = loop_attention(q, k, v, nullptr);
    auto streaming = loop_attention(q, k, v, &w);
    for (double a : {0.0, 1.0, 0.3}) {
      auto gates = at::full({1, 2}, a, kF64);
      GatedAttention attn(gates, w, GateMode::paper);
      auto out = attn.forward({0, q, k, v, 0});
      auto expected = a * full + (1 - a) * streaming;
      EXPECT_LT((out - expected).abs().max().item<double>(), 1e-10) << "alpha " << a;
    }
  }
}

TEST(GatedAttention, GqaGroupSharesItsGate) {
  StreamingWindow w{2, 4, StreamingGranularity::token, 128};
  auto [q, k, v] = random_qkv(4, 2, 16, 8, 2);
  auto full = loop_attention(q, k, v, nullptr);
  auto streaming = loop_attention(q, k, v, &w);
  auto gates = at::tensor({1.0, 0.0}, kF64).view({1, 2});
  GatedAttention attn(gates, w, GateMode::paper);
  auto out = attn.forward({0, q, k, v, 0});
  // Query heads 0,1 belong to KV head 0 (full); 2,3 to KV head 1 (streaming).
  EXPECT_LT((out.slice(1, 0, 2) - full.slice(1, 0, 2)).abs().max().item<double>(), 1e-10);
  EXPECT_LT((out.slice(1, 2, 4) - streaming.slice(1, 2, 4)).abs().max().item<double>(), 1e-10);
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.architecture = Architecture::Llama;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 50;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000;
  c.max_position_embeddings = 256;
  return c;
}

struct Problem {
  LlamaModel model;
  at::Tensor ids, mask;
};
Problem tiny_problem() {
  auto model = LlamaModel::random(tiny_config(), 7, at::kDouble, at::kCPU);
  at::manual_seed(3);
  auto ids = at::randint(0, 50, {1, 40}, at::kLong);
  auto mask = at::zeros({1, 40}, at::kBool);
  mask.slice(1, 30, 40).fill_(true);
  return {std::move(model), ids, mask};
}

// d loss / d gates by autograd, and by central differences of the same function.
void check_gradient(GateMode mode, bool checkpointing, StreamingGranularity granularity) {
  auto [model, ids, mask] = tiny_problem();
  ObjectiveOptions opt;
  opt.window = {2, 6, granularity, 2};
  opt.mode = mode;
  opt.activation_checkpointing = checkpointing;
  opt.reg_weight = 0.05;
  at::manual_seed(11);
  auto gates = (0.2 + 0.6 * at::rand({2, 2}, kF64)).requires_grad_(true);
  auto loss = distill_objective(model, gates, ids, mask, opt);
  loss.total.backward();
  auto grad = gates.grad().clone();
  ASSERT_GT(grad.abs().max().item<double>(), 1e-8) << "gradient is zero: the check would be empty";

  const double eps = 1e-6;
  at::NoGradGuard no_grad;
  for (int64_t i = 0; i < gates.numel(); ++i) {
    auto plus = gates.detach().clone(), minus = gates.detach().clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    double fd = (distill_objective(model, plus, ids, mask, opt).total.item<double>() -
                 distill_objective(model, minus, ids, mask, opt).total.item<double>()) /
                (2 * eps);
    double ad = grad.view(-1)[i].item<double>();
    EXPECT_NEAR(ad, fd, 1e-6 * std::max(1.0, std::abs(fd))) << "gate " << i;
  }
}

TEST(DistillObjective, PaperGradientMatchesFiniteDifferences) {
  check_gradient(GateMode::paper, false, StreamingGranularity::token);
}
TEST(DistillObjective, ReferenceGradientMatchesFiniteDifferences) {
  check_gradient(GateMode::reference, false, StreamingGranularity::token);
}
TEST(DistillObjective, CheckpointedGradientMatchesFiniteDifferences) {
  check_gradient(GateMode::paper, true, StreamingGranularity::block);
  check_gradient(GateMode::reference, true, StreamingGranularity::token);
}

TEST(DistillObjective, AllGatesOneGivesZeroDistillation) {
  auto [model, ids, mask] = tiny_problem();
  ObjectiveOptions opt;
  opt.window = {2, 6, StreamingGranularity::token, 2};
  auto gates = at::ones({2, 2}, kF64);
  auto loss = distill_objective(model, gates, ids, mask, opt);
  EXPECT_LT(loss.distill.item<double>(), 1e-20);
  EXPECT_DOUBLE_EQ(loss.reg.item<double>(), 1.0);
  EXPECT_EQ(loss.answer_tokens, 10);
  // Streaming everywhere must cost something on a 40-token sample with a 2+6 window.
  auto zero = distill_objective(model, at::zeros({2, 2}, kF64), ids, mask, opt);
  EXPECT_GT(zero.distill.item<double>(), 1e-8);
}

// The last layer runs its output projection and MLP from the first answer row on
// (layer_forward's rows_from): those rows equal the whole layer's, and the objective equals the
// one computed from two whole forward passes, also for answers with a gap between them.
TEST(LayerForward, RowsFromGivesTheWholeLayersLastRows) {
  auto [model, ids, mask] = tiny_problem();
  FullAttention full;
  const auto hidden = model.embed(ids);
  const auto whole = model.layer_forward(1, hidden, 0, full);
  const auto tail = model.layer_forward(1, hidden, 0, full, 25);
  ASSERT_EQ(tail.size(1), 15);
  EXPECT_TRUE(at::allclose(tail, whole.narrow(1, 25, 15), 0, 1e-12));
  EXPECT_THROW(model.layer_forward(1, hidden, 0, full, 40), std::invalid_argument);
}

TEST(DistillObjective, EqualsTheLossOfTwoWholeForwardPasses) {
  auto [model, ids, mask] = tiny_problem();
  mask.zero_();
  mask.slice(1, 22, 26).fill_(true);
  mask.slice(1, 33, 40).fill_(true);
  const StreamingWindow w{2, 6, StreamingGranularity::token, 2};
  auto gates = at::tensor({0.3, 0.9, 0.1, 0.6}, kF64).view({2, 2});
  FullAttention full;
  GatedAttention gated(gates, w, GateMode::paper);
  const auto reference = model.forward(ids, full, 0, false).hidden, mixed = model.forward(ids, gated, 0, false).hidden;
  const double expected = (reference - mixed).index({mask}).pow(2).mean(-1).sum().item<double>() / 11;
  for (bool checkpointing : {false, true}) {
    ObjectiveOptions opt;
    opt.window = w;
    opt.activation_checkpointing = checkpointing;
    auto loss = distill_objective(model, gates, ids, mask, opt);
    EXPECT_EQ(loss.answer_tokens, 11);
    EXPECT_NEAR(loss.distill.item<double>(), expected, 1e-12 * expected) << "checkpointing " << checkpointing;
  }
}

// Without CUDA (or for CPU tensors) the offload is a plain store, whatever its budget.
TEST(ActivationOffload, HoldsWhatItIsGivenUntilTaken) {
  ActivationOffload store(1 << 30);
  const auto a = at::arange(6, kF64), b = at::ones({2, 3}, kF64);
  store.put(3, ActivationOffload::Kind::layer_input, a);
  store.put(3, ActivationOffload::Kind::full_attention, b);
  store.prefetch(3);
  store.prefetch(7);  // nothing held: ignored
  EXPECT_TRUE(store.take(3, ActivationOffload::Kind::full_attention).equal(b));
  EXPECT_TRUE(store.take(3, ActivationOffload::Kind::layer_input).equal(a));
  EXPECT_THROW(store.take(3, ActivationOffload::Kind::layer_input), std::logic_error);
  EXPECT_EQ(store.host_bytes(), 0);
}

// On a GPU, dense tensors of any layout leave for pinned host memory and come back with their
// strides, as cuDNN's attention output ([B, T, H, D] memory seen as [B, H, T, D]) must, for its
// backward takes the gradient in that layout; tensors with gaps stay on the GPU.
TEST(ActivationOffloadCuda, ParksDenseLayoutsAndGivesThemBackAsTheyWere) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto bf16 = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  at::manual_seed(5);
  // q, k, v as the model makes them: projections [B, T, H, D] seen as [B, H, T, D].
  const auto q = at::randn({1, 300, 4, 64}, bf16).transpose(1, 2), k = at::randn({1, 300, 2, 64}, bf16).transpose(1, 2),
             v = at::randn({1, 300, 2, 64}, bf16).transpose(1, 2);
  const at::Tensor attention = kernels::causal_attention_forward(q, k, v).out;
  ASSERT_FALSE(attention.is_contiguous());  // what this test is about: cuDNN's output follows q's layout
  const at::Tensor gappy = at::randn({64, 64}, bf16).slice(1, 0, 64, 2);
  ActivationOffload store(int64_t(1) << 30);
  store.put(0, ActivationOffload::Kind::full_attention, attention);
  const int64_t parked = store.host_bytes();
  EXPECT_GE(parked, attention.numel() * 2);
  store.put(1, ActivationOffload::Kind::layer_input, gappy);
  EXPECT_EQ(store.host_bytes(), parked);  // not dense: held on the GPU
  store.prefetch(0);
  const at::Tensor back = store.take(0, ActivationOffload::Kind::full_attention);
  EXPECT_TRUE(back.is_cuda());
  EXPECT_EQ(back.strides(), attention.strides());
  EXPECT_TRUE(back.equal(attention));
  EXPECT_TRUE(store.take(1, ActivationOffload::Kind::layer_input).equal(gappy));
  EXPECT_EQ(store.host_bytes(), 0);
}

// On a GPU the gated path's full attention is cuDNN's, optionally kept from the forward pass for
// checkpointing's recomputation: the kept result must give the gradient the recomputed one gives
// (the same deterministic forward, bit for bit), and both that of the step without checkpointing.
TEST(DistillObjectiveCuda, KeptFullAttentionGivesTheSameGradient) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ModelConfig c = tiny_config();
  c.hidden_size = 256, c.intermediate_size = 512, c.num_hidden_layers = 3, c.head_dim = 64;
  c.max_position_embeddings = 4096;
  const auto model = LlamaModel::random(c, 7, at::kBFloat16, at::kCUDA);
  at::manual_seed(3);
  auto ids = at::randint(0, c.vocab_size, {1, 1500}, at::kLong).to(at::kCUDA);
  auto mask = at::zeros({1, 1500}, at::kBool).to(at::kCUDA);
  mask.slice(1, 1400, 1500).fill_(true);
  auto gradient = [&](bool checkpointing, bool keep, int64_t offload_bytes = 0) {
    ObjectiveOptions opt;
    opt.window = {16, 64, StreamingGranularity::token, 128};
    opt.activation_checkpointing = checkpointing;
    opt.keep_full_attention = keep;
    opt.offload_host_bytes = offload_bytes;
    auto gates = at::full({3, 2}, 0.5, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA)).requires_grad_(true);
    distill_objective(model, gates, ids, mask, opt).total.backward();
    return gates.grad().cpu();
  };
  const at::Tensor plain = gradient(false, false), recomputed = gradient(true, false), kept = gradient(true, true);
  ASSERT_GT(plain.abs().max().item<double>(), 0);
  EXPECT_TRUE(kept.equal(recomputed)) << kept << recomputed;
  // Parked in host memory in between (ActivationOffload), bit for bit the same. Each layer input
  // and kept full attention (1500 × 256 bf16) takes a 1 MiB pinned block: a budget of 2.5 MiB
  // parks the first layer's two and leaves the rest on the GPU, which must not matter either.
  EXPECT_TRUE(gradient(true, false, int64_t(1) << 30).equal(recomputed));
  EXPECT_TRUE(gradient(true, true, int64_t(1) << 30).equal(recomputed));
  EXPECT_TRUE(gradient(true, true, 5 << 19).equal(recomputed));
  EXPECT_LT(((recomputed - plain).norm() / plain.norm()).item<double>(), 2e-2) << recomputed << plain;
}

TEST(LrSchedule, MatchesTheReferenceLambda) {
  // The reference: lr * min(1, max((s+1)/(N//5), 0.1), max((N-s)/(N//5), 0.1)), N = 2000.
  LrSchedule s{0.02, 2000, 0.2, 0.2, 0.1};
  EXPECT_DOUBLE_EQ(s.at(0), 0.02 * 0.1);        // 1/400 < 0.1: floor
  EXPECT_DOUBLE_EQ(s.at(99), 0.02 * 0.25);      // 100/400
  EXPECT_DOUBLE_EQ(s.at(399), 0.02);            // end of warm-up
  EXPECT_DOUBLE_EQ(s.at(1000), 0.02);           // flat
  EXPECT_DOUBLE_EQ(s.at(1700), 0.02 * 0.75);    // 300/400
  EXPECT_DOUBLE_EQ(s.at(1999), 0.02 * 0.1);     // floor
}

}  // namespace
}  // namespace duo
