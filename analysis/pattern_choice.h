// Which pattern a command works with (docs/analysis.md, "Patterns and their window"). A pattern
// file is a pattern: its roles, rule and window as written, unless --sparsity or --threshold
// re-select from the gates it stores. Other inputs are gates, selected by the rule given (the
// sparsity rule at 0.5 without one). Either way the streaming heads deploy with the window the
// input records, unless --sink/--recent override it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"

namespace duo::analysis {

// What a command reads: the gates and, from a pattern file, the pattern it holds.
struct Input {
  GateSet gates;
  std::optional<Pattern> pattern;
};

// load_gates, keeping a pattern file's pattern.
Input load_input(const std::filesystem::path& input, std::optional<int64_t> step = std::nullopt);

// The rule and window options as given on the command line (unset: not given).
struct PatternRequest {
  std::optional<double> sparsity, threshold;
  WindowOverride window;

  bool reselects(const Input& input) const { return input.pattern && (sparsity || threshold); }
};

inline constexpr double kDefaultSparsity = 0.5;

Pattern choose_pattern(const Input& input, const PatternRequest& request);

// Where a pattern file's roles came from, for a terminal: "as the pattern file ... holds them"
// or "re-selected by --sparsity from the gates ... stores ..."; "" for other inputs.
std::string roles_note(const Input& input, const PatternRequest& request);

}  // namespace duo::analysis
