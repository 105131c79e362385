// Comparing two sets of gates (two runs, or a run and a published pattern).
#pragma once
#include <cstdint>
#include <vector>

namespace duo::analysis {

// |A ∩ B| / |A ∪ B| over the retrieval heads; 1 when both sets are empty.
double jaccard(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

// Spearman rank correlation: Pearson correlation of the ranks, ties given their average rank.
// 0 when either side is constant (no ranking to compare).
double spearman(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace duo::analysis
