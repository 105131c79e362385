// Side-by-side heatmaps of per-head measures (layers x KV heads), each with its own colour
// scale: gates beside attention scores (duo-analyze attention). Compiled only with PLplot.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/plot.h"

namespace duo::analysis {

struct HeadPanel {
  std::string title;
  std::string note;               // a smaller second line under the title; may be empty
  std::vector<float> values;      // [layer][kv_head]
  double max = 1.0;               // colour scale [0, max]: blue at 0, red at max
  std::vector<uint8_t> outlined;  // [layer][kv_head]; empty: none
};

// The smallest of 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1 (then whole numbers) that is >= x, so a
// colour scale shows small scores without hiding that they are small (the bar is labelled).
double nice_scale_max(double x);

// One panel per entry, left to right, layer 0 at the top; cell values printed in the cells
// when there are few enough of them to read. Up to two subtitle lines under the title.
void plot_head_panels(const std::filesystem::path& out, ImageFormat format, int num_layers, int num_kv_heads,
                      const std::vector<HeadPanel>& panels, const std::string& title,
                      const std::vector<std::string>& subtitles);

}  // namespace duo::analysis
