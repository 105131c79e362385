// Sweep figures: accuracy against sparsity, the length × depth grid per sparsity beside full
// attention's, and the evaluation tasks' scores against length.
#include "analysis/plot_sweep.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "analysis/plot_page.h"
#include "analysis/sweep_tasks.h"
#include "util/progress.h"

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

namespace {

// One line of a score panel: a pattern's score per length.
struct Series {
  std::string label;
  PLINT colour = kBlack;
  PLINT style = 1;  // PLplot line style: 1 solid, 2 short dashes, 3 long dashes
  std::map<int64_t, double> score;
};

// Full attention, duo and random at each sparsity strictly between 0 and 1 (a colour per
// sparsity, random dashed), every head streaming; over the scores of one task.
std::vector<Series> pattern_series(const std::vector<TaskScore>& scores, const std::set<double>& between) {
  std::vector<Series> out;
  out.push_back({"full attention", kBlack, 1, {}});
  std::map<double, size_t> duo_at, random_at;
  int accent = 0;
  for (double s : between) {
    const PLINT colour = PLINT(kAccent1 + accent++ % kAccentCount);
    duo_at[s] = out.size();
    out.push_back({"duo, s = " + format_number(s, 3), colour, 1, {}});
    random_at[s] = out.size();
    out.push_back({"random, s = " + format_number(s, 3), colour, 2, {}});
  }
  out.push_back({"all streaming", kBlack, 3, {}});
  std::map<std::pair<double, int64_t>, std::pair<double, int64_t>> random_mean;  // over seeds
  for (const auto& t : scores) {
    if (t.method == "random") {
      auto& m = random_mean[{t.sparsity, t.length}];
      m.first += t.score;
      ++m.second;
    } else if (t.sparsity == 0) {
      out.front().score[t.length] = t.score;
    } else if (t.sparsity == 1) {
      out.back().score[t.length] = t.score;
    } else {
      out[duo_at.at(t.sparsity)].score[t.length] = t.score;
    }
  }
  for (const auto& [key, m] : random_mean) out[random_at.at(key.first)].score[key.second] = m.first / double(m.second);
  return out;
}

// Score against length (equally spaced, labelled) in the viewport (x0, x1, y0, y1).
// text_scale: the character height, smaller on a page of many panels.
void draw_score_panel(const std::vector<Series>& series, const std::vector<int64_t>& lengths, double x0, double x1,
                      double y0, double y1, const std::string& title, const std::string& subtitle, bool x_title,
                      bool y_title, double text_scale) {
  plschr(0, text_scale);
  plvpor(x0, x1, y0, y1);
  plwind(-0.3, double(lengths.size()) - 0.7, -0.04, 1.06);
  plcol0(kGrid);
  plbox("", 0, 0, "g", 0.5, 0);
  // Full attention, first in the list, is drawn last: on top where patterns score alike.
  for (auto line_it = series.rbegin(); line_it != series.rend(); ++line_it) {
    const Series& line = *line_it;
    std::vector<PLFLT> x, y;
    for (size_t i = 0; i < lengths.size(); ++i) {
      auto it = line.score.find(lengths[i]);
      if (it == line.score.end()) continue;
      x.push_back(double(i));
      y.push_back(it->second);
    }
    if (x.empty()) continue;
    plcol0(line.colour);
    pllsty(line.style);
    plwidth(2.0);
    plline(PLINT(x.size()), x.data(), y.data());
    plstring(PLINT(x.size()), x.data(), y.data(), "#(850)");  // a dot on every measured length
  }
  pllsty(1);
  plwidth(1.0);
  plcol0(kBlack);
  plbox("bc", 0, 0, "bcnstv", 0.5, 5);
  char label[32];
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::snprintf(label, sizeof label, "%lld", (long long)lengths[i]);
    plmtex("b", 1.3, (double(i) + 0.3) / (double(lengths.size()) - 0.4), 0.5, label);
  }
  plmtex("b", 2.9, 0.5, 0.5, x_title ? "context length (tokens)" : "");
  plmtex("l", 3.8, 0.5, 0.5, y_title ? "score" : "");
  plschr(0, 1.25 * text_scale);
  plmtex("t", subtitle.empty() ? 0.8 : 2.4, 0.5, 0.5, title.c_str());
  plschr(0, 0.85 * text_scale);
  if (!subtitle.empty()) plmtex("t", 0.9, 0.5, 0.5, subtitle.c_str());
  plschr(0, text_scale);
}

