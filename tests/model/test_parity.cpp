// duo's forward pass, RoPE and greedy generation against transformers on tiny random
// checkpoints of every supported variant (written by make_checkpoints.py), plus the KV cache
// against full attention and the differentiability of a layer through its Attention.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/llama.h"
#include "model/rope.h"
#include "model_test_util.h"

namespace duo {
namespace {

const std::filesystem::path kCheckpoints = DUO_MODEL_CHECKPOINTS;

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

class ModelParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kCheckpoints / GetParam();
    ref_ = std::make_unique<SafetensorsFile>(dir_ / "reference.safetensors");
  }
  at::Tensor ref(const std::string& name) { return test::read_tensor(*ref_, name); }
  std::filesystem::path dir_;
  std::unique_ptr<SafetensorsFile> ref_;
};

// One test per variant (each ctest entry is a process, and loading libtorch dominates).
TEST_P(ModelParity, MatchesTransformers) {
  ModelConfig cfg = load_model_config(dir_ / "config.json");
  EXPECT_LE(max_diff(rope_inv_freq(cfg, at::kCPU), ref("inv_freq")), 1e-7) << "RoPE inverse frequencies";

  LlamaModel model = LlamaModel::load(dir_, at::kFloat, at::kCPU);
  {
    FullAttention attn;
    at::InferenceMode guard;
    LlamaModel::Output out = model.forward(ref("ids"), attn);
    const double dh = max_diff(out.hidden, ref("hidden")), dl = max_diff(out.logits, ref("logits"));
    std::printf("%s: max |diff| hidden %.3g, logits %.3g\n", GetParam().c_str(), dh, dl);
    EXPECT_LE(dh, 1e-4) << "final hidden states (fp32)";
    EXPECT_LE(dl, 1e-4) << "logits (fp32)";
  }

  at::Tensor ids = ref("ids")[0];
  std::vector<int64_t> prompt(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  Generation g = generate_greedy(model, prompt, {.max_new_tokens = 32, .stop_at_eos = false});
  at::Tensor expected = ref("generated");
  std::vector<int64_t> want(expected.data_ptr<int64_t>(), expected.data_ptr<int64_t>() + expected.numel());
  EXPECT_EQ(g.tokens, want) << "greedy generation of 32 tokens";
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelParity,
                         ::testing::Values("llama_mha-fp32", "llama_mha-bf16", "llama_gqa-fp32", "llama_gqa-bf16",
                                           "llama_gqa_sharded-fp32", "llama3_rope-fp32", "llama3_rope-bf16",
                                           "linear_rope-fp32", "linear_rope-bf16", "llama_tied-fp32",
                                           "llama_tied-bf16", "mistral-fp32", "mistral-bf16", "qwen2-fp32",
                                           "qwen2-bf16", "qwen3-fp32", "qwen3-bf16"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

TEST(ModelLoad, CastsOnLoadToTheRequestedDtype) {
  LlamaModel f32 = LlamaModel::load(kCheckpoints / "qwen2-bf16", at::kFloat, at::kCPU);
  LlamaModel bf16 = LlamaModel::load(kCheckpoints / "qwen2-bf16", at::kBFloat16, at::kCPU);
  EXPECT_EQ(f32.dtype(), at::kFloat);
  EXPECT_EQ(bf16.dtype(), at::kBFloat16);
  // The file holds bf16 values, so the fp32 copy is exact and both casts agree bit for bit.
  EXPECT_TRUE(at::equal(f32.layers()[0].wq.to(at::kBFloat16), bf16.layers()[0].wq));
  EXPECT_TRUE(at::equal(f32.layers()[1].bk.to(at::kBFloat16), bf16.layers()[1].bk));
  for (const auto& l : bf16.layers()) EXPECT_FALSE(l.wq.requires_grad());
}

// Gate training's model (duo-train) leaves an untied LM head out: the same hidden states, no
// head tensor, and a clear error for logits.
TEST(ModelLoad, WithoutTheLmHeadGivesTheSameHiddenStates) {
  const auto dir = kCheckpoints / "qwen3-fp32";
  LlamaModel with = LlamaModel::load(dir, at::kFloat, at::kCPU);
  LlamaModel without = LlamaModel::load(dir, at::kFloat, at::kCPU, /*with_lm_head=*/false);
  ASSERT_FALSE(with.config().tie_word_embeddings);
  at::InferenceMode guard;
  const at::Tensor ids = at::randint(3, 320, {1, 12}, at::TensorOptions().dtype(at::kLong));
  FullAttention full;
  EXPECT_TRUE(at::equal(without.forward(ids, full, 0, /*logits=*/false).hidden, with.forward(ids, full).hidden));
  EXPECT_EQ(without.named_weights().size() + 1, with.named_weights().size());
  EXPECT_THROW(without.forward(ids, full), std::logic_error);
}

TEST(ModelAttention, KVCacheChunksMatchFullAttention) {
  LlamaModel model = LlamaModel::load(kCheckpoints / "qwen3-fp32", at::kFloat, at::kCPU);
  at::InferenceMode guard;
  at::Tensor ids = at::randint(3, 320, {2, 20}, at::TensorOptions().dtype(at::kLong));
  FullAttention full;
  at::Tensor want = model.forward(ids, full).logits;
  // Prefill 7 tokens, a chunk of 9 (queries behind earlier keys: the bottom-right mask), then
  // single decode steps.
  MixedKVCacheAttention cache(Decoder::dense_pattern(model.config()), 2, 20, model.config().head_dim, at::kFloat,
                              at::kCPU);
  std::vector<at::Tensor> parts;
  int64_t pos = 0;
  for (int64_t n : {7, 9, 1, 1, 1, 1}) {
    parts.push_back(model.forward(ids.narrow(1, pos, n), cache, pos).logits);
    pos += n;
  }
  EXPECT_EQ(cache.length(), 20);
  EXPECT_LE(max_diff(at::cat(parts, 1), want), 1e-5);
}

// An Attention holding a trainable per-head scale, the shape of the trainer's gates.
struct ScaledAttention : Attention {
  at::Tensor scale;
  FullAttention full;
  at::Tensor forward(const AttentionInput& in) override {
    return full.forward(in) * scale.view({1, -1, 1, 1});
  }
};

TEST(ModelAttention, LayerIsDifferentiableThroughTheAttentionObject) {
  LlamaModel model = LlamaModel::load(kCheckpoints / "llama_gqa-fp32", at::kFloat, at::kCPU);
  ScaledAttention attn;
  attn.scale = at::full({4}, 0.5, at::TensorOptions().dtype(at::kFloat)).set_requires_grad(true);
  at::Tensor ids = at::randint(3, 320, {1, 10}, at::TensorOptions().dtype(at::kLong));
  at::Tensor h = model.layer_forward(0, model.embed(ids), 0, attn);
  h = model.layer_forward(1, h, 0, attn);
  model.final_norm(h).pow(2).sum().backward();
  ASSERT_TRUE(attn.scale.grad().defined());
  EXPECT_GT(attn.scale.grad().abs().min().item<double>(), 0.0);
  EXPECT_FALSE(model.layers()[0].wq.grad().defined());
}

TEST(ModelRandom, SeededAndShapedLikeTheConfig) {
  ModelConfig cfg = load_model_config(kCheckpoints / "qwen3-fp32" / "config.json");
  LlamaModel a = LlamaModel::random(cfg, 7, at::kBFloat16, at::kCPU);
  LlamaModel b = LlamaModel::random(cfg, 7, at::kBFloat16, at::kCPU);
  LlamaModel c = LlamaModel::random(cfg, 8, at::kBFloat16, at::kCPU);
  EXPECT_TRUE(at::equal(a.layers()[1].w_down, b.layers()[1].w_down));
  EXPECT_FALSE(at::equal(a.layers()[1].w_down, c.layers()[1].w_down));
  EXPECT_EQ(a.layers()[0].wq.sizes(), (std::vector<int64_t>{4 * 32, 64}));
  EXPECT_EQ(a.layers()[0].q_norm.sizes(), (std::vector<int64_t>{32}));
  FullAttention attn;
  at::InferenceMode guard;
  auto out = a.forward(at::zeros({1, 5}, at::TensorOptions().dtype(at::kLong)), attn);
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, 5, 320}));
  EXPECT_TRUE(out.logits.isfinite().all().item<bool>());
}

}  // namespace
}  // namespace duo
