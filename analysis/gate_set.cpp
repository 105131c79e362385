// Loading gates from the three kinds of input duo-analyze accepts.
#include "analysis/gate_set.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "analysis/head_scores.h"
#include "analysis/pattern_json.h"
#include "analysis/reference_tsv.h"
#include "util/error.h"

namespace duo::analysis {
namespace {

// The reference loader (duo_attn.utils.load_attn_pattern, and kvpress after it) clips the TSV to
// [0, 1] before anything else; so do we, so both sides rank the same numbers.
GateSet load_reference_dir(const std::filesystem::path& dir) {
  const std::filesystem::path tsv = dir / "full_attention_heads.tsv";
  if (!std::filesystem::exists(tsv))
    throw Error(dir, "a directory, but no full_attention_heads.tsv in it (not a reference pattern directory)");
  GateMatrix m = read_reference_tsv(tsv);
  GateSet g;
  g.source = dir;
  g.kind = "reference";
  g.num_layers = m.rows;
  g.num_kv_heads = m.cols;
  for (double v : m.values) g.gates.push_back(static_cast<float>(std::clamp(v, 0.0, 1.0)));
  const std::filesystem::path config = dir / "config.json";
  if (std::filesystem::exists(config)) {
    std::ifstream in(config);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) throw Error(config, "not valid JSON");
    // The reference stores its training arguments here; model_name is the checkpoint path.
    if (doc.contains("model_name") && doc["model_name"].is_string()) g.model_name = doc["model_name"];
    if (doc.contains("num_heads") && doc["num_heads"].is_number_integer()) {
      const int64_t heads = doc["num_heads"].get<int64_t>();
      if (heads <= 0 || heads > std::numeric_limits<int>::max())
        throw Error(config, "num_heads must be a positive integer, got " + doc["num_heads"].dump());
      g.num_heads = static_cast<int>(heads);
    }
    // The reference trains and deploys with these two; kvpress reads them too.
    const bool sink = doc.contains("sink_size"), recent = doc.contains("recent_size");
    if (sink != recent)
      throw Error(config, std::string("has ") + (sink ? "sink_size but no recent_size" : "recent_size but no sink_size"));
    if (sink) {
      for (const char* key : {"sink_size", "recent_size"})
        if (!doc[key].is_number_integer() || doc[key].get<int64_t>() < 0 || doc[key].get<int64_t>() > kMaxWindowTokens)
          throw Error(config, std::string(key) + " must be an integer in [0, " + std::to_string(kMaxWindowTokens) + "]");
      g.window = StreamingWindow{doc["sink_size"].get<int64_t>(), doc["recent_size"].get<int64_t>()};
    }
  }
  return g;
}

}  // namespace

GateSet gates_from_history(const HistoryReader& history, std::optional<int64_t> step) {
  const auto& meta = history.meta();
  if (history.rows() == 0) throw Error(history.path(), "history holds no steps yet (0 rows); nothing to analyse");
  int64_t row = history.rows() - 1;
  if (step) {
    const int64_t first = history.steps().front(), last = history.steps().back();
    if (*step < first || *step > last)
      throw Error(history.path(), "no step " + std::to_string(*step) + " (the history holds steps " +
                                      std::to_string(first) + ".." + std::to_string(last) + ")");
    row = *step - first;
  }
  GateSet g;
  g.source = history.path();
  g.kind = "history";
  g.model_name = meta.model_name;
  g.architecture = meta.architecture;
  g.num_layers = meta.num_layers;
  g.num_kv_heads = meta.num_kv_heads;
  g.num_heads = meta.num_heads;
  g.step = history.steps()[row];
  g.window = StreamingWindow{meta.sink, meta.recent};
  auto gates = history.gates_at(row);
  g.gates.assign(gates.begin(), gates.end());
  for (float v : g.gates)
    if (!std::isfinite(v)) throw Error(history.path(), "step " + std::to_string(g.step) + " has a non-finite gate");
  return g;
}

GateSet load_gates(const std::filesystem::path& input, std::optional<int64_t> step) {
  std::error_code ec;
  if (!std::filesystem::exists(input, ec)) throw Error(input, "no such file or directory");
  if (std::filesystem::is_directory(input, ec)) {
    if (step) throw Error(input, "--step applies to a gate history, not a pattern directory");
    return load_reference_dir(input);
  }
  if (input.extension() == ".json") {
    if (step) throw Error(input, "--step applies to a gate history, not a pattern or head-score file");
    if (is_head_scores_file(input)) return read_head_scores(input);
    return read_pattern_json(input).gates;
  }
  HistoryReader history(input);
  return gates_from_history(history, step);
}

}  // namespace duo::analysis
