// Heatmap panels of per-head measures, drawn like plot_heatmap's gate heatmap (same colours,
// layer 0 at the top) but several to a page, each with its own labelled colour bar.
#include "analysis/plot_heads.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/plot_page.h"

namespace duo::analysis {

namespace {
int tick_step(int n, int target) { return std::max(1, static_cast<int>(std::ceil(n / static_cast<double>(target)))); }
// Width of a digit in pixels at character size 1 on our page (measured: about 8.7 px at 0.7).
constexpr double kCharPx = 12.5;
}  // namespace

double nice_scale_max(double x) {
  for (double v : {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0})
    if (x <= v) return v;
  return std::ceil(x);
}

void plot_head_panels(const std::filesystem::path& out, ImageFormat format, int L, int H,
                      const std::vector<HeadPanel>& panels, const std::string& title,
                      const std::vector<std::string>& subtitles) {
  PlotPage page(out, format);
  use_gate_colours();
  const int n = static_cast<int>(panels.size());
  const double left = 0.06, right = 0.98, bottom = 0.11, top = 0.75;
  plvpor(left, right, bottom, 0.83);
  plcol0(kBlack);
  plschr(0, 1.2);
  // The title sits above the subtitle lines, each 1.5 (small) character heights apart.
  plmtex("t", subtitles.empty() ? 1.5 : 2.4 + 1.2 * double(subtitles.size() - 1), 0.5, 0.5, title.c_str());
  plschr(0, 0.8);
  for (size_t i = 0; i < subtitles.size(); ++i)
    plmtex("t", 1.2 + 1.5 * double(subtitles.size() - 1 - i), 0.5, 0.5, subtitles[i].c_str());
  plschr(0, 0.9);

  const double slot = (right - left) / std::max(1, n);
  const bool label_cells = L * H <= 128;
  for (int i = 0; i < n; ++i) {
    const HeadPanel& p = panels[size_t(i)];
    const double x0 = left + i * slot + 0.035, x1 = left + (i + 1) * slot - 0.085;
    const double max = p.max > 0 ? p.max : 1.0;

    plvpor(x0, x1, bottom, top);
    plwind(-0.5, H - 0.5, L - 0.5, -0.5);  // y reversed: layer 0 at the top
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        plcol1(std::clamp(static_cast<double>(p.values[size_t(l) * H + h]) / max, 0.0, 1.0));
        fill_rect(h - 0.5, h + 0.5, l - 0.5, l + 0.5);
      }
    if (!p.outlined.empty()) {
      plcol0(kMarker);
      plwidth(std::clamp(40.0 / std::max(L, H), 1.0, 3.0));
      const double inset = 0.12;
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
          if (p.outlined[size_t(l) * H + h]) {
            const PLFLT x[] = {h - 0.5 + inset, h + 0.5 - inset, h + 0.5 - inset, h - 0.5 + inset, h - 0.5 + inset};
            const PLFLT y[] = {l - 0.5 + inset, l - 0.5 + inset, l + 0.5 - inset, l + 0.5 - inset, l - 0.5 + inset};
            plline(5, x, y);
          }
      plwidth(1.0);
    }
    // Cell values at a size that fits six characters into a cell, none when that would be
    // unreadable.
    const double cell_px = (x1 - x0) * kPlotWidth / H;
    const double text_size = std::min(0.7, 0.85 * cell_px / (6 * kCharPx));
    if (label_cells && text_size >= 0.4) {
      plcol0(kBlack);
      plschr(0, text_size);
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) {
          char text[32];
          const double v = p.values[size_t(l) * H + h];
          std::snprintf(text, sizeof text, v >= 0.01 || v == 0 ? "%.3f" : v >= 1e-4 ? "%.4f" : "%.1e", v);
          plptex(h, l + 0.1, 1, 0, 0.5, text);
        }
      plschr(0, 0.9);
    }
    plcol0(kBlack);
    plbox("bcnst", tick_step(H, 8), 1, "bcnstv", tick_step(L, 16), 1);
    draw_axis_labels("KV head", i == 0 ? "layer" : "");
    plschr(0, 0.85);
    plmtex("t", p.note.empty() ? 1.2 : 2.3, 0.5, 0.5, p.title.c_str());
    if (!p.note.empty()) {
      plschr(0, std::min(0.7, 0.8 * slot * kPlotWidth / (double(p.note.size()) * kCharPx)));
      plmtex("t", 0.9, 0.5, 0.5, p.note.c_str());
    }
    plschr(0, 0.9);

    // Colour bar for [0, max].
    plvpor(x1 + 0.012, x1 + 0.027, bottom, top);
    plwind(0, 1, 0, max);
    constexpr int kSlices = 128;
    for (int s = 0; s < kSlices; ++s) {
      plcol1((s + 0.5) / kSlices);
      fill_rect(0, 1, max * s / kSlices, max * (s + 1) / kSlices);
    }
    // Ticks and labels by hand: PLplot would move a common factor (x10^-2) above the bar.
    plcol0(kBlack);
    plbox("bc", 0, 0, "bcst", max / 5, 1);
    plschr(0, 0.75);
    for (int t = 0; t <= 5; ++t) {
      char label[32];
      std::snprintf(label, sizeof label, max >= 1 ? "%.1f" : max >= 0.1 ? "%.2f" : "%.3f", max * t / 5);
      plmtex("rv", 0.6, t / 5.0, 0.0, label);
    }
    plschr(0, 0.9);
  }
  page.finish();
}

}  // namespace duo::analysis
