// Figures of a run, drawn with PLplot's cairo drivers (PNG and SVG). Compiled only when PLplot
// was found (DUO_WITH_PLPLOT).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"
#include "history/history_reader.h"

namespace duo::analysis {

enum class ImageFormat { png, svg };
// Size of every figure, in pixels (PNG) or points (SVG).
inline constexpr int kPlotWidth = 1100, kPlotHeight = 750;

// Layers x KV heads, coloured by gate, with the pattern's retrieval heads outlined.
void plot_heatmap(const std::filesystem::path& out, ImageFormat format, const GateSet& gates, const Pattern& pattern);

// Every gate over the training steps, one faint line per head; the heads whose final gate lies
// closest to the pattern's threshold (the borderline choices) are drawn in colour and labelled.
void plot_trajectories(const std::filesystem::path& out, ImageFormat format, const HistoryReader& history,
                       const Pattern& final_pattern);

// loss/total, loss/distill and loss/reg over the steps (log scale when they span decades).
void plot_losses(const std::filesystem::path& out, ImageFormat format, const HistoryReader& history);

// How many heads have which gate, in 20 bins over [0, 1], with the threshold marked.
void plot_histogram(const std::filesystem::path& out, ImageFormat format, const GateSet& gates, const Pattern& pattern);

}  // namespace duo::analysis
