// Loss curves: total, distillation and regularisation loss over the training steps.
#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "analysis/plot.h"
#include "analysis/plot_page.h"

namespace duo::analysis {

void plot_losses(const std::filesystem::path& out, ImageFormat format, const HistoryReader& history) {
  PlotPage page(out, format);
  const int64_t rows = history.rows();
  const std::vector<double>* series[] = {&history.loss_total(), &history.loss_distill(), &history.loss_reg()};
  const char* names[] = {"total", "distillation", "regularisation"};
  const int colours[] = {kBlack, kAccent2, kAccent1};

  double lo = INFINITY, hi = -INFINITY;
  for (const auto* s : series)
    for (double v : *s)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  // The distillation loss typically falls by orders of magnitude; a log axis shows all of it.
  const bool log_scale = lo > 0 && hi / lo > 50;
  auto map = [&](double v) { return log_scale ? std::log10(v) : v; };
  double y0 = map(lo), y1 = map(hi);
  const double pad = (y1 - y0) * 0.06 + (y1 == y0 ? 0.5 : 0);
  y0 -= pad;
  y1 += pad;

  std::vector<PLFLT> x(rows), y(rows);
  for (int64_t r = 0; r < rows; ++r) x[r] = static_cast<PLFLT>(history.steps()[r]);
  const double x0 = x.front(), x1 = rows > 1 ? x.back() : x.front() + 1;
  plvpor(0.1, 0.96, 0.11, 0.88);
  plwind(x0, x1, y0, y1);
  plcol0(kGrid);
  plbox("g", 0, 0, log_scale ? "gl" : "g", 0, 0);
  plwidth(2.2);
  for (int k = 0; k < 3; ++k) {
    for (int64_t r = 0; r < rows; ++r) y[r] = map((*series[k])[r]);
    plcol0(colours[k]);
    plline(static_cast<PLINT>(rows), x.data(), y.data());
  }
  plwidth(1.0);
  plcol0(kBlack);
  plbox("bcnst", 0, 0, log_scale ? "bcnstvl" : "bcnstv", 0, 0);
  draw_axis_labels("training step", log_scale ? "loss (log scale)" : "loss");
  char title[256];
  std::snprintf(title, sizeof title, "Training loss of %s", history.meta().model_name.c_str());
  draw_titles(title, "");

  PLINT opts[3], text_colours[3], line_colours[3], line_styles[3];
  PLFLT line_widths[3];
  for (int k = 0; k < 3; ++k) {
    opts[k] = PL_LEGEND_LINE;
    text_colours[k] = kBlack;
    line_colours[k] = colours[k];
    line_styles[k] = 1;
    line_widths[k] = 2.2;
  }
  PLFLT width = 0, height = 0;
  pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, kBlack, 1, 0, 0, 3, opts,
           1.0, 1.0, 2.0, 0.0, text_colours, names, nullptr, nullptr, nullptr, nullptr, line_colours, line_styles,
           line_widths, nullptr, nullptr, nullptr, nullptr);
  page.finish();
}

}  // namespace duo::analysis
