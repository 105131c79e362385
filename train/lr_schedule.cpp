#include "lr_schedule.h"

#include <algorithm>

namespace duo {

double LrSchedule::at(int64_t step) const {
  auto warmup = static_cast<int64_t>(double(total_steps) * warmup_frac);
  auto decay = static_cast<int64_t>(double(total_steps) * decay_frac);
  double factor = 1.0;
  if (warmup > 0) factor = std::min(factor, std::max(double(step + 1) / double(warmup), min_ratio));
  if (decay > 0)
    factor = std::min(factor, std::max(double(total_steps - step) / double(decay), min_ratio));
  return lr * factor;
}

}  // namespace duo
