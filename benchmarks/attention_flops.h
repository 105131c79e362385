// The work attention does, for the benchmarks' TFLOP/s: query-key pairs attended, summed over
// the T queries of a sequence at positions 0..T-1. One pair costs 4·D FLOPs per query head in
// the forward pass (q·k and p·v, multiply-adds counting 2).
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/streaming_window.h"

namespace duo::bench {

inline double causal_pairs(int64_t T) { return double(T) * double(T + 1) / 2; }

// Per query: its window, plus the sink keys outside it.
inline double window_pairs(const StreamingWindow& w, int64_t T) {
  double pairs = 0;
  for (int64_t i = 0; i < T; ++i) {
    if (w.granularity == StreamingGranularity::token) {
      pairs += double(std::min(i + 1, w.recent) + std::min(w.sink, std::max<int64_t>(0, i - w.recent + 1)));
    } else {
      const int64_t bs = w.block_size, sb = w.sink / bs, rb = w.recent / bs;
      const int64_t first_window_block = std::max<int64_t>(0, i / bs - rb + 1);
      pairs += double(i + 1 - first_window_block * bs) + double(std::min(sb, first_window_block) * bs);
    }
  }
  return pairs;
}

}  // namespace duo::bench
