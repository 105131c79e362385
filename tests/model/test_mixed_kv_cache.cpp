// MixedKVCacheAttention and the Decoder against independent computations: a dense forward whose
// attention masks each head explicitly (causal for retrieval heads, the chunked sink+recent mask
// for streaming heads), the plain model at sparsity 0, and the KV-byte formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include "kernels/decode_attention.h"
#include "kernels/launch_overlap.h"
#include "model/decode_graph.h"
#include "model/decoder.h"
#include "model/llama.h"
#include "model/mixed_kv_cache.h"

namespace duo {
namespace {

ModelConfig tiny_gqa_config() {
  ModelConfig c;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 61;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000;
  c.max_position_embeddings = 512;
  return c;
}

// Whole-sequence attention, each query head under its own explicit [T, T] mask.
class PerHeadMaskAttention : public Attention {
 public:
  PerHeadMaskAttention(HeadPattern pattern, int64_t chunk) : pattern_(std::move(pattern)), chunk_(chunk) {}
  at::Tensor forward(const AttentionInput& in) override {
    const int64_t hq = in.q.size(1), hkv = in.k.size(1), T = in.q.size(2);
    auto causal = at::ones({T, T}, at::TensorOptions().dtype(at::kBool).device(in.q.device())).tril();
    auto streaming =
        streaming_mask_for_chunks(T, chunk_, pattern_.window.sink, pattern_.window.recent).to(in.q.device());
    std::vector<at::Tensor> heads;
    for (int64_t h = 0; h < hq; ++h) {
      int64_t kv = h / (hq / hkv);
      auto mask = pattern_.is_retrieval(in.layer, kv) ? causal : streaming;
      heads.push_back(at::scaled_dot_product_attention(in.q.narrow(1, h, 1), in.k.narrow(1, kv, 1),
                                                       in.v.narrow(1, kv, 1), mask));
    }
    return at::cat(heads, 1);
  }

 private:
  HeadPattern pattern_;
  int64_t chunk_;
};

// Every prompt token's logits through a Decoder's chunked prefill, [1, T, vocab].
at::Tensor prefill_logits(const LlamaModel& model, Decoder& decoder, const at::Tensor& ids) {
  at::Tensor hidden;
  decoder.prefill(ids, &hidden);
  return model.lm_head(hidden);
}

HeadPattern mixed_pattern(int64_t sink, int64_t recent) {
  // Layer 0: both full; layer 1: KV head 0 streaming; layer 2: both streaming.
  HeadPattern p = HeadPattern::uniform(3, 2, true, sink, recent);
  p.retrieval = {1, 1, 0, 1, 0, 0};
  return p;
}

TEST(MixedKVCache, ChunkedPrefillEqualsPerHeadMaskedForward) {
  torch::NoGradGuard no_grad;
  auto model = LlamaModel::random(tiny_gqa_config(), 5, at::kFloat, at::kCPU);
  at::manual_seed(9);
  const int64_t T = 70;
  auto ids = at::randint(0, 61, {1, T}, at::kLong);
  const auto pattern = mixed_pattern(/*sink=*/4, /*recent=*/12);
  for (int64_t chunk : {int64_t{1}, int64_t{5}, int64_t{16}, int64_t{32}, T}) {
    Decoder decoder(model, pattern, T, {.chunk = chunk});
    auto got = prefill_logits(model, decoder, ids);
    PerHeadMaskAttention dense(pattern, chunk);
    auto want = model.forward(ids, dense).logits;
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-4) << "chunk " << chunk;
    // The streaming heads must matter: the plain causal model differs (except with one chunk
    // for the whole prompt, where a streaming head sees the whole chunk causally).
    FullAttention full;
    auto gap = (model.forward(ids, full).logits - want).abs().max().item<double>();
    if (chunk < T) EXPECT_GT(gap, 1e-3) << "chunk " << chunk;
    else EXPECT_LT(gap, 1e-4);
  }
}

// On a GPU in bf16 the chunks attend through libtorch's flash kernel (bottom-right causal over
// the kept tokens and the chunk): the same logits as the dense masks, to bf16 rounding, which is
// far below what the streaming heads change.
TEST(MixedKVCache, ChunkedPrefillOnCudaEqualsPerHeadMaskedForward) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  const at::Device cuda(at::kCUDA, 0);
  auto model = LlamaModel::random(tiny_gqa_config(), 5, at::kBFloat16, cuda);
  at::manual_seed(9);
  const int64_t T = 300;
  auto ids = at::randint(0, 61, {1, T}, at::TensorOptions().dtype(at::kLong).device(cuda));
  const auto pattern = mixed_pattern(/*sink=*/4, /*recent=*/24);
  FullAttention full;
  const at::Tensor plain = model.forward(ids, full).logits.to(at::kFloat);
  for (int64_t chunk : {int64_t{1}, int64_t{16}, int64_t{100}}) {
    Decoder decoder(model, pattern, T, {.chunk = chunk});
    auto got = prefill_logits(model, decoder, ids).to(at::kFloat);
    PerHeadMaskAttention dense(pattern, chunk);
    auto want = model.forward(ids, dense).logits.to(at::kFloat);
    const double err = (got - want).abs().max().item<double>(), gap = (plain - want).abs().max().item<double>();
    EXPECT_LT(err, 0.05 * want.abs().max().item<double>()) << "chunk " << chunk;
    EXPECT_GT(gap, 4 * err) << "chunk " << chunk;
  }
}

