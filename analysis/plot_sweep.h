// Figures of a sparsity sweep (PLplot, PNG/SVG; compiled only with DUO_WITH_PLPLOT).
#pragma once
#include <filesystem>
#include <vector>

#include "analysis/plot.h"
#include "analysis/sweep.h"

namespace duo::analysis {

// Exact-match accuracy against sparsity: duo's patterns, and random heads at the same sparsity
// (mean over seeds, with the range of the seeds' accuracies as error bars).
void plot_sweep_accuracy(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows);

// Needle-in-a-haystack grid of duo's pattern at one sparsity: context length × needle depth,
// coloured by exact-match accuracy; beside full attention's grid (sparsity 0) when the rows hold
// it and this sparsity is another.
void plot_sweep_grid(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows,
                     double sparsity);

}  // namespace duo::analysis
