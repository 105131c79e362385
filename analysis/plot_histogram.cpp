// Histogram of the gates: 20 bins over [0, 1], bars coloured like the heatmap, with the
// near-0 / near-1 bounds of the summary and the pattern's threshold marked.
#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/plot.h"
#include "analysis/plot_page.h"

namespace duo::analysis {

void plot_histogram(const std::filesystem::path& out, ImageFormat format, const GateSet& g, const Pattern& p) {
  PlotPage page(out, format);
  use_gate_colours();
  constexpr int kBins = 20;
  std::vector<int> counts(kBins, 0);
  for (float v : g.gates) counts[std::clamp(static_cast<int>(v * kBins), 0, kBins - 1)]++;
  const int most = *std::max_element(counts.begin(), counts.end());
  const double top = std::max(1.0, most * 1.15);
  // A round tick spacing (1, 2 or 5 times a power of ten) giving about six ticks; whole heads only.
  const double raw = std::max(1.0, top / 6);
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  const double y_tick = raw <= decade ? decade : raw <= 2 * decade ? 2 * decade : raw <= 5 * decade ? 5 * decade : 10 * decade;

  plvpor(0.1, 0.96, 0.11, 0.86);
  plwind(0, 1, 0, top);
  plcol0(kGrid);
  plbox("", 0, 0, "g", y_tick, 0);
  for (int b = 0; b < kBins; ++b) {
    if (counts[b] == 0) continue;
    const double x0 = static_cast<double>(b) / kBins, x1 = static_cast<double>(b + 1) / kBins;
    plcol1((b + 0.5) / kBins);
    fill_rect(x0, x1, 0, counts[b]);
    plcol0(kBlack);
    const PLFLT x[] = {x0, x0, x1, x1}, y[] = {0, static_cast<PLFLT>(counts[b]), static_cast<PLFLT>(counts[b]), 0};
    plline(4, x, y);
  }
  auto vline = [&](double at, int colour, int style) {
    plcol0(colour);
    pllsty(style);
    const PLFLT x[] = {at, at}, y[] = {0, top};
    plline(2, x, y);
    pllsty(1);
  };
  vline(0.1, kGrid, 3);
  vline(0.9, kGrid, 3);
  if (p.threshold) {
    plwidth(2.0);
    vline(*p.threshold, kAccent1, 2);
    plwidth(1.0);
    char label[64];
    std::snprintf(label, sizeof label, "threshold %.3f", *p.threshold);
    plcol0(kAccent1);
    plptex(std::min(*p.threshold + 0.01, 0.8), top * 0.95, 1, 0, 0, label);
  }
  plcol0(kBlack);
  plbox("bcnst", 0.1, 1, "bcnstv", y_tick, 1);
  draw_axis_labels("gate", "KV heads");
  char title[256], subtitle[256];
  std::snprintf(title, sizeof title, "Gate distribution of %s%s", g.model_name.empty() ? "the model" : g.model_name.c_str(),
                g.step >= 0 ? (", step " + std::to_string(g.step)).c_str() : "");
  std::snprintf(subtitle, sizeof subtitle, "%d KV heads; dotted: 0.1 and 0.9; sparsity %.2f keeps %d as retrieval heads",
                g.count(), p.sparsity, p.retrieval_count());
  draw_titles(title, subtitle);
  page.finish();
}

}  // namespace duo::analysis
