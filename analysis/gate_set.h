// The gates an analysis works on, whatever file they came from: a gate history (one step of it),
// a reference pattern directory (full_attention_heads.tsv + config.json), our pattern JSON, or
// a head-score file (analysis/head_scores.h: another method's scores, taken as gates).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "history/history_reader.h"
#include "model/streaming_window.h"

namespace duo::analysis {

struct GateSet {
  std::filesystem::path source;
  std::string kind;  // "history", "reference", "pattern" or "scores"
  std::string model_name;
  std::string architecture;
  int num_layers = 0;
  int num_kv_heads = 0;
  int num_heads = 0;  // query heads; 0 when the source does not say (a reference directory)
  int64_t step = -1;  // the history step the gates are from; -1 for other sources
  std::vector<float> gates;  // [layer][kv_head] row-major
  // The window the source records: a history's training window, a reference directory's
  // config.json sink_size/recent_size, a pattern file's deployment window. Unset: none.
  std::optional<StreamingWindow> window;

  float at(int layer, int kv_head) const { return gates[static_cast<size_t>(layer) * num_kv_heads + kv_head]; }
  int count() const { return num_layers * num_kv_heads; }
};

// Loads gates from `input`: a directory is read as a reference pattern directory, a .json file as
// a head-score file or our pattern JSON (by its "format"), anything else as a gate history (the
// last step, or `step` when given).
// Throws duo::Error naming the file and the problem.
GateSet load_gates(const std::filesystem::path& input, std::optional<int64_t> step = std::nullopt);

// The gates of one step of a history the caller already read (the last step by default).
GateSet gates_from_history(const HistoryReader& history, std::optional<int64_t> step);

}  // namespace duo::analysis
