// The window a streaming head keeps: the first `sink` tokens (attention sinks) plus the `recent`
// most recent ones. Training may group positions into blocks of `block_size`, as the reference
// code does; deployment (the mixed KV cache, every export) always works in tokens. Defined here,
// with the kernels that compute attention over it (streaming_attention.h), so that they need no
// model code; core/model/streaming_window.h adds the bounds and the deployment default.
#pragma once
#include <cstdint>

namespace duo {

enum class StreamingGranularity { token, block };

struct StreamingWindow {
  int64_t sink = 128;
  int64_t recent = 256;
  StreamingGranularity granularity = StreamingGranularity::token;
  int64_t block_size = 128;
  bool operator==(const StreamingWindow&) const = default;
};

}  // namespace duo