TEST(MixedKVCache, SparsityZeroGivesThePlainModelsTokensAndLogits) {
  torch::NoGradGuard no_grad;
  auto cfg = tiny_gqa_config();
  auto model = LlamaModel::random(cfg, 6, at::kFloat, at::kCPU);
  std::vector<int64_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back((i * 7 + 3) % 61);
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  opt.stop_at_eos = false;
  auto reference = generate_greedy(model, prompt, opt);

  // The dense cache in chunks, against the plain forward; then greedy steps. The reference
  // prefilled in one chunk, so the chunks' bottom-right-aligned attention is checked too.
  Decoder decoder(model, Decoder::dense_pattern(cfg), 64, {.chunk = 16});
  auto ids = at::tensor(prompt, at::kLong).unsqueeze(0);
  auto logits = prefill_logits(model, decoder, ids);
  FullAttention full;
  EXPECT_LT((logits - model.forward(ids, full).logits).abs().max().item<double>(), 1e-4);
  EXPECT_EQ(decoder.position(), 40);
  auto tokens = decoder.greedy(logits.select(1, 39), 20);
  EXPECT_EQ(tokens, reference.tokens);
  EXPECT_EQ(decoder.position(), 59);  // the last token is not fed back
}

TEST(MixedKVCache, AllocatedBytesEqualThePatternFormula) {
  const int64_t D = 8, max_length = 1000;
  for (const auto& pattern : {mixed_pattern(4, 12), HeadPattern::uniform(3, 2, true, 4, 12),
                              HeadPattern::uniform(3, 2, false, 4, 12)}) {
    MixedKVCacheAttention engine(pattern, 2, max_length, D, at::kBFloat16, at::kCPU);
    EXPECT_EQ(engine.kv_bytes(), pattern_kv_bytes(pattern, 2, max_length, D, 2));
  }
  // By hand for the mixed pattern: 3 retrieval heads × 1000 tokens + 3 streaming × 16 tokens,
  // K and V, batch 2, head_dim 8, 2 bytes.
  EXPECT_EQ(pattern_kv_bytes(mixed_pattern(4, 12), 2, max_length, D, 2),
            2 * (3 * 1000 + 3 * 16) * 2 * 8 * 2);
}

// Greedy decoding of `steps` tokens after a chunked prefill of `prompt`, once through the
// ordinary forward and once through DecodeGraph (device positions: kernels and, on CUDA, a
// replayed graph); every step's logits and tokens are compared.
struct DecodeComparison {
  double max_logit_gap = 0;
  std::vector<int64_t> eager_tokens, graph_tokens;
  int64_t replays = 0, position_steps = 0, plain_steps = 0;
  bool captured = false;
};

DecodeComparison compare_decoding(const LlamaModel& model, const HeadPattern& pattern, const at::Tensor& prompt,
                                  int64_t steps, int64_t chunk, DecodeGraph::Options options = {}) {
  torch::NoGradGuard no_grad;
  const int64_t T = prompt.size(1), D = model.config().head_dim;
  Decoder eager_decoder(model, pattern, T + steps, {.chunk = chunk});
  Decoder graphed_decoder(model, pattern, T + steps, {.chunk = chunk});
  MixedKVCacheAttention &eager = eager_decoder.cache(), &graphed = graphed_decoder.cache();
  auto logits_a = eager_decoder.prefill(prompt).unsqueeze(1);
  auto logits_b = graphed_decoder.prefill(prompt).unsqueeze(1);
  DecodeGraph graph(model, graphed, options);
  DecodeComparison r;
  for (int64_t i = 0; i < steps; ++i) {
    r.max_logit_gap = std::max(r.max_logit_gap, (logits_a.to(at::kFloat) - logits_b.to(at::kFloat)).abs().max().item<double>());
    auto next_a = logits_a.select(1, 0).argmax(-1, true), next_b = logits_b.select(1, 0).argmax(-1, true);
    r.eager_tokens.push_back(next_a.item<int64_t>());
    r.graph_tokens.push_back(next_b.item<int64_t>());
    // Both continue from the eager token, so one near-tie cannot derail the comparison.
    logits_a = model.forward(next_a, eager, T + i, /*logits=*/true).logits;
    logits_b = graph.step(next_a, T + i).clone();
  }
  EXPECT_EQ(graphed.length(), eager.length());
  r.replays = graph.replays();
  r.position_steps = graph.position_steps();
  r.plain_steps = graph.plain_steps();
  r.captured = graph.captured();
  return r;
}

