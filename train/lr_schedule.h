// The reference learning-rate schedule: linear warm-up over the first warmup_frac of the steps,
// flat, linear decay over the last decay_frac, never below min_ratio × lr.
// factor(step) = min(1, max((step+1)/W, floor), max((N-step)/D, floor)) for step = 0..N-1,
// exactly the reference's LambdaLR (W = D = N // 5 with its defaults).
#pragma once
#include <cstdint>

namespace duo {

struct LrSchedule {
  double lr;
  int64_t total_steps;
  double warmup_frac, decay_frac, min_ratio;

  double at(int64_t step) const;  // the learning rate used by optimizer step `step` (0-based)
};

}  // namespace duo
