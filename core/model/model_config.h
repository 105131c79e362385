// duo::ModelConfig: the parts of a Hugging Face config.json that the Llama-family forward pass
// needs, for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace duo {

enum class Architecture { Llama, Mistral, Qwen2, Qwen3 };

std::string_view architecture_name(Architecture arch);  // "LlamaForCausalLM", ...

enum class RopeType { Default, Linear, Llama3 };

struct RopeScaling {
  RopeType type = RopeType::Default;
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 0;  // llama3 only
};

struct ModelConfig {
  Architecture architecture = Architecture::Llama;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // explicit in config.json, else hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2 always; Llama/Qwen3 when attention_bias; Mistral never)
  bool o_bias = false;          // o_proj bias (Llama/Qwen3 attention_bias; never Qwen2)
  bool mlp_bias = false;        // Llama's mlp_bias
  bool qk_norm = false;         // Qwen3: RMSNorm over each head of q and k before RoPE
  // Mistral / Qwen sliding-window attention. Recorded but not applied: every layer attends to
  // the whole context (see docs/models.md), which matches the model exactly while the context
  // is no longer than the window.
  int64_t sliding_window = 0;  // 0: none
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;  // as stored ("bfloat16", ...); empty when absent
};

// Reads config.json; throws duo::Error naming the file and the key for anything missing,
// malformed or unsupported (unknown architecture, rope type, activation).
ModelConfig load_model_config(const std::filesystem::path& config_json);
ModelConfig parse_model_config(std::string_view json_text, const std::filesystem::path& for_errors);

}  // namespace duo
