// A deployable pattern: every KV head of every layer is a retrieval head (full KV cache) or a
// streaming head (attention sinks + recent window), chosen from the gates, with the window the
// streaming heads deploy with and where that window came from.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate_set.h"
#include "model/streaming_window.h"

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
  // The streaming heads' deployment window (tokens) and where it came from: "trained" (the
  // window the input records the gates were trained with), "override" (--sink/--recent) or
  // "default" (the input records none: the paper's kDeploymentWindow).
  StreamingWindow window = kDeploymentWindow;
  std::string window_source = "default";
  std::optional<StreamingWindow> trained_window;  // when the input records it

  bool is_retrieval(int layer, int kv_head) const {
    return retrieval[static_cast<size_t>(layer) * num_kv_heads + kv_head] != 0;
  }
  int retrieval_count() const;
  // Fraction of the whole KV cache (every layer and KV head) the pattern saves at a context of
  // `length` tokens: a streaming head keeps min(length, sink + recent) tokens instead of all of
  // them. What kvpress reports as its compression ratio; `sparsity` counts heads instead.
  double kv_cache_saved(int64_t length) const;
};

// The context lengths pattern reports give kv_cache_saved at.
inline constexpr int64_t kReportedContexts[] = {4096, 32768, 131072};

// "KV cache saved: 46.1% at 4K tokens, 49.5% at 32K, 49.9% at 128K".
std::string describe_kv_cache_saved(const Pattern& pattern);

// Throws duo::Error unless 0 <= sparsity <= 1.
void check_sparsity(double sparsity);

// Both rules give the pattern the window `gates` records ("trained"), else the paper's ("default").

// Exactly nearbyint(sparsity * N) heads become streaming (round half to even, like Python's round
// that kvpress uses): those with the smallest gates, ties broken by (layer, kv_head) order so the
// result never depends on sorting details. The threshold reported is the smallest retrieval gate.
Pattern select_by_sparsity(const GateSet& gates, double sparsity);

// gate >= threshold => retrieval head.
Pattern select_by_threshold(const GateSet& gates, double threshold);

// --sink / --recent as given on the command line; unset parts keep the pattern's window.
struct WindowOverride {
  std::optional<int64_t> sink, recent;
};

// Deploys `pattern` with the sizes `given` applied. Its window_source becomes "override" unless
// the result is the trained window itself; trained_window is kept. Throws duo::Error for a
// negative size.
void override_window(Pattern& pattern, const WindowOverride& given);

// "sink 64 + recent 256 (override; trained with sink 128 + recent 256)", for a terminal.
std::string describe_window(const Pattern& pattern);

// Layers x heads table of R (retrieval) and S (streaming), with the gates, for a terminal.
std::string pattern_table(const Pattern& pattern);

}  // namespace duo::analysis
