// Decoder: the one way duo runs a model as a deployment does, for duo-generate, the sweep and
// the benchmarks alike. A KV cache laid out by a head pattern (MixedKVCacheAttention; every
// head a retrieval head is the dense cache), a prompt prefilled in chunks of a fixed number of
// tokens, then one token at a time: on a GPU whose shapes the decode kernels take, each step
// replayed from a CUDA graph (DecodeGraph), elsewhere the model's ordinary forward pass.
//
// Batch 1; the cache is allocated up front for max_length tokens (prompt and generated ones),
// so its size is known before the first token.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "model/decode_graph.h"
#include "model/head_pattern.h"
#include "model/llama.h"
#include "model/mixed_kv_cache.h"

namespace duo {

class Decoder {
 public:
  struct Options {
    int64_t chunk = 4096;      // prefill chunk, tokens
    bool cuda_graph = true;    // steps through DecodeGraph where available; false: the ordinary forward
    bool fused_matvec = true;  // DecodeGraph's projections through kernels/matvec.h
  };
  // model must outlive this object.
  Decoder(const LlamaModel& model, const HeadPattern& pattern, int64_t max_length, Options options);
  Decoder(const LlamaModel& model, const HeadPattern& pattern, int64_t max_length)
      : Decoder(model, pattern, max_length, Options{}) {}
  // Every KV head a retrieval head: the dense cache.
  static HeadPattern dense_pattern(const ModelConfig& cfg);

  // Feeds ids ([1, T] int64, on any device) at the next position, in chunks. Returns the logits
  // of the last token, [1, vocab]. hidden: if given, receives every token's hidden state after
  // the final norm, [1, T, H].
  at::Tensor prefill(const at::Tensor& ids, at::Tensor* hidden = nullptr);
  // One token at the next position: the logits that follow it, [1, vocab]. A replayed step
  // returns the graph's own output, which the next step overwrites.
  at::Tensor step(int64_t id);
  // Greedy decoding from `logits` (those prefill or step returned): up to max_new tokens,
  // stopping after one of stop_ids (which is kept). Each token but the last is fed back.
  std::vector<int64_t> greedy(at::Tensor logits, int64_t max_new, const std::vector<int64_t>& stop_ids = {});

  int64_t position() const { return cache_.length(); }  // tokens in the cache
  MixedKVCacheAttention& cache() { return cache_; }
  // Set when steps go through DecodeGraph: its counters (replays, eager steps).
  const DecodeGraph* graph() const { return graph_.get(); }

 private:
  const LlamaModel& model_;
  Options options_;
  MixedKVCacheAttention cache_;
  std::unique_ptr<DecodeGraph> graph_;
};

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  bool stop_at_eos = true;            // stop after emitting one of the config's EOS ids
  bool keep_prompt_outputs = false;   // return the prompt's hidden states and logits
  int64_t chunk = 4096;               // prefill chunk, tokens
};

struct Generation {
  std::vector<int64_t> tokens;  // the generated ids, without the prompt
  at::Tensor prompt_hidden;     // [T, H] after the final norm, if kept
  at::Tensor prompt_logits;     // [T, vocab], if kept
};

// Greedy generation with full attention (a Decoder over the dense cache). `prompt` must be
// non-empty and hold ids below the vocabulary size (duo::Error otherwise).
Generation generate_greedy(const LlamaModel& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts);

}  // namespace duo
