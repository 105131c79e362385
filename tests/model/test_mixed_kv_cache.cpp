// MixedKVCacheAttention against independent computations: a dense forward whose attention masks
// each head explicitly (causal for retrieval heads, the chunked sink+recent mask for streaming
// heads), the plain model at sparsity 0, and the KV-byte formula.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "model/chunked_prefill.h"
#include "model/generate.h"
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
    auto causal = at::ones({T, T}, at::kBool).tril();
    auto streaming = streaming_mask_for_chunks(T, chunk_, pattern_.sink, pattern_.recent);
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
    MixedKVCacheAttention engine(pattern, 1, T, 8, at::kFloat, at::kCPU);
    auto got = prefill_chunked(model, engine, ids, chunk, /*all_logits=*/true);
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

  auto pattern = HeadPattern::uniform(3, 2, true, 4, 12);
  MixedKVCacheAttention engine(pattern, 1, 64, 8, at::kFloat, at::kCPU);
  auto ids = at::tensor(prompt, at::kLong).unsqueeze(0);
  auto logits = prefill_chunked(model, engine, ids, /*chunk=*/16, /*all_logits=*/true);
  FullAttention full;
  EXPECT_LT((logits - model.forward(ids, full).logits).abs().max().item<double>(), 1e-4);
  auto tokens = decode_greedy(model, engine, logits.narrow(1, 39, 1), 40, 20);
  EXPECT_EQ(tokens, reference.tokens);
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

}  // namespace
}  // namespace duo
