// Helpers shared by the model tests: reading reference tensors, writing safetensors files and
// small checkpoints byte by byte, scratch directories, expecting a duo::Error.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace duo::test {

// A tensor of a safetensors file as an owning at::Tensor of its stored dtype.
at::Tensor read_tensor(const SafetensorsFile& file, const std::string& name);

struct StEntry {
  std::string name;
  std::string dtype;  // "F32", ...
  std::vector<int64_t> shape;
  std::string bytes;  // the raw data; its size need not match (to build lying files)
};
// A safetensors file: header length, JSON header (data_offsets laid out back to back), data.
std::string safetensors_bytes(const std::vector<StEntry>& entries);
// The same from an explicit header text and data area.
std::string safetensors_bytes(const std::string& header_json, const std::string& data);

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

// An empty directory under the test temp dir, unique to the running test.
std::filesystem::path fresh_dir(const std::string& name = "");

// A tiny valid Llama checkpoint (1 layer, hidden 8, 2 heads, vocab 16) written as config.json
// plus model.safetensors; `edit` may change the tensor list before it is written.
std::vector<StEntry> tiny_llama_tensors();
std::string tiny_llama_config(const std::string& architecture = "LlamaForCausalLM");
void write_tiny_checkpoint(const std::filesystem::path& dir, const std::vector<StEntry>& tensors);

// Runs `fn`, expecting a duo::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts);

}  // namespace duo::test
