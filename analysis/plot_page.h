// One PLplot figure written to one file: picks the cairo driver for the format, sets page size,
// colours and fonts; finish() ends the figure and checks the file PLplot wrote.
#pragma once
#include <filesystem>
#include <string>

#include "analysis/plot.h"

namespace duo::analysis {

// Colour-map-0 indices our figures use (set by PlotPage).
enum PlotColour { kBlack = 1, kGrid = 2, kFaint = 3, kAccent1 = 4, kAccent2 = 5, kAccent3 = 6, kAccent4 = 7,
                  kAccent5 = 8, kMarker = 9 };
inline constexpr int kAccentCount = 5;

class PlotPage {
 public:
  // width x height: pixels (PNG) or points (SVG); figures with many panels take a larger page.
  PlotPage(const std::filesystem::path& out, ImageFormat format, int width = kPlotWidth, int height = kPlotHeight);
  ~PlotPage();  // ends the figure when finish() was not reached (an exception while drawing)
  PlotPage(const PlotPage&) = delete;
  PlotPage& operator=(const PlotPage&) = delete;

  // Ends the figure, which writes the file. PLplot does not report failed writes, so the file is
  // checked: missing, empty or cut short (as on a full disk) is a duo::Error, and the file is removed.
  void finish();

 private:
  std::filesystem::path out_;
  ImageFormat format_;
  bool finished_ = false;
};

// Colour map 1 from blue (gate 0, streaming) through light grey to red (gate 1, retrieval), the
// diverging "coolwarm" map the reference uses for its heatmap.
void use_gate_colours();

// A vertical colour bar for gates in [0, 1] in the viewport (x0, x1, y0, y1), labelled `label`.
void draw_gate_colour_bar(double x0, double x1, double y0, double y1, const std::string& label);

// Title (and an optional smaller subtitle) above the current viewport; restores the text size.
void draw_titles(const std::string& title, const std::string& subtitle);

// A small note below the current viewport's right end, under the x label.
void draw_note_below(const std::string& note);

// Axis labels below and left of the current viewport (closer than pllab's, so they stay on the page).
// y_offset: the y label's distance from the frame in character heights; wider tick labels
// (four-digit lengths) need more.
void draw_axis_labels(const std::string& x_label, const std::string& y_label, double y_offset = 4.2);

// Fills the rectangle [x0, x1] x [y0, y1] (world coordinates) with the current colour.
void fill_rect(double x0, double x1, double y0, double y1);

}  // namespace duo::analysis
