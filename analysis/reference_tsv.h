// The reference implementation's pattern file, full_attention_heads.tsv: one row per layer, one
// tab-separated column per KV head, each value a gate.
#pragma once
#include <filesystem>
#include <vector>

namespace duo::analysis {

struct GateMatrix {
  int rows = 0, cols = 0;
  std::vector<double> values;  // row-major
};

// Strict: every row must have the same number of values and every value must be a finite number;
// otherwise duo::Error names the file, line and column.
GateMatrix read_reference_tsv(const std::filesystem::path& path);

// Writes values with enough digits that float32 gates read back exactly.
void write_reference_tsv(const std::filesystem::path& path, const GateMatrix& matrix);

}  // namespace duo::analysis
