// Synthetic gate histories for the analysis tests: 3 layers x 4 KV heads (8 query heads, GQA
// group 2), gates starting at 1 and drifting to distinct targets, so every selection has one
// right answer that a test can compute by hand.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "history/history_writer.h"
#include "history/synthetic_steps.h"

namespace duo::test {

// The history tests' shape (3 x 4 KV heads, 8 query heads) under the analysis tests' name.
inline HistoryMeta analysis_meta() {
  HistoryMeta meta = synthetic_meta();
  meta.config_yaml = "train:\n  steps: 100\n";
  meta.model_name = "synthetic-llama";
  return meta;
}

// Where head (layer, kv_head) ends up: the 12 values k/11, k = 0..11, shuffled over the heads.
// Head i = layer * 4 + kv_head gets k = (7 * i + 3) % 12.
inline float target_gate(int layer, int kv_head) {
  const int i = layer * 4 + kv_head;
  return static_cast<float>(((7 * i + 3) % 12) / 11.0);
}

inline float drifting_gate(int64_t step, int layer, int kv_head) {
  const double t = target_gate(layer, kv_head);
  return static_cast<float>(t + (1.0 - t) * std::exp(-static_cast<double>(step) / 12.0));
}

// Writes `steps` steps (0..steps-1) of the drifting gates to `path`.
inline void write_synthetic_run(const std::filesystem::path& path, int64_t steps) {
  HistoryWriter::Options options;
  options.overwrite = true;
  options.fsync = false;
  const HistoryMeta meta = analysis_meta();
  auto writer = HistoryWriter::create(path, meta, options);
  for (int64_t s = 0; s < steps; ++s) {
    StepRecord r;
    r.step = s;
    double sum = 0;
    for (int l = 0; l < meta.num_layers; ++l)
      for (int h = 0; h < meta.num_kv_heads; ++h) {
        r.gates.push_back(drifting_gate(s, l, h));
        sum += r.gates.back();
      }
    r.loss_distill = 0.5 * std::exp(-static_cast<double>(s) / 15.0) + 0.002;
    r.loss_reg = 0.05 * sum / static_cast<double>(r.gates.size());
    r.loss_total = r.loss_distill + r.loss_reg;
    r.lr = 0.02 * std::min(1.0, (s + 1) / 20.0);
    r.tokens = 1000 + 10 * s;
    r.wall_time = 1.5 * static_cast<double>(s + 1);
    writer.append(r);
  }
}

}  // namespace duo::test
