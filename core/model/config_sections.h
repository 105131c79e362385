// The sections of a configuration that core/model owns (config/schema.h): `model` (which checkpoint
// to load, in which precision, on which device) and `streaming` (the streaming heads' window).
// duo-train's configuration holds both; duo-analyze attention reads them from it. No torch.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "config/schema.h"
#include "model/streaming_window.h"

namespace duo {

enum class Dtype { bf16, fp16, fp32 };
enum class DeviceChoice { automatic, cpu, cuda };  // "auto" | "cpu" | "cuda"

struct ModelSection {
  std::string path;  // Hugging Face checkpoint directory; may come from --model instead
  Dtype dtype = Dtype::bf16;
  DeviceChoice device = DeviceChoice::automatic;
  bool random_config = false;  // build the model from path/config.json with random weights
  uint64_t seed = 42;          // for random weights
  bool operator==(const ModelSection&) const = default;
};

// model.path, model.dtype, model.device, model.random_config, model.seed.
config::Section model_section(ModelSection& model);

// model.path, when set, is a directory (util/path_check.h); `flag` names it in the error
// ("--model" where the command line gave it): "--model expects a checkpoint directory; m/x is a
// file". An empty one is left to whoever loads the model.
void check_model_path(const ModelSection& model, std::string_view flag = "model.path");

// streaming.sink, streaming.recent, streaming.granularity, streaming.block_size: token counts up
// to kMaxWindowTokens.
config::Section streaming_section(StreamingWindow& window);

// Checks between the window's keys: with block granularity, sink and recent are whole blocks.
// Throws duo::Error at `at` ("c3.yaml: streaming.sink: must be a multiple of ...").
void check_streaming(const StreamingWindow& window, const config::Origin& at);

std::string_view to_string(Dtype);
std::string_view to_string(DeviceChoice);
std::string_view to_string(StreamingGranularity);

}  // namespace duo
