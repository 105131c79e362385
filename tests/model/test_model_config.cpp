// config.json parsing: both transformers layouts (4: rope_theta/rope_scaling at top level;
// 5: rope_parameters), per-architecture biases and norms, defaults, and clear errors.
#include <gtest/gtest.h>

#include "model/model_config.h"
#include "model_test_util.h"

namespace duo {
namespace {

ModelConfig parse(const std::string& json) { return parse_model_config(json, "config.json"); }

const std::string kBase = R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "vocab_size": 100)";

TEST(ModelConfigParse, Llama31InTransformers4Layout) {
  ModelConfig c = parse(R"({"architectures": ["LlamaForCausalLM"], )" + kBase + R"(, "num_key_value_heads": 2,
      "rope_theta": 500000.0, "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000,
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"},
      "torch_dtype": "bfloat16", "tie_word_embeddings": true})");
  EXPECT_EQ(c.architecture, Architecture::Llama);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeType::Llama3);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.bos_token_ids, (std::vector<int64_t>{128000}));
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
}

TEST(ModelConfigParse, LinearScalingWithOldTypeKeyAndDefaults) {
  ModelConfig c = parse(R"({"architectures": ["LlamaForCausalLM"], )" + kBase +
                        R"(, "rope_scaling": {"type": "linear", "factor": 2.0}})");
  EXPECT_EQ(c.rope_scaling.type, RopeType::Linear);
  EXPECT_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_EQ(c.num_key_value_heads, 4);  // MHA when absent
  EXPECT_EQ(c.rope_theta, 10000.0);
}

TEST(ModelConfigParse, PerArchitectureDetails) {
  ModelConfig m = parse(R"({"architectures": ["MistralForCausalLM"], )" + kBase +
                        R"(, "head_dim": null, "sliding_window": 4096, "attention_bias": true})");
  EXPECT_EQ(m.head_dim, 16);
  EXPECT_EQ(m.sliding_window, 4096);
  EXPECT_FALSE(m.attention_bias);  // Mistral has no biases whatever the key says
  ModelConfig q2 = parse(R"({"model_type": "qwen2", )" + kBase + R"(, "sliding_window": 4096,
                          "use_sliding_window": false})");
  EXPECT_EQ(q2.architecture, Architecture::Qwen2);
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_FALSE(q2.o_bias);
  EXPECT_EQ(q2.sliding_window, 0);
  ModelConfig q3 = parse(R"({"architectures": ["Qwen3ForCausalLM"], )" + kBase + R"(, "head_dim": 32,
                          "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_EQ(q3.head_dim, 32);
  EXPECT_EQ(q3.rope_theta, 1000000.0);
}

TEST(ModelConfigParse, ErrorsNameTheFileAndTheKey) {
  const std::string arch = R"({"architectures": ["LlamaForCausalLM"], )";
  test::expect_error([&] { parse(arch + kBase + R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})"); },
                     {"config.json", "rope_scaling", "'yarn'"});
  test::expect_error([&] { parse(arch + kBase + R"(, "hidden_act": "gelu"})"); }, {"config.json", "hidden_act"});
  test::expect_error([&] { parse(arch + kBase + R"(, "num_key_value_heads": 3})"); },
                     {"config.json", "num_key_value_heads", "divide"});
  test::expect_error([&] { parse(arch + kBase + R"(, "vocab_size": -5})"); },
                     {"config.json", "vocab_size", "positive integer"});
  test::expect_error([&] { parse(arch + kBase + R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}})"); },
                     {"config.json", "rope_scaling.low_freq_factor", "missing"});
  // A huge or fractional value was cast from double to an integer (undefined); now it is refused.
  for (const char* original : {"1e300", "8192.5", "0", "-8192"})
    test::expect_error([&] {
      parse(arch + kBase + R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": )" + original + "}}");
    }, {"config.json", "rope_scaling.original_max_position_embeddings", "positive integer"});
  test::expect_error([&] { parse(R"({"architectures": ["MixtralForCausalLM"], )" + kBase + "}"); },
                     {"config.json", "unknown architecture 'MixtralForCausalLM'"});
  test::expect_error([&] { parse("[1, 2]"); }, {"config.json", "not a JSON object"});
}

}  // namespace
}  // namespace duo
