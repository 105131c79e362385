// Our pattern file (docs/pattern-format.md): a pattern with the model it belongs to, every head's
// gate and role, and the rule that chose them. Versioned; readers reject newer versions.
#pragma once
#include <filesystem>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"

namespace duo::analysis {

inline constexpr int kPatternSchemaVersion = 1;
inline constexpr const char* kPatternFormat = "duo-attention-pattern";

void write_pattern_json(const std::filesystem::path& path, const Pattern& pattern, const GateSet& gates);

// The gates and model identity stored in a pattern file.
GateSet read_pattern_json(const std::filesystem::path& path);

}  // namespace duo::analysis
