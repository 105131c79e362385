// Figures of a sparsity sweep (PLplot, PNG/SVG; compiled only with DUO_WITH_PLPLOT).
#pragma once
#include <filesystem>
#include <vector>

#include "analysis/plot.h"
#include "analysis/sweep.h"
#include "analysis/sweep_scores.h"

namespace duo::analysis {

// Exact-match accuracy against sparsity: duo's patterns, and random heads at the same sparsity
// (mean over seeds, with the range of the seeds' accuracies as error bars).
void plot_sweep_accuracy(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows);

// Needle-in-a-haystack grid of duo's pattern at one sparsity: context length × needle depth,
// coloured by exact-match accuracy; beside full attention's grid (sparsity 0) when the rows hold
// it and this sparsity is another.
void plot_sweep_grid(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows,
                     double sparsity);

// One panel per evaluation task in `scores` (task_scores' rows, passkey/niah left out) and, when
// there are RULER tasks, a last panel of their average (ruler_averages' rows, also in `scores`):
// score against context length for full attention (sparsity 0), duo's pattern at each sparsity
// between 0 and 1, random heads there (mean over seeds, dashed, the same colour) and every head
// streaming (sparsity 1).
void plot_sweep_tasks(const std::filesystem::path& out, ImageFormat format, const std::vector<TaskScore>& scores);

// The RULER average alone, as the last panel of plot_sweep_tasks, on its own page.
void plot_sweep_ruler_average(const std::filesystem::path& out, ImageFormat format,
                              const std::vector<TaskScore>& averages);

}  // namespace duo::analysis
