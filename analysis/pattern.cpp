// Turning gates into retrieval/streaming roles, by target sparsity or by gate threshold.
#include "analysis/pattern.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "util/error.h"

namespace duo::analysis {
namespace {

Pattern empty_pattern(const GateSet& gates, int sink, int recent) {
  if (sink < 0 || recent < 0) throw Error("--sink and --recent must not be negative");
  Pattern p;
  p.num_layers = gates.num_layers;
  p.num_kv_heads = gates.num_kv_heads;
  p.gates = gates.gates;
  p.retrieval.assign(gates.gates.size(), 0);
  p.sink = sink;
  p.recent = recent;
  return p;
}

void finish(Pattern& p) {
  const auto n = static_cast<double>(p.retrieval.size());
  p.sparsity = n > 0 ? 1.0 - p.retrieval_count() / n : 0.0;
}

}  // namespace

int Pattern::retrieval_count() const { return static_cast<int>(std::count(retrieval.begin(), retrieval.end(), 1)); }

void check_sparsity(double sparsity) {
  if (!(sparsity >= 0.0 && sparsity <= 1.0)) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%g", sparsity);
    throw Error(std::string("--sparsity ") + buffer + ": must be between 0 and 1 (fraction of KV heads made streaming)");
  }
}

Pattern select_by_sparsity(const GateSet& gates, double sparsity, int sink, int recent) {
  check_sparsity(sparsity);
  Pattern p = empty_pattern(gates, sink, recent);
  p.rule = "sparsity";
  p.requested_sparsity = sparsity;
  const size_t n = p.gates.size();
  const auto streaming = static_cast<size_t>(std::nearbyint(sparsity * static_cast<double>(n)));
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // Stable: equal gates keep (layer, kv_head) order, so earlier heads become streaming first.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.gates[a] < p.gates[b]; });
  for (size_t i = streaming; i < n; ++i) p.retrieval[order[i]] = 1;
  if (streaming < n) p.threshold = p.gates[order[streaming]];
  finish(p);
  return p;
}

Pattern select_by_threshold(const GateSet& gates, double threshold, int sink, int recent) {
  if (!std::isfinite(threshold)) throw Error("--threshold must be a finite number");
  Pattern p = empty_pattern(gates, sink, recent);
  p.rule = "threshold";
  p.threshold = threshold;
  for (size_t i = 0; i < p.gates.size(); ++i) p.retrieval[i] = p.gates[i] >= threshold ? 1 : 0;
  finish(p);
  return p;
}

std::string pattern_table(const Pattern& p) {
  std::string out;
  char cell[32];
  out += "layer ";
  for (int h = 0; h < p.num_kv_heads; ++h) {
    std::snprintf(cell, sizeof cell, " %7s", ("kv" + std::to_string(h)).c_str());
    out += cell;
  }
  out += "   retrieval\n";
  for (int l = 0; l < p.num_layers; ++l) {
    std::snprintf(cell, sizeof cell, "%5d ", l);
    out += cell;
    int count = 0;
    for (int h = 0; h < p.num_kv_heads; ++h) {
      const bool r = p.is_retrieval(l, h);
      count += r;
      std::snprintf(cell, sizeof cell, " %c %5.3f", r ? 'R' : 'S', p.gates[static_cast<size_t>(l) * p.num_kv_heads + h]);
      out += cell;
    }
    std::snprintf(cell, sizeof cell, "   %d/%d\n", count, p.num_kv_heads);
    out += cell;
  }
  return out;
}

}  // namespace duo::analysis
