// Turning gates into retrieval/streaming roles, by target sparsity or by gate threshold.
#include "analysis/pattern.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <utility>

#include "util/error.h"

namespace duo::analysis {
namespace {

Pattern empty_pattern(const GateSet& gates) {
  Pattern p;
  p.num_layers = gates.num_layers;
  p.num_kv_heads = gates.num_kv_heads;
  p.gates = gates.gates;
  p.retrieval.assign(gates.gates.size(), 0);
  if (gates.window) {
    p.window = *gates.window;
    p.window_source = "trained";
    p.trained_window = gates.window;
  }
  return p;
}

std::string sizes(const StreamingWindow& w) {
  return "sink " + std::to_string(w.sink) + " + recent " + std::to_string(w.recent);
}

void finish(Pattern& p) {
  const auto n = static_cast<double>(p.retrieval.size());
  p.sparsity = n > 0 ? 1.0 - p.retrieval_count() / n : 0.0;
}

}  // namespace

int Pattern::retrieval_count() const { return static_cast<int>(std::count(retrieval.begin(), retrieval.end(), 1)); }

double Pattern::kv_cache_saved(int64_t length) const {
  if (retrieval.empty() || length <= 0) return 0.0;
  const double kept = double(std::min(length, window.sink + window.recent)) / double(length);
  return (1.0 - double(retrieval_count()) / double(retrieval.size())) * (1.0 - kept);
}

std::string describe_kv_cache_saved(const Pattern& p) {
  std::string out = "KV cache saved:";
  const char* sep = " ";
  for (int64_t length : kReportedContexts) {
    char part[64];
    std::snprintf(part, sizeof part, "%s%.1f%% at %lldK%s", sep, 100 * p.kv_cache_saved(length),
                  static_cast<long long>(length / 1024), sep[0] == ' ' ? " tokens" : "");
    out += part;
    sep = ", ";
  }
  return out;
}

void check_sparsity(double sparsity) {
  if (!(sparsity >= 0.0 && sparsity <= 1.0)) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%g", sparsity);
    throw Error(std::string("--sparsity ") + buffer + ": must be between 0 and 1 (fraction of KV heads made streaming)");
  }
}

Pattern select_by_sparsity(const GateSet& gates, double sparsity) {
  check_sparsity(sparsity);
  Pattern p = empty_pattern(gates);
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

Pattern select_by_threshold(const GateSet& gates, double threshold) {
  if (!std::isfinite(threshold)) throw Error("--threshold must be a finite number");
  Pattern p = empty_pattern(gates);
  p.rule = "threshold";
  p.threshold = threshold;
  for (size_t i = 0; i < p.gates.size(); ++i) p.retrieval[i] = p.gates[i] >= threshold ? 1 : 0;
  finish(p);
  return p;
}

void override_window(Pattern& p, const WindowOverride& given) {
  for (const auto& [value, name] : {std::pair{given.sink, "--sink"}, std::pair{given.recent, "--recent"}})
    if (value && (*value < 0 || *value > kMaxWindowTokens))
      throw Error(std::string(name) + " " + std::to_string(*value) + ": expected an integer in [0, " +
                  std::to_string(kMaxWindowTokens) + "]");
  if (!given.sink && !given.recent) return;
  if (given.sink) p.window.sink = *given.sink;
  if (given.recent) p.window.recent = *given.recent;
  // Naming the trained sizes again is no override.
  p.window_source = p.trained_window && *p.trained_window == p.window ? "trained" : "override";
}

std::string describe_window(const Pattern& p) {
  std::string out = sizes(p.window);
  if (p.window_source == "trained") return out + " (trained)";
  if (p.window_source == "override")
    return out + " (override; " + (p.trained_window ? "trained with " + sizes(*p.trained_window) : "no trained window recorded") +
           ")";
  return out + " (default: no trained window recorded, so the paper's deployment window)";
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
