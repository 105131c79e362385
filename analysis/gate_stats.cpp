// Gate statistics and convergence over the last steps of a history.
#include "analysis/gate_stats.h"

#include <algorithm>

namespace duo::analysis {

GateStats gate_stats(const std::vector<float>& gates) {
  GateStats s;
  if (gates.empty()) return s;
  s.min = s.max = gates.front();
  double sum = 0;
  for (float g : gates) {
    if (g < 0.1f) ++s.near_zero;
    else if (g > 0.9f) ++s.near_one;
    else ++s.in_between;
    sum += g;
    s.min = std::min(s.min, static_cast<double>(g));
    s.max = std::max(s.max, static_cast<double>(g));
  }
  s.mean = sum / static_cast<double>(gates.size());
  return s;
}

Convergence convergence(const HistoryReader& history, int64_t window) {
  Convergence c;
  const int64_t rows = history.rows();
  if (rows == 0 || window <= 0) return c;
  const int64_t first = std::max<int64_t>(0, rows - 1 - window);
  c.window = rows - 1 - first;
  const int64_t n = history.gates_per_step();
  const auto& all = history.gates_all();
  for (int64_t i = 0; i < n; ++i) {
    float lo = all[first * n + i], hi = lo;
    for (int64_t r = first + 1; r < rows; ++r) {
      lo = std::min(lo, all[r * n + i]);
      hi = std::max(hi, all[r * n + i]);
    }
    if (hi - lo > c.max_change) {
      c.max_change = hi - lo;
      c.layer = static_cast<int>(i / history.meta().num_kv_heads);
      c.kv_head = static_cast<int>(i % history.meta().num_kv_heads);
    }
  }
  return c;
}

}  // namespace duo::analysis