void draw_legend(const std::vector<Series>& series, double x0, double x1, double y0, double y1, double text_scale) {
  plschr(0, text_scale);
  plvpor(x0, x1, y0, y1);
  plwind(0, 1, 0, 1);
  const size_t n = series.size();
  std::vector<const char*> names;
  std::vector<PLINT> opts(n, PL_LEGEND_LINE), text_colours(n, kBlack), line_colours, styles;
  std::vector<PLFLT> widths;
  for (const Series& s : series) {
    names.push_back(s.label.c_str());
    line_colours.push_back(s.colour);
    styles.push_back(s.style);
    widths.push_back(2.0);
  }
  PLFLT w = 0, h = 0;
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_TOP | PL_POSITION_LEFT | PL_POSITION_INSIDE,
           0.02, 0.02, 0.1, 0, kBlack, 1, 0, 0, PLINT(n), opts.data(), 1.0, text_scale, 2.0, 0.0, text_colours.data(),
           names.data(), nullptr, nullptr, nullptr, nullptr, line_colours.data(), styles.data(), widths.data(), nullptr,
           nullptr, nullptr, nullptr);
}

// The tasks to draw, in the order of `scores` (task_scores sorts by name) with the average last,
// the lengths, and the sparsities strictly between 0 and 1.
struct Panels {
  std::vector<std::string> tasks;
  std::vector<int64_t> lengths;
  std::set<double> between;
};
Panels panels_of(const std::vector<TaskScore>& scores) {
  Panels p;
  std::set<int64_t> lengths;
  bool average = false;
  for (const auto& t : scores) {
    if (is_grid_task(t.task)) continue;
    if (t.task == kRulerAverage)
      average = true;
    else if (std::find(p.tasks.begin(), p.tasks.end(), t.task) == p.tasks.end())
      p.tasks.push_back(t.task);
    lengths.insert(t.length);
    if (t.sparsity > 0 && t.sparsity < 1) p.between.insert(t.sparsity);
  }
  if (average) p.tasks.push_back(kRulerAverage);
  p.lengths.assign(lengths.begin(), lengths.end());
  return p;
}

std::vector<TaskScore> scores_of(const std::vector<TaskScore>& scores, const std::string& task) {
  std::vector<TaskScore> out;
  for (const auto& t : scores)
    if (t.task == task) out.push_back(t);
  return out;
}

}  // namespace

void plot_sweep_tasks(const std::filesystem::path& out, ImageFormat format, const std::vector<TaskScore>& scores) {
  const Panels p = panels_of(scores);
  // Four panels a row, the legend in a strip on the right; the page grows with the rows.
  const size_t columns = std::min<size_t>(4, std::max<size_t>(1, p.tasks.size()));
  const size_t rows = (p.tasks.size() + columns - 1) / columns;
  const int height = std::max(kPlotHeight, int(rows) * 300 + 60);
  PlotPage page(out, format, 1600, height);
  constexpr double left = 0.05, right = 0.80;
  const double top = 1 - 50.0 / height, bottom = 40.0 / height;
  const double cell_w = (right - left) / double(columns), cell_h = (top - bottom) / double(std::max<size_t>(1, rows));
  constexpr double kText = 0.6;
  std::vector<Series> legend;
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    const size_t row = i / columns, column = i % columns;
    const double x0 = left + double(column) * cell_w, y1 = top - double(row) * cell_h;
    const auto series = pattern_series(scores_of(scores, p.tasks[i]), p.between);
    if (legend.empty()) legend = series;
    const std::string& name = p.tasks[i];
    const std::string title = name == kRulerAverage ? "RULER average" : name.substr(name.find(':') + 1);
    // Room below each panel for its length labels (and the axis title under the lowest panel of
    // a column), above it for its title, left of it for the score labels.
    draw_score_panel(series, p.lengths, x0 + 0.03, x0 + cell_w - 0.015, y1 - cell_h + 60.0 / height, y1 - 35.0 / height,
                     title, "", i + columns >= p.tasks.size(), column == 0, kText);
  }
  if (!legend.empty()) draw_legend(legend, 0.82, 0.99, bottom, top, kText);
  page.finish();
}

void plot_sweep_ruler_average(const std::filesystem::path& out, ImageFormat format,
                              const std::vector<TaskScore>& averages) {
  const Panels p = panels_of(averages);
  const auto series = pattern_series(scores_of(averages, kRulerAverage), p.between);
  PlotPage page(out, format);
  int64_t tasks = 0;
  for (const auto& t : averages) tasks = std::max(tasks, t.count);
  draw_score_panel(series, p.lengths, 0.09, 0.70, 0.11, 0.86, "RULER average",
                   "mean score over the " + std::to_string(tasks) + " RULER tasks swept", true, true, 0.9);
  draw_legend(series, 0.73, 0.99, 0.11, 0.86, 0.8);
  page.finish();
}

}  // namespace duo::analysis
