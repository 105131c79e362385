// write_hf_checkpoint: config.json from the ModelConfig, weights through save_safetensors.
#include "hf_checkpoint.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "model/safetensors_writer.h"
#include "util/error.h"
#include "util/text_file.h"

namespace duo {
std::string hf_llama_config_json(const ModelConfig& c) {
  if (c.architecture != Architecture::Llama || c.rope_scaling.type != RopeType::Default || c.attention_bias ||
      c.o_bias || c.mlp_bias || c.qk_norm)
    throw Error("hf_llama_config_json writes plain Llama configs only");
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_ids.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.bos_token_ids[0]);
  j["eos_token_id"] = c.eos_token_ids.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.eos_token_ids[0]);
  j["torch_dtype"] = "bfloat16";
  return j.dump(2) + "\n";
}

void write_hf_checkpoint(const std::filesystem::path& dir, const LlamaModel& model,
                         const std::filesystem::path& tokenizer_dir) {
  std::filesystem::create_directories(dir);
  NamedTensors weights;
  for (const auto& [name, t] : model.named_weights()) weights.emplace_back(name, t.detach().to(at::kBFloat16));
  save_safetensors(dir / "model.safetensors", weights, {{"format", "pt"}});
  write_text_file(dir / "config.json", hf_llama_config_json(model.config()));
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
    std::ifstream in(tokenizer_dir / name, std::ios::binary);
    if (!in) throw Error(tokenizer_dir / name, "cannot read");
    write_text_file(dir / name, std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

}  // namespace duo
