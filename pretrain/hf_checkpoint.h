// Writes a model as a Hugging Face checkpoint directory that transformers' LlamaForCausalLM
// and duo::LlamaModel::load both read: config.json, model.safetensors (weights cast to bf16,
// which keeps the built-in model small), tokenizer.json and tokenizer_config.json (copied).
#pragma once
#include <filesystem>

#include "model/llama.h"

namespace duo {

// Each file is replaced atomically, so an interrupted save leaves the previous checkpoint's
// file in place rather than half a file.
void write_hf_checkpoint(const std::filesystem::path& dir, const LlamaModel& model,
                         const std::filesystem::path& tokenizer_dir);

// config.json's text for a Llama-architecture config (what write_hf_checkpoint writes).
std::string hf_llama_config_json(const ModelConfig& config);

}  // namespace duo