// On the CPU, device-position steps run eagerly through the kernels' ATen references; the first
// steps (before the streaming buffers are full: sink 4 + recent 12) take the ordinary path.
TEST(MixedKVCache, DevicePositionStepsEqualTheOrdinaryPathOnCpu) {
  auto model = LlamaModel::random(tiny_gqa_config(), 7, at::kFloat, at::kCPU);
  at::manual_seed(11);
  auto prompt = at::randint(0, 61, {1, 10}, at::kLong);
  for (const auto& pattern : {mixed_pattern(4, 12), HeadPattern::uniform(3, 2, true, 4, 12),
                              HeadPattern::uniform(3, 2, false, 4, 12)}) {
    auto r = compare_decoding(model, pattern, prompt, 30, 4);
    EXPECT_LT(r.max_logit_gap, 1e-4);
    EXPECT_EQ(r.graph_tokens, r.eager_tokens);
    const bool streaming = std::find(pattern.retrieval.begin(), pattern.retrieval.end(), 0) != pattern.retrieval.end();
    EXPECT_EQ(r.plain_steps, streaming ? 16 - 10 : 0);  // positions 10..15 before the buffers fill
    EXPECT_EQ(r.position_steps, 30 - r.plain_steps);
    EXPECT_FALSE(r.captured);
  }
}

// On a GPU: the captured graph, replayed per token, against the ordinary eager path, at head
// dims the kernels take (32 as the built-in tiny model, 64), in float32 and bfloat16, with the
// fused matvec kernels and with cuBLAS, with the scalar and the tensor-core attention, and (at
// D 64) with the kernels' launches overlapped (the default) and in plain stream order.
TEST(MixedKVCache, CudaGraphDecodingEqualsTheOrdinaryPath) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const int saved_variant = kernels::decode_attention_default_variant();
  const bool saved_overlap = kernels::launch_overlap();
  for (int64_t D : {32, 64}) {
    auto cfg = tiny_gqa_config();
    cfg.num_attention_heads = 4;
    cfg.head_dim = D;
    cfg.hidden_size = 4 * D;
    cfg.intermediate_size = 8 * D;
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      auto model = LlamaModel::random(cfg, 8, dtype, at::Device(at::kCUDA, 0));
      ASSERT_TRUE(DecodeGraph::available(model));
      at::manual_seed(12);
      auto prompt = at::randint(0, 61, {1, 40}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
      for (const auto& pattern : {mixed_pattern(4, 12), HeadPattern::uniform(3, 2, true, 4, 12)})
        for (bool fused_matvec : {true, false})
          for (int variant : {0, 3})
            for (bool overlap : D == 64 ? std::vector<bool>{true, false} : std::vector<bool>{true}) {
              kernels::set_decode_attention_default_variant(variant);
              kernels::set_launch_overlap(overlap);
              SCOPED_TRACE("D " + std::to_string(D) + " " + c10::toString(dtype) +
                           (fused_matvec ? " fused matvec" : " cuBLAS") + " variant " + std::to_string(variant) +
                           (overlap ? " overlapped" : " stream order"));
              auto r = compare_decoding(model, pattern, prompt, 24, 16, {true, fused_matvec});
              EXPECT_TRUE(r.captured);
              EXPECT_EQ(r.replays, 23);
              EXPECT_EQ(r.plain_steps, 0);
              if (dtype == at::kFloat && variant == 0) {
                EXPECT_LT(r.max_logit_gap, 1e-3);
                EXPECT_EQ(r.graph_tokens, r.eager_tokens);
              } else {  // bf16 activations, or P rounded to bf16 in the tensor-core kernel
                EXPECT_LT(r.max_logit_gap, 0.1);
                int same = 0;
                for (size_t i = 0; i < r.eager_tokens.size(); ++i) same += r.eager_tokens[i] == r.graph_tokens[i];
                EXPECT_GE(same, 20);
              }
            }
    }
  }
  kernels::set_decode_attention_default_variant(saved_variant);
  kernels::set_launch_overlap(saved_overlap);
}

// generate_greedy on a GPU (steps replayed from a CUDA graph) against a Decoder stepping through
// the ordinary forward on the same model, in float32: the same tokens.
TEST(MixedKVCache, GenerateOnCudaDecodesFromAGraphLikeTheEagerLoop) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  auto cfg = tiny_gqa_config();
  cfg.num_attention_heads = 4;
  cfg.head_dim = 64;
  cfg.hidden_size = 256;
  cfg.intermediate_size = 512;
  auto model = LlamaModel::random(cfg, 9, at::kFloat, at::Device(at::kCUDA, 0));
  ASSERT_TRUE(DecodeGraph::available(model));
  std::vector<int64_t> prompt;
  for (int i = 0; i < 30; ++i) prompt.push_back((i * 11 + 5) % 61);
  GenerateOptions opt;
  opt.max_new_tokens = 24;
  opt.stop_at_eos = false;
  const auto got = generate_greedy(model, prompt, opt).tokens;

  Decoder eager(model, Decoder::dense_pattern(cfg), 30 + 24, {.cuda_graph = false});
  EXPECT_EQ(eager.graph(), nullptr);
  auto logits = eager.prefill(at::tensor(prompt, at::kLong).unsqueeze(0));
  EXPECT_EQ(got, eager.greedy(logits, 24));
}

}  // namespace
}  // namespace duo
