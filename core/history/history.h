// The gate-history file duo-train writes and duo-analyze reads: what one file describes (the run's
// metadata) and what one training step adds to it. The on-disk layout is docs/history-schema.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace duo {

// Bumped whenever the layout changes in a way an older reader would misread. 1: string attributes
// variable-length (in HDF5's global heap); 2: fixed-length. Readers read both; writers write the
// newest (a resumed schema-1 history is rewritten as schema 2).
inline constexpr int64_t kHistorySchemaVersion = 2;
// The root attribute "format" holds this, so a reader can tell our files from other HDF5 files.
inline constexpr const char* kHistoryFormat = "duo-gate-history";

struct HistoryMeta {
  std::string config_yaml;   // the resolved training configuration
  std::string model_name;    // name or path of the checkpoint
  std::string architecture;  // e.g. "LlamaForCausalLM"
  int num_layers = 0;
  int num_heads = 0;     // query heads
  int num_kv_heads = 0;  // one gate per (layer, KV head)
  int head_dim = 0;
  int sink = 0;    // streaming window used in training: first `sink` tokens ...
  int recent = 0;  // ... plus the last `recent` tokens
};

struct StepRecord {
  int64_t step = 0;
  std::vector<float> gates;  // num_layers * num_kv_heads, row-major [layer][kv_head]
  double loss_total = 0, loss_distill = 0, loss_reg = 0;
  double lr = 0;
  int64_t tokens = 0;    // tokens processed in this step
  double wall_time = 0;  // seconds since the run started
};

// Every step of a history, column by column (the datasets of the file).
struct HistoryColumns {
  std::vector<int64_t> step;
  std::vector<float> gates;  // [row][layer][kv_head] row-major
  std::vector<double> loss_total, loss_distill, loss_reg, lr;
  std::vector<int64_t> tokens;
  std::vector<double> wall_time;

  int64_t rows() const { return static_cast<int64_t>(step.size()); }
  void append(const StepRecord& record);
  void truncate(int64_t rows, int64_t gates_per_step);
};

}  // namespace duo
