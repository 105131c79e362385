// A deployable pattern: every KV head of every layer is a retrieval head (full KV cache) or a
// streaming head (attention sinks + recent window), chosen from the gates.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate_set.h"

namespace duo::analysis {

struct Pattern {
  int num_layers = 0;
  int num_kv_heads = 0;
  std::vector<float> gates;        // [layer][kv_head]
  std::vector<uint8_t> retrieval;  // [layer][kv_head], 1 = retrieval head
  std::string rule;                // "sparsity" or "threshold"
  std::optional<double> requested_sparsity;  // the --sparsity asked for (rule "sparsity")
  std::optional<double> threshold;  // gate >= threshold for every retrieval head; none if there are none
  double sparsity = 0;  // fraction of KV heads that are streaming heads
  int sink = 64;
  int recent = 256;

  bool is_retrieval(int layer, int kv_head) const {
    return retrieval[static_cast<size_t>(layer) * num_kv_heads + kv_head] != 0;
  }
  int retrieval_count() const;
};

// Throws duo::Error unless 0 <= sparsity <= 1.
void check_sparsity(double sparsity);

// Exactly nearbyint(sparsity * N) heads become streaming (round half to even, like Python's round
// that kvpress uses): those with the smallest gates, ties broken by (layer, kv_head) order so the
// result never depends on sorting details. The threshold reported is the smallest retrieval gate.
Pattern select_by_sparsity(const GateSet& gates, double sparsity, int sink, int recent);

// gate >= threshold => retrieval head.
Pattern select_by_threshold(const GateSet& gates, double threshold, int sink, int recent);

// Layers x heads table of R (retrieval) and S (streaming), with the gates, for a terminal.
std::string pattern_table(const Pattern& pattern);

}  // namespace duo::analysis
