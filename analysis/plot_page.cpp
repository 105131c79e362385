// PLplot page setup shared by every figure.
#include "analysis/plot_page.h"

#include <plplot.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "util/error.h"

namespace duo::analysis {
namespace {
// Character height relative to PLplot's default, chosen so a 1100 x 750 figure keeps its labels
// inside the page.
constexpr double kTextScale = 0.9;
}  // namespace

PlotPage::PlotPage(const std::filesystem::path& out, ImageFormat format, int width, int height)
    : out_(out), format_(format) {
  // PLplot exits the process when it cannot open its output; find out first, politely.
  {
    std::ofstream probe(out);
    if (!probe) throw Error(out, "cannot be written");
  }
  plsdev(format == ImageFormat::png ? "pngcairo" : "svgcairo");
  plsfnam(out.c_str());
  plspage(0, 0, width, height, 0, 0);
  plscolbg(255, 255, 255);  // white background, set before plinit so the page starts white
  plinit();
  plscol0(kBlack, 30, 30, 30);
  plscol0(kGrid, 200, 200, 200);
  plscol0a(kFaint, 60, 90, 140, 0.22);
  // Accents: a colour-blind-safe set (Okabe-Ito).
  plscol0(kAccent1, 213, 94, 0);
  plscol0(kAccent2, 0, 114, 178);
  plscol0(kAccent3, 0, 158, 115);
  plscol0(kAccent4, 204, 121, 167);
  plscol0(kAccent5, 230, 159, 0);
  plscol0(kMarker, 0, 0, 0);
  plcol0(kBlack);
  plfontld(1);
  plschr(0, kTextScale);
  pladv(0);
}

PlotPage::~PlotPage() {
  if (!finished_) plend1();
}

void PlotPage::finish() {
  finished_ = true;
  plend1();
  // The last bytes of a whole file: PNG's IEND chunk, SVG's closing tag.
  const std::string end = format_ == ImageFormat::png ? std::string("IEND\xae\x42\x60\x82", 8) : "</svg>";
  std::error_code ec;
  const auto size = std::filesystem::file_size(out_, ec);
  std::string tail;
  if (!ec && size > 0) {
    std::ifstream in(out_, std::ios::binary);
    in.seekg(-static_cast<std::streamoff>(std::min<uintmax_t>(size, 16)), std::ios::end);
    tail.assign(std::istreambuf_iterator<char>(in), {});
    tail.erase(tail.find_last_not_of(" \n") + 1);
  }
  if (tail.size() >= end.size() && tail.compare(tail.size() - end.size(), end.size(), end) == 0) return;
  std::remove(out_.c_str());
  throw Error(out_, ec ? "was not written (" + ec.message() + ")"
                       : size == 0 ? "is empty after plotting: the disk may be full"
                                   : "is cut short after plotting: the disk may be full");
}

void use_gate_colours() {
  const PLFLT pos[] = {0.0, 0.5, 1.0};
  const PLFLT r[] = {59 / 255.0, 221 / 255.0, 180 / 255.0};
  const PLFLT g[] = {76 / 255.0, 221 / 255.0, 4 / 255.0};
  const PLFLT b[] = {192 / 255.0, 221 / 255.0, 38 / 255.0};
  plscmap1n(256);
  plscmap1l(1, 3, pos, r, g, b, nullptr);
}

void draw_titles(const std::string& title, const std::string& subtitle) {
  plcol0(kBlack);
  plschr(0, 1.2);
  plmtex("t", subtitle.empty() ? 1.5 : 2.9, 0.5, 0.5, title.c_str());
  if (!subtitle.empty()) {
    plschr(0, 0.8);
    plmtex("t", 1.2, 0.5, 0.5, subtitle.c_str());
  }
  plschr(0, kTextScale);
}

void draw_note_below(const std::string& note) {
  plcol0(kBlack);
  plschr(0, 0.8);
  plmtex("b", 4.6, 1.0, 1.0, note.c_str());
  plschr(0, kTextScale);
}

void draw_axis_labels(const std::string& x_label, const std::string& y_label, double y_offset) {
  plcol0(kBlack);
  plmtex("b", 2.9, 0.5, 0.5, x_label.c_str());
  plmtex("l", y_offset, 0.5, 0.5, y_label.c_str());
}

void fill_rect(double x0, double x1, double y0, double y1) {
  const PLFLT x[] = {x0, x1, x1, x0};
  const PLFLT y[] = {y0, y0, y1, y1};
  plfill(4, x, y);
}

void draw_gate_colour_bar(double x0, double x1, double y0, double y1, const std::string& label) {
  plvpor(x0, x1, y0, y1);
  plwind(0, 1, 0, 1);
  constexpr int kSlices = 128;
  for (int i = 0; i < kSlices; ++i) {
    plcol1((i + 0.5) / kSlices);
    fill_rect(0, 1, static_cast<double>(i) / kSlices, static_cast<double>(i + 1) / kSlices);
  }
  plcol0(kBlack);
  plbox("bc", 0, 0, "bcmstv", 0.2, 2);
  plmtex("r", 4.5, 0.5, 0.5, label.c_str());
}

}  // namespace duo::analysis
