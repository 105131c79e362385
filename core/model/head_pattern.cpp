#include "model/head_pattern.h"

#include <string>

#include "util/error.h"

namespace duo {

void check_pattern_fits_model(const std::filesystem::path& source, int64_t num_layers, int64_t num_kv_heads,
                              const ModelConfig& model, const std::filesystem::path& model_config_json) {
  if (num_layers == model.num_hidden_layers && num_kv_heads == model.num_key_value_heads) return;
  throw Error(source, std::to_string(num_layers) + " layers x " + std::to_string(num_kv_heads) +
                          " KV heads, but the model in " + model_config_json.string() + " has " +
                          std::to_string(model.num_hidden_layers) + " x " + std::to_string(model.num_key_value_heads));
}

}  // namespace duo
