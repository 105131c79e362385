// Sweep figures: accuracy against sparsity, and the length × depth grid per sparsity beside full
// attention's.
#include "analysis/plot_sweep.h"

#include <plplot.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "analysis/plot_page.h"

namespace duo::analysis {

namespace {
// Hershey glyphs, the same in the plot and in its legend.
constexpr const char* kDuoSymbol = "#(728)";     // star
constexpr const char* kRandomSymbol = "#(225)";  // plus
}  // namespace

void plot_sweep_accuracy(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows) {
  // Mean exact match per (method, seed, sparsity).
  std::map<std::tuple<std::string, int64_t, double>, std::pair<double, int64_t>> acc;
  for (const auto& r : rows) {
    auto& a = acc[{r.method, r.seed, r.sparsity}];
    a.first += r.exact;
    ++a.second;
  }
  std::map<double, double> duo;
  std::map<double, std::vector<double>> random;
  for (const auto& [key, a] : acc) {
    const auto& [method, seed, sparsity] = key;
    const double accuracy = a.first / double(a.second);
    if (method == "duo")
      duo[sparsity] = accuracy;
    else
      random[sparsity].push_back(accuracy);
  }

  PlotPage page(out, format);
  plvpor(0.1, 0.96, 0.11, 0.88);
  plwind(-0.02, 1.02, -0.02, 1.05);
  plcol0(kGrid);
  plbox("g", 0.1, 0, "g", 0.1, 0);
  plwidth(2.4);
  if (!random.empty()) {
    std::vector<PLFLT> x, mean, lo, hi;
    for (const auto& [s, v] : random) {
      double m = 0;
      for (double a : v) m += a;
      x.push_back(s);
      mean.push_back(m / double(v.size()));
      lo.push_back(*std::min_element(v.begin(), v.end()));
      hi.push_back(*std::max_element(v.begin(), v.end()));
    }
    plcol0(kAccent1);
    plline(PLINT(x.size()), x.data(), mean.data());
    plerry(PLINT(x.size()), x.data(), lo.data(), hi.data());
    plstring(PLINT(x.size()), x.data(), mean.data(), kRandomSymbol);
  }
  std::vector<PLFLT> x, y;
  for (const auto& [s, a] : duo) {
    x.push_back(s);
    y.push_back(a);
  }
  plcol0(kAccent2);
  plline(PLINT(x.size()), x.data(), y.data());
  plstring(PLINT(x.size()), x.data(), y.data(), kDuoSymbol);
  plwidth(1.0);
  plcol0(kBlack);
  plbox("bcnst", 0.1, 0, "bcnstv", 0.1, 0);
  draw_axis_labels("sparsity (fraction of KV heads streaming)", "exact-match accuracy");
  draw_titles("Accuracy against sparsity", "duo's patterns vs heads chosen at random (mean and range over seeds)");

  const char* names[] = {"duo", "random heads"};
  PLINT opts[] = {PL_LEGEND_LINE | PL_LEGEND_SYMBOL, PL_LEGEND_LINE | PL_LEGEND_SYMBOL};
  PLINT text_colours[] = {kBlack, kBlack}, line_colours[] = {kAccent2, kAccent1}, styles[] = {1, 1};
  PLINT symbol_colours[] = {kAccent2, kAccent1}, symbol_numbers[] = {1, 1};
  PLFLT widths[] = {2.4, 2.4}, symbol_scales[] = {1.0, 1.0};
  const char* symbols[] = {kDuoSymbol, kRandomSymbol};
  PLFLT w = 0, h = 0;
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_BOTTOM | PL_POSITION_LEFT | PL_POSITION_INSIDE,
           0.02, 0.02, 0.08, 0, kBlack, 1, 0, 0, random.empty() ? 1 : 2, opts, 1.0, 1.0, 2.0, 0.0, text_colours, names,
           nullptr, nullptr, nullptr, nullptr, line_colours, styles, widths, symbol_colours, symbol_scales,
           symbol_numbers, symbols);
  page.finish();
}

