// Deterministic step records for the history tests: every value is a function of (step, layer,
// head), so any reader (ours, h5py) can check a row without knowing who wrote it or when.
// check_history.py computes the same values.
#pragma once
#include <cstdint>

#include "history/history.h"

namespace duo::test {

inline HistoryMeta synthetic_meta() {
  HistoryMeta meta;
  meta.config_yaml = "model:\n  name: tiny\ntrain:\n  steps: 100\n";
  meta.model_name = "tiny-llama";
  meta.architecture = "LlamaForCausalLM";
  meta.num_layers = 3;
  meta.num_heads = 8;
  meta.num_kv_heads = 4;
  meta.head_dim = 16;
  meta.sink = 128;
  meta.recent = 256;
  return meta;
}

// Exactly representable in float32 and computed in double first, as check_history.py does.
inline float synthetic_gate(int64_t step, int layer, int head) {
  return static_cast<float>(static_cast<double>((step * 31 + layer * 7 + head * 3) % 1000) / 1000.0);
}

inline StepRecord synthetic_step(const HistoryMeta& meta, int64_t step) {
  StepRecord record;
  record.step = step;
  for (int l = 0; l < meta.num_layers; ++l)
    for (int h = 0; h < meta.num_kv_heads; ++h) record.gates.push_back(synthetic_gate(step, l, h));
  record.loss_distill = 1.0 / static_cast<double>(step + 1);
  record.loss_reg = 0.25 * static_cast<double>(step % 7);
  record.loss_total = record.loss_distill + record.loss_reg;
  record.lr = 0.02 * static_cast<double>(step % 11);
  record.tokens = 1000 + step;
  record.wall_time = 0.5 * static_cast<double>(step);
  return record;
}

}  // namespace duo::test
