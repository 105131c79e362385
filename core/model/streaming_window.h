// The window a streaming head keeps (StreamingWindow: sink + recent tokens, kernels/
// streaming_window.h), with the bounds any file or option may give it and the deployment
// default.
#pragma once
#include <cstdint>

// By its path from here: also readers that do not link the kernels (the gate-history reader needs
// only kMaxWindowTokens) find it.
#include "../../kernels/streaming_window.h"

namespace duo {

// The largest sink or recent any file or option may give (as the training configuration's
// token counts): larger ones are typing mistakes, not windows.
inline constexpr int64_t kMaxWindowTokens = int64_t{1} << 24;

// The DuoAttention paper's deployment window: what a pattern deploys with when nothing records
// the window its gates were trained with.
inline constexpr StreamingWindow kDeploymentWindow{64, 256};

// The reference's training window (mit-han-lab/duo-attention): 128 sink + 256 recent tokens in
// 128-token blocks; the streaming section's default in duo-train's configuration.
inline constexpr StreamingWindow kTrainingWindow{128, 256, StreamingGranularity::block, 128};

}  // namespace duo
