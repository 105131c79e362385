// Greedy generation: one prefill over the prompt, then one token at a time, always taking the
// most likely next token. On a GPU whose shapes the decode kernels take (DecodeGraph::available)
// the KV cache is allocated for prompt + max_new_tokens up front and each token is replayed
// from a CUDA graph; elsewhere a dense cache grows with the tokens and steps run eagerly.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/llama.h"

namespace duo {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  bool stop_at_eos = true;            // stop after emitting one of the config's EOS ids
  bool keep_prompt_outputs = false;   // return the prompt's hidden states and logits
};

struct Generation {
  std::vector<int64_t> tokens;  // the generated ids, without the prompt
  at::Tensor prompt_hidden;     // [T, H] after the final norm, if kept
  at::Tensor prompt_logits;     // [T, vocab], if kept
};

// `prompt` must be non-empty and hold ids below the vocabulary size (duo::Error otherwise).
Generation generate_greedy(const LlamaModel& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts);

}  // namespace duo
