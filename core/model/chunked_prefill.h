// Running a prompt through the model the way a deployment does: prefill in chunks of a fixed
// number of tokens, then greedy decoding one token at a time, through any stateful Attention
// (a dense KV cache, or MixedKVCacheAttention for a head pattern).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/attention.h"
#include "model/llama.h"

namespace duo {

// Feeds ids [1, T] in chunks of `chunk` tokens starting at position 0. Returns the logits of
// every position ([1, T, vocab]) when all_logits, else of the last one ([1, 1, vocab]).
at::Tensor prefill_chunked(const LlamaModel& model, Attention& attn, const at::Tensor& ids,
                           int64_t chunk, bool all_logits = false);

// Greedy decoding after a prefill of `start_pos` tokens whose last logits are `last_logits`:
// up to max_new tokens, stopping after an id in stop_ids.
std::vector<int64_t> decode_greedy(const LlamaModel& model, Attention& attn,
                                   const at::Tensor& last_logits, int64_t start_pos,
                                   int64_t max_new, const std::vector<int64_t>& stop_ids = {});

}  // namespace duo
