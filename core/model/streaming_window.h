// The window a streaming head keeps: the first `sink` tokens (attention sinks) plus the `recent`
// most recent ones. Training may group positions into blocks of `block_size`, as the reference
// code does; deployment (the mixed KV cache, every export) always works in tokens.
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

// The largest sink or recent any file or option may give (as the training configuration's
// token counts): larger ones are typing mistakes, not windows.
inline constexpr int64_t kMaxWindowTokens = int64_t{1} << 24;

// The DuoAttention paper's deployment window: what a pattern deploys with when nothing records
// the window its gates were trained with.
inline constexpr StreamingWindow kDeploymentWindow{64, 256};

}  // namespace duo
