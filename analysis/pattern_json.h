// Our pattern file (docs/pattern-format.md): a pattern with the model it belongs to, every head's
// gate and role, the rule that chose them and the window the streaming heads deploy with.
// Versioned; readers reject newer versions.
#pragma once
#include <filesystem>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"

namespace duo::analysis {

inline constexpr int kPatternSchemaVersion = 1;
inline constexpr const char* kPatternFormat = "duo-attention-pattern";

void write_pattern_json(const std::filesystem::path& path, const Pattern& pattern, const GateSet& gates);

// A pattern file read back: the gates it stores (with the model identity, and the deployment
// window as the window the source records) and the pattern as written: roles, rule, threshold,
// window and where the window came from.
struct PatternFile {
  GateSet gates;
  Pattern pattern;
};
PatternFile read_pattern_json(const std::filesystem::path& path);

}  // namespace duo::analysis
