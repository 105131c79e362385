// The Λ-shaped mask of a streaming head: query i may attend key j when j <= i and j is one of
// the first `sink` tokens or one of the `recent` most recent (i - j < recent).
// Block granularity follows the reference code: positions are grouped in blocks of
// `block_size`; query block b sees key block c when c <= b and (c < sink/block_size or
// b - c < recent/block_size), with the usual causal mask inside the diagonal block.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "model/streaming_window.h"

namespace duo {

// Boolean [T, T] tensor, true where attention is allowed, for T tokens at positions 0..T-1.
at::Tensor streaming_mask(const StreamingWindow& window, int64_t T, at::Device device);

}  // namespace duo
