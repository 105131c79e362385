// Reading and writing full_attention_heads.tsv. The reference writes it with numpy.savetxt
// (tab-separated, "%.18e") and reads it with numpy.loadtxt(delimiter="\t"); we accept what
// loadtxt accepts for finite values and write "%.9g", which round-trips every float32 gate.
#include "analysis/reference_tsv.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "util/error.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \r\n");
  size_t e = s.find_last_not_of(" \r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

GateMatrix read_reference_tsv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  GateMatrix m;
  std::string line;
  int line_no = 0;
  int first_line = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (line.empty()) continue;
    std::vector<double> row;
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      std::string field = trim(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      double value = 0;
      // from_chars takes no leading '+', which loadtxt allows; one sign only ("+-0.5" is no number).
      const bool plus = field.size() > 1 && field[0] == '+' && field[1] != '-' && field[1] != '+';
      const char* first = field.data() + (plus ? 1 : 0);
      auto [end, ec] = std::from_chars(first, field.data() + field.size(), value);
      const std::string where = "line " + std::to_string(line_no) + ", column " + std::to_string(row.size() + 1);
      if (field.empty() || ec != std::errc() || end != field.data() + field.size())
        throw Error(path, where + ": '" + field + "' is not a number");
      if (!std::isfinite(value)) throw Error(path, where + ": '" + field + "' is not a finite number");
      row.push_back(value);
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (m.rows == 0) {
      m.cols = static_cast<int>(row.size());
      first_line = line_no;
    } else if (static_cast<int>(row.size()) != m.cols) {
      throw Error(path, "ragged rows: line " + std::to_string(line_no) + " has " + std::to_string(row.size()) +
                            " values, line " + std::to_string(first_line) + " has " + std::to_string(m.cols));
    }
    m.values.insert(m.values.end(), row.begin(), row.end());
    ++m.rows;
  }
  if (m.rows == 0) throw Error(path, "no gate rows (empty file)");
  return m;
}

void write_reference_tsv(const std::filesystem::path& path, const GateMatrix& matrix) {
  std::ostringstream out;
  char buffer[32];
  for (int r = 0; r < matrix.rows; ++r) {
    for (int c = 0; c < matrix.cols; ++c) {
      std::snprintf(buffer, sizeof buffer, "%.9g", matrix.values[static_cast<size_t>(r) * matrix.cols + c]);
      out << (c ? "\t" : "") << buffer;
    }
    out << "\n";
  }
  write_text_file(path, out.str());
}

}  // namespace duo::analysis
