// Heatmap of the gates: one cell per (layer, KV head), layer 0 at the top as in the reference's
// figure, coloured by gate, retrieval heads of the pattern outlined.
#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/plot.h"
#include "analysis/plot_page.h"

namespace duo::analysis {

namespace {
// Tick spacing that keeps about `target` labelled ticks on an axis of n cells.
int tick_step(int n, int target) { return std::max(1, static_cast<int>(std::ceil(n / static_cast<double>(target)))); }
}  // namespace

void plot_heatmap(const std::filesystem::path& out, ImageFormat format, const GateSet& g, const Pattern& p) {
  PlotPage page(out, format);
  use_gate_colours();
  const int L = g.num_layers, H = g.num_kv_heads;

  plvpor(0.1, 0.80, 0.11, 0.86);
  plwind(-0.5, H - 0.5, L - 0.5, -0.5);  // y reversed: layer 0 at the top
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) {
      plcol1(std::clamp(static_cast<double>(g.at(l, h)), 0.0, 1.0));
      fill_rect(h - 0.5, h + 0.5, l - 0.5, l + 0.5);
    }
  // Outline retrieval heads, inset so neighbouring outlines stay apart.
  plcol0(kMarker);
  plwidth(std::clamp(40.0 / std::max(L, H), 1.0, 3.0));
  const double inset = 0.12;
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h)
      if (p.is_retrieval(l, h)) {
        const PLFLT x[] = {h - 0.5 + inset, h + 0.5 - inset, h + 0.5 - inset, h - 0.5 + inset, h - 0.5 + inset};
        const PLFLT y[] = {l - 0.5 + inset, l - 0.5 + inset, l + 0.5 - inset, l + 0.5 - inset, l - 0.5 + inset};
        plline(5, x, y);
      }
  plwidth(1.0);
  plcol0(kBlack);
  plbox("bcnst", tick_step(H, 16), 1, "bcnstv", tick_step(L, 16), 1);  // no minor ticks inside cells
  draw_axis_labels("KV head", "layer");

  char title[256], subtitle[256];
  std::snprintf(title, sizeof title, "Gates of %s%s", g.model_name.empty() ? "the model" : g.model_name.c_str(),
                g.step >= 0 ? (", step " + std::to_string(g.step)).c_str() : "");
  if (p.threshold)
    std::snprintf(subtitle, sizeof subtitle, "outlined: %d of %d KV heads kept as retrieval heads (sparsity %.2f, gate >= %.3f)",
                  p.retrieval_count(), L * H, p.sparsity, *p.threshold);
  else
    std::snprintf(subtitle, sizeof subtitle, "no retrieval heads (sparsity %.2f)", p.sparsity);
  draw_titles(title, subtitle);
  // The subtitle has no room left for the deployment window.
  draw_note_below("streaming heads keep sink " + std::to_string(p.window.sink) + " + recent " +
                  std::to_string(p.window.recent));

  draw_gate_colour_bar(0.86, 0.89, 0.11, 0.86, "gate (0 = streaming, 1 = retrieval)");
  page.finish();
}

}  // namespace duo::analysis
