// Head scores in seconds, without training: NVIDIA kvpress's on-the-fly scoring for its
// DuoAttention press (duo_attention_on_the_fly, used when no trained pattern exists for a
// model). For each sample and layer, the layer input's mean query and mean key per head
// (after the input norm and projections, and Qwen3's q/k norms, before RoPE) are repeated at
// positions 0 .. q_len − 1 and rotated; the last position's query attends to those q_len keys,
// and a head's score is the area under its cumulated attention curve, mean over the keys of
// cumsum(softmax): near 1 when the attention sits on the most distant keys, near 0 when on the
// nearest (what a streaming head keeps). Mean over a KV head's query heads and over samples.
#pragma once
#include <cstdint>
#include <vector>

#include "model/llama.h"

namespace duo::analysis {

// samples: token ids, each run as one sequence from position 0. Returns [layer][kv_head]
// row-major, each in [0, 1].
std::vector<float> on_the_fly_scores(const LlamaModel& model, const std::vector<std::vector<int32_t>>& samples,
                                     int64_t q_len);

}  // namespace duo::analysis
