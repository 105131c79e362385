// Gate trajectories over training: every head faint, the borderline heads (final gate closest to
// the pattern's threshold) in colour with their names at the right edge.
#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "analysis/plot.h"
#include "analysis/plot_page.h"

namespace duo::analysis {

void plot_trajectories(const std::filesystem::path& out, ImageFormat format, const HistoryReader& history,
                       const Pattern& p) {
  PlotPage page(out, format);
  const int64_t rows = history.rows();
  const int64_t n = history.gates_per_step();
  const int H = history.meta().num_kv_heads;
  // At most ~600 points per line: finer than the figure resolves, and it keeps the SVG of a
  // 1024-head, 2000-step run small. The last step is always drawn.
  const int64_t stride = std::max<int64_t>(1, (rows + 599) / 600);
  std::vector<int64_t> picked;
  for (int64_t r = 0; r < rows; r += stride) picked.push_back(r);
  if (picked.back() != rows - 1) picked.push_back(rows - 1);
  const auto points = static_cast<PLINT>(picked.size());
  std::vector<PLFLT> x(points), y(points);
  for (PLINT k = 0; k < points; ++k) x[k] = static_cast<PLFLT>(history.steps()[picked[k]]);
  const double x0 = x.front(), x1 = rows > 1 ? x.back() : x.front() + 1;

  plvpor(0.1, 0.87, 0.11, 0.86);
  plwind(x0, x1, -0.03, 1.03);
  plcol0(kGrid);
  plbox("g", 0, 0, "g", 0.1, 0);
  auto series = [&](int64_t i) {
    for (PLINT k = 0; k < points; ++k) y[k] = history.gates_all()[picked[k] * n + i];
  };
  plcol0(kFaint);
  for (int64_t i = 0; i < n; ++i) {
    series(i);
    plline(points, x.data(), y.data());
  }

  // Borderline heads: the final gates nearest the threshold (0.5 when there is none).
  const double threshold = p.threshold.value_or(0.5);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  const auto last = history.gates_at(rows - 1);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::abs(last[a] - threshold) < std::abs(last[b] - threshold);
  });
  const int highlighted = static_cast<int>(std::min<int64_t>(kAccentCount, n));
  order.resize(highlighted);
  // Labels sit at the right edge at their line's final height, pushed apart so they never overlap.
  std::vector<std::pair<double, int64_t>> labels;
  plwidth(2.5);
  for (int k = 0; k < highlighted; ++k) {
    series(order[k]);
    plcol0(kAccent1 + k);
    plline(points, x.data(), y.data());
    labels.push_back({y.back(), order[k]});
  }
  plwidth(1.0);
  std::sort(labels.begin(), labels.end());
  std::vector<double> pos(labels.size());
  const double min_gap = 0.05;
  for (size_t k = 0; k < labels.size(); ++k) {
    pos[k] = (labels[k].first + 0.03) / 1.06;
    if (k > 0) pos[k] = std::max(pos[k], pos[k - 1] + min_gap);
  }
  for (size_t k = labels.size(); k-- > 0;)  // then down from the top, so none leaves the frame
    pos[k] = std::min(pos[k], k + 1 < labels.size() ? pos[k + 1] - min_gap : 0.98);
  for (size_t k = 0; k < labels.size(); ++k) {
    const int64_t i = labels[k].second;
    const int rank = static_cast<int>(std::find(order.begin(), order.end(), i) - order.begin());
    char name[48];
    std::snprintf(name, sizeof name, "L%lld kv%lld", static_cast<long long>(i / H), static_cast<long long>(i % H));
    plcol0(kAccent1 + rank);
    plmtex("rv", 0.8, pos[k], 0.0, name);
  }

  if (p.threshold) {
    plcol0(kBlack);
    pllsty(2);
    const PLFLT tx[] = {x0, x1}, ty[] = {*p.threshold, *p.threshold};
    plline(2, tx, ty);
    pllsty(1);
  }
  plcol0(kBlack);
  plbox("bcnst", 0, 0, "bcnstv", 0.2, 2);
  char title[256], subtitle[256];
  std::snprintf(title, sizeof title, "Gate trajectories of %s", history.meta().model_name.c_str());
  std::snprintf(subtitle, sizeof subtitle,
                "%lld gates; coloured: the %d ending closest to the threshold %.3f (dashed) of sparsity %.2f",
                static_cast<long long>(n), highlighted, threshold, p.sparsity);
  draw_axis_labels("training step", "gate");
  draw_titles(title, subtitle);
  page.finish();
}

}  // namespace duo::analysis
