// The settings a sweep's scores depend on besides their cell (task, method, seed, sparsity,
// length, depth, sample): the model, the gates, the task data, the window, the numerics. They are recorded in
// <out>/sweep-config.json beside results.csv (and in results.h5), and a sweep continuing an
// output directory must have the same ones: otherwise its finished cells would be reused as if
// they had been computed with the new settings.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/gate_set.h"
#include "analysis/sweep.h"

namespace duo::analysis {

inline constexpr const char* kSweepConfigFormat = "duo-sweep-config";
inline constexpr int kSweepConfigSchemaVersion = 2;  // 2: the task is a row's, not a setting

struct SweepConfig {
  // (setting, value) in a fixed order, named as on the command line; every value must match.
  std::vector<std::pair<std::string, std::string>> settings;
  // Where the gates came from, for messages only: the same gates copied elsewhere are the same.
  std::string gates_source;
};

// The configuration of a sweep of `gates` with `options`, whose streaming heads keep `window`
// and which runs on `device` ("cpu" or "cuda", as resolved).
SweepConfig sweep_config(const GateSet& gates, const SweepOptions& options, const StreamingWindow& window,
                         const std::string& device);

// The JSON text of sweep-config.json (also stored in results.h5).
std::string sweep_config_json(const SweepConfig& config);

// Writes sweep-config.json (throws duo::Error when it cannot).
void write_sweep_config(const std::filesystem::path& path, const SweepConfig& config);

// Reads sweep-config.json; nullopt when the file does not exist. Throws duo::Error for a
// malformed file or a newer schema.
std::optional<SweepConfig> read_sweep_config(const std::filesystem::path& path);

// "1 finished cell", "3 finished cells".
std::string describe_finished(size_t cells);

// Throws duo::Error naming `recorded_path`, every setting that differs (old value, new value) and
// how to start afresh, unless `now` equals `recorded`.

void check_same_sweep(const std::filesystem::path& recorded_path, const SweepConfig& recorded,
                      const SweepConfig& now, size_t finished_cells);

}  // namespace duo::analysis
