#include "streaming_mask.h"

namespace duo {

at::Tensor streaming_mask(const StreamingWindow& w, int64_t T, at::Device device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  auto pos = at::arange(T, opts);
  auto qi = pos.unsqueeze(1);  // [T, 1]
  auto kj = pos.unsqueeze(0);  // [1, T]
  auto causal = kj.le(qi);
  if (w.granularity == StreamingGranularity::token) {
    return causal.logical_and(kj.lt(w.sink).logical_or((qi - kj).lt(w.recent)));
  }
  auto qb = qi.div(w.block_size, "floor");
  auto kb = kj.div(w.block_size, "floor");
  int64_t sink_blocks = w.sink / w.block_size;
  int64_t recent_blocks = w.recent / w.block_size;
  return causal.logical_and(kb.lt(sink_blocks).logical_or((qb - kb).lt(recent_blocks)));
}

}  // namespace duo
