// A deployable head pattern: which KV heads of each layer keep the full KV cache (retrieval
// heads) and which keep only the window's `sink` initial + `recent` most recent tokens
// (streaming heads). A GQA group follows its KV head. Deployment counts the window in tokens.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "model/model_config.h"
#include "model/streaming_window.h"

namespace duo {

struct HeadPattern {
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  std::vector<uint8_t> retrieval;  // [layer * num_kv_heads + kv_head]: 1 = full cache
  StreamingWindow window = kDeploymentWindow;

  bool is_retrieval(int64_t layer, int64_t kv_head) const {
    return retrieval[layer * num_kv_heads + kv_head] != 0;
  }
  // Every head full (sparsity 0) or every head streaming (sparsity 1), with a token window.
  static HeadPattern uniform(int64_t num_layers, int64_t num_kv_heads, bool retrieval,
                             int64_t sink, int64_t recent);
};

// Throws duo::Error unless a pattern's (or gates') `num_layers` x `num_kv_heads`, read from
// `source`, are those of the model whose config.json `model_config_json` gave `model`; one line
// naming both shapes and both files:
//   "pattern.json: 32 layers x 8 KV heads, but the model in /m/config.json has 28 x 4"
// Every command that applies a pattern or gate file to a checkpoint checks it with this, before
// the weights load.
void check_pattern_fits_model(const std::filesystem::path& source, int64_t num_layers, int64_t num_kv_heads,
                              const ModelConfig& model, const std::filesystem::path& model_config_json);

}  // namespace duo
