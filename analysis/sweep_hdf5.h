// The sweep's results as HDF5 (<out>/results.h5), beside the CSV it is written from: one 1-D
// dataset per column of docs/sweep.md, row i of every dataset describing one cell; the groups
// task_scores/ and ruler_average/ hold sweep_scores.h's tables the same way (task, method, seed,
// sparsity, length, score, count). Root attributes: format = "duo-sweep-results",
// schema_version = 2, sweep_config = the text of the sweep-config.json the rows were computed
// with (analysis/sweep_config.h). Rewritten whole (atomically) after each sweep; the CSV is the
// resumable record.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/sweep.h"

namespace duo::analysis {

inline constexpr int64_t kSweepH5SchemaVersion = 2;  // 2: task and score columns, the score tables

void write_sweep_h5(const std::filesystem::path& path, const std::vector<SweepRow>& rows,
                    const std::string& config_json);

}  // namespace duo::analysis
