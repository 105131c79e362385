// Writes the .safetensors format (see safetensors.h): an 8-byte little-endian header length,
// a JSON header giving each tensor's dtype, shape and byte range, then the tensors' bytes back
// to back. The header is padded with spaces to a multiple of 8 bytes, as the Python writer
// does, so every tensor starts aligned. duo-pretrain saves its checkpoints with it.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace duo {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes `tensors` (any device; bool, integer, fp16, bf16, fp32, fp64) in the given order, with
// `metadata` as "__metadata__". The file appears atomically (written beside it, then renamed),
// so a reader never sees half a checkpoint. Throws duo::Error for a duplicate or empty name, an
// unsupported dtype, or a file that cannot be written.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace duo
