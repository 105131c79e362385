// Numbers that describe a set of gates and how they moved in training.
#pragma once
#include <cstdint>
#include <vector>

#include "history/history_reader.h"

namespace duo::analysis {

// Gates near 0 (< 0.1) are clear streaming heads, near 1 (> 0.9) clear retrieval heads; the
// ones in between are where the choice of sparsity matters.
struct GateStats {
  int near_zero = 0, near_one = 0, in_between = 0;
  double mean = 0, min = 0, max = 0;
};
GateStats gate_stats(const std::vector<float>& gates);

// How much the gates still move at the end of training: over the last `window` steps, the
// largest range (max - min) any single gate covered.
struct Convergence {
  int64_t window = 0;       // steps actually covered (fewer when the history is shorter)
  double max_change = 0;    // largest range of one gate over the window
  int layer = 0, kv_head = 0;  // the gate that moved most
};
Convergence convergence(const HistoryReader& history, int64_t window);

}  // namespace duo::analysis
