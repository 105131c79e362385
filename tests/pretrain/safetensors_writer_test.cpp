// save_safetensors against two independent readers (duo's strict parser and the Python
// safetensors package), its refusals, and LlamaModel::named_weights: saving a model's weights
// under their names gives a checkpoint that loads back to the same model.
#include <gtest/gtest.h>

#include <cstdlib>

#include "hf_checkpoint.h"
#include "model/llama.h"
#include "model/safetensors.h"
#include "model/safetensors_writer.h"
#include "file_limit.h"
#include "scratch.h"
#include "util/error.h"

namespace duo {
namespace {

NamedTensors sample_tensors() {
  return {{"a.f32", at::arange(24, at::kFloat).reshape({2, 3, 4}) / 7},
          {"b.bf16", (at::arange(6, at::kFloat) - 2.5).to(at::kBFloat16)},
          {"c.i64", at::tensor({-(int64_t(1) << 40), int64_t(0), (int64_t(1) << 40) + 3}, at::kLong)},
          // a transposed view: the writer must store it in logical (row-major) order
          {"d.bool", at::tensor({1, 0, 0, 1}, at::kInt).to(at::kBool).reshape({2, 2}).t()}};
}

TEST(SafetensorsWriter, ReadsBackInDuoAndInPython) {
  const auto dir = test::scratch_dir();
  const auto file = dir / "t.safetensors";
  const NamedTensors tensors = sample_tensors();
  save_safetensors(file, tensors, {{"format", "pt"}, {"note", "written by duo"}});
  EXPECT_FALSE(std::filesystem::exists(dir / "t.safetensors.partial"));

  SafetensorsFile st(file);
  ASSERT_EQ(st.tensors().size(), 4u);
  EXPECT_EQ(st.metadata().at("note"), "written by duo");
  EXPECT_EQ(st.tensors()[0].begin % 8, 0u) << "the header is padded so that data start 8-byte aligned";
  for (const auto& [name, t] : tensors) {
    const StTensor* entry = st.find(name);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_EQ(entry->shape, t.sizes().vec()) << name;
    at::Tensor back = at::from_blob(const_cast<uint8_t*>(st.data(*entry)), t.sizes(), t.options()).clone();
    EXPECT_TRUE(at::equal(back, t)) << name;
  }

  const auto r = test::run_command(std::string(std::getenv("DUO_PYTHON")) + " " + std::getenv("DUO_SOURCE_DIR") +
                                   "/tests/pretrain/check_safetensors.py " + file.string(), dir);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

// A full disk (here: a file size limit) is one error naming the file and the reason; the old file
// stays as it was and no temporary file is left.
TEST(SafetensorsWriter, AFailedWriteIsOneErrorAndKeepsTheOldFile) {
  const auto dir = test::scratch_dir();
  const auto file = dir / "t.safetensors";
  test::spit(file, "an older checkpoint");
  try {
    test::FileSizeLimit limit(256);
    save_safetensors(file, sample_tensors());
    FAIL() << "the write past the limit was not reported";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": write failed: File too large");
  }
  EXPECT_EQ(test::slurp(file), "an older checkpoint");
  EXPECT_FALSE(std::filesystem::exists(dir / "t.safetensors.partial"));
}

TEST(SafetensorsWriter, RefusesDuplicateNamesAndUnsupportedDtypes) {
  const auto file = test::scratch_dir() / "t.safetensors";
  NamedTensors twice = {{"x", at::zeros({2})}, {"x", at::ones({2})}};
  try {
    save_safetensors(file, twice);
    FAIL() << "a duplicate name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x' given twice"), std::string::npos) << e.what();
  }
  try {
    save_safetensors(file, {{"z", at::zeros({2}, at::kComplexFloat)}});
    FAIL() << "a complex tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'z'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

ModelConfig small_config(bool tied) {
  ModelConfig c;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 258;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = tied;
  c.bos_token_ids = {256};
  c.eos_token_ids = {257};
  return c;
}

TEST(NamedWeights, HaveTransformersNamesAndShareTheModelsTensors) {
  const LlamaModel m = LlamaModel::random(small_config(false), 3, at::kFloat, at::kCPU);
  const auto w = m.named_weights();
  ASSERT_EQ(w.size(), 1 + 2 * 9 + 2u);
  EXPECT_EQ(w.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(w[1].first, "model.layers.0.input_layernorm.weight");
  EXPECT_EQ(w[2].first, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(w[w.size() - 2].first, "model.norm.weight");
  EXPECT_EQ(w.back().first, "lm_head.weight");
  EXPECT_TRUE(w[2].second.is_same(m.layers()[0].wq)) << "named_weights must hand out the model's own tensors";

  const auto tied = LlamaModel::random(small_config(true), 3, at::kFloat, at::kCPU).named_weights();
  EXPECT_EQ(tied.size(), w.size() - 1);
  EXPECT_EQ(tied.back().first, "model.norm.weight");
}

TEST(NamedWeights, SavedCheckpointLoadsBackToTheSameModel) {
  const auto dir = test::scratch_dir();
  const LlamaModel m = LlamaModel::random(small_config(false), 5, at::kFloat, at::kCPU);
  write_hf_checkpoint(dir, m, std::filesystem::path(std::getenv("DUO_SOURCE_DIR")) / "models/tiny-random");
  const LlamaModel back = LlamaModel::load(dir, at::kFloat, at::kCPU);
  // The checkpoint stores bf16: the reloaded weights are the bf16 rounding of the originals.
  const auto a = m.named_weights(), b = back.named_weights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(at::equal(a[i].second.to(at::kBFloat16).to(at::kFloat), b[i].second)) << a[i].first;
  }
}

}  // namespace
}  // namespace duo
