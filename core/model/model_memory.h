// What a model's weights take, and whether the device can hold them: checked from config.json
// before any weight is allocated, so that a model too large for the machine (a typing mistake in
// a config.json, the wrong device) is one line saying how much it needs and how much there is,
// not libtorch's allocator error with its stack frames.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/model_config.h"

namespace duo {

// Bytes of every weight of a model of this shape stored as `dtype`: embeddings, each layer's
// projections (and biases), norms, the final norm, and the LM head unless it is tied or left out
// (with_lm_head false, as LlamaModel::load/random take it). A double, so that absurd shapes
// cannot overflow.
double weight_bytes(const ModelConfig& config, at::ScalarType dtype, bool with_lm_head = true);

// Memory `device` can give a model now: the host's physical memory (or the container's limit,
// when lower) for the CPU; the GPU's free memory for CUDA.
double device_memory_bytes(at::Device device);

// "1.5 GiB", "2.0 TiB": bytes for a message.
std::string format_bytes(double bytes);

// Throws duo::Error naming `config_json` when the weights alone exceed device_memory_bytes.
void check_weights_fit(const ModelConfig& config, at::ScalarType dtype, at::Device device,
                       const std::filesystem::path& config_json, bool with_lm_head = true);

}  // namespace duo
