#include "model/config_sections.h"

#include "util/path_check.h"

namespace duo {

config::Section model_section(ModelSection& m) {
  using namespace config;
  return {"model",
          {text("path", m.path, Empty::allowed),
           choice("dtype", m.dtype, {Dtype::bf16, Dtype::fp16, Dtype::fp32}),
           choice("device", m.device, {DeviceChoice::automatic, DeviceChoice::cpu, DeviceChoice::cuda}),
           flag("random_config", m.random_config),
           integer("seed", m.seed)}};
}

void check_model_path(const ModelSection& m, std::string_view flag) {
  if (!m.path.empty())
    require_directory(m.path, flag, m.random_config ? "a directory holding config.json" : "a checkpoint directory");
}

config::Section streaming_section(StreamingWindow& w) {
  using namespace config;
  return {"streaming",
          {integer("sink", w.sink, 0, kMaxWindowTokens),
           integer("recent", w.recent, 1, kMaxWindowTokens),
           choice("granularity", w.granularity, {StreamingGranularity::token, StreamingGranularity::block}),
           integer("block_size", w.block_size, 1, kMaxWindowTokens)}};
}

void check_streaming(const StreamingWindow& w, const config::Origin& at) {
  if (w.granularity != StreamingGranularity::block) return;
  const std::string blocks =
      " (" + std::to_string(w.block_size) + ") when streaming.granularity is block";
  if (w.sink % w.block_size != 0) config::fail(at, "streaming.sink", "must be a multiple of streaming.block_size" + blocks);
  if (w.recent % w.block_size != 0)
    config::fail(at, "streaming.recent", "must be a multiple of streaming.block_size" + blocks);
}

std::string_view to_string(Dtype v) {
  switch (v) {
    case Dtype::bf16: return "bf16";
    case Dtype::fp16: return "fp16";
    case Dtype::fp32: return "fp32";
  }
  return "?";
}

std::string_view to_string(DeviceChoice v) {
  switch (v) {
    case DeviceChoice::automatic: return "auto";
    case DeviceChoice::cpu: return "cpu";
    case DeviceChoice::cuda: return "cuda";
  }
  return "?";
}

std::string_view to_string(StreamingGranularity v) { return v == StreamingGranularity::token ? "token" : "block"; }

}  // namespace duo
