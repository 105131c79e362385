// Rotary position embeddings as Hugging Face computes them: inverse frequencies in fp32 (with
// the linear or llama3 scaling of Llama 3.1/3.2), cos/sin of position × frequency in fp32,
// then cast to the activation dtype; rotation by the "rotate half" convention.
#pragma once
#include <ATen/ATen.h>

#include "model/model_config.h"

namespace duo {

// [head_dim / 2] fp32 inverse frequencies on `device`.
at::Tensor rope_inv_freq(const ModelConfig& cfg, at::Device device);

struct RopeCosSin {
  at::Tensor cos, sin;  // [T, head_dim], activation dtype
};

// cos/sin for positions [start_pos, start_pos + T).
RopeCosSin rope_cos_sin(const at::Tensor& inv_freq, int64_t start_pos, int64_t T, at::ScalarType dtype);

// cos/sin for the positions held in `positions` (int64 [T] on inv_freq's device), read there and
// not on the host, so that a CUDA graph can replay it at other positions; the same values as
// rope_cos_sin for the same positions.
RopeCosSin rope_cos_sin_at(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype);

// x: [B, H, T, D] → x·cos + rotate_half(x)·sin.
at::Tensor rope_apply(const at::Tensor& x, const RopeCosSin& cs);

}  // namespace duo