namespace {

// Mean exact match of duo's pattern per (length, depth) cell at one sparsity.
using CellAccuracy = std::map<std::pair<int64_t, double>, double>;
CellAccuracy cell_accuracy(const std::vector<SweepRow>& rows, double sparsity) {
  std::map<std::pair<int64_t, double>, std::pair<double, int64_t>> acc;
  for (const auto& r : rows) {
    if (r.method != "duo" || r.sparsity != sparsity) continue;
    auto& a = acc[{r.length, r.depth}];
    a.first += r.exact;
    ++a.second;
  }
  CellAccuracy out;
  for (const auto& [cell, a] : acc) out[cell] = a.first / double(a.second);
  return out;
}

// One length × depth heatmap in the viewport x0..x1 (the figure's common y range), over the
// lengths L and depths D of the whole figure; cells without results stay blank.
void draw_grid_panel(const CellAccuracy& cells, const std::vector<int64_t>& L, const std::vector<double>& D, double x0,
                     double x1, const std::string& title, const std::string& subtitle, bool y_title = true) {
  plvpor(x0, x1, 0.11, 0.86);
  plwind(-0.5, double(D.size()) - 0.5, -0.5, double(L.size()) - 0.5);
  for (size_t i = 0; i < L.size(); ++i)
    for (size_t j = 0; j < D.size(); ++j) {
      auto it = cells.find({L[i], D[j]});
      if (it == cells.end()) continue;
      plcol1(it->second);
      fill_rect(double(j) - 0.5, double(j) + 0.5, double(i) - 0.5, double(i) + 0.5);
    }
  plcol0(kBlack);
  plbox("bc", 0, 0, "bc", 0, 0);
  char label[64];
  for (size_t j = 0; j < D.size(); ++j) {
    std::snprintf(label, sizeof label, "%.2f", D[j]);
    plmtex("b", 1.5, (double(j) + 0.5) / double(D.size()), 0.5, label);
  }
  for (size_t i = 0; i < L.size(); ++i) {
    std::snprintf(label, sizeof label, "%lld", (long long)L[i]);
    plmtex("lv", 1.0, (double(i) + 0.5) / double(L.size()), 1.0, label);
  }
  draw_axis_labels("needle depth", y_title ? "context length (tokens)" : "", 5.5);
  draw_titles(title, subtitle);
}

}  // namespace

void plot_sweep_grid(const std::filesystem::path& out, ImageFormat format, const std::vector<SweepRow>& rows,
                     double sparsity) {
  const CellAccuracy cells = cell_accuracy(rows, sparsity);
  // Full attention's grid beside it, when the sweep has sparsity 0 and this is another one.
  const CellAccuracy full = sparsity != 0 ? cell_accuracy(rows, 0) : CellAccuracy{};
  std::set<int64_t> lengths;
  std::set<double> depths;
  for (const CellAccuracy* c : {&cells, &full})
    for (const auto& [cell, accuracy] : *c) {
      lengths.insert(cell.first);
      depths.insert(cell.second);
    }
  const std::vector<int64_t> L(lengths.begin(), lengths.end());
  const std::vector<double> D(depths.begin(), depths.end());

  PlotPage page(out, format);
  use_gate_colours();  // blue (0) to red (1)
  char title[128];
  std::snprintf(title, sizeof title, "duo's pattern at sparsity %.2f", sparsity);
  if (full.empty()) {
    draw_grid_panel(cells, L, D, 0.13, 0.80, title, sparsity == 0 ? "sparsity 0: full attention" : "exact match per cell");
  } else {
    draw_grid_panel(full, L, D, 0.11, 0.45, "Full attention", "sparsity 0: exact match per cell");
    draw_grid_panel(cells, L, D, 0.54, 0.86, title, "exact match per cell", /*y_title=*/false);
  }
  draw_gate_colour_bar(0.88, 0.91, 0.11, 0.86, "exact-match accuracy");
  page.finish();
}

}  // namespace duo::analysis
