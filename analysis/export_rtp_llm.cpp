// Export to rtp-llm's headwise_config. rtp-llm looks layers up by their index as a string key
// and takes, per layer, one 0/1 entry per query head (1 = retrieval head, full attention;
// 0 = sink + sliding-window attention); the three window settings are integers.
#include <nlohmann/json.hpp>

#include "analysis/export.h"
#include "util/error.h"
#include "util/text_file.h"

namespace duo::analysis {

void export_rtp_llm(const std::filesystem::path& file, const Pattern& p, const GateSet& g, int seqlen_threshold) {
  if (g.num_heads <= 0)
    throw Error(g.source, "the query head count is unknown for this input; pass --num-heads");
  if (g.num_heads % p.num_kv_heads != 0)
    throw Error(g.source, "num_heads " + std::to_string(g.num_heads) + " is not a multiple of the " +
                              std::to_string(p.num_kv_heads) + " KV heads");
  if (seqlen_threshold < 0) throw Error("--seqlen-threshold must not be negative");
  const int group = g.num_heads / p.num_kv_heads;
  nlohmann::ordered_json headwise = {
      {"sink_token_num", p.window.sink}, {"swa_token_num", p.window.recent}, {"seqlen_threshold", seqlen_threshold}};
  for (int l = 0; l < p.num_layers; ++l) {
    nlohmann::ordered_json heads = nlohmann::ordered_json::array();
    // Query head q attends with KV head q / group (the usual GQA layout, as in repeat_kv).
    for (int q = 0; q < g.num_heads; ++q) heads.push_back(p.is_retrieval(l, q / group) ? 1 : 0);
    headwise[std::to_string(l)] = std::move(heads);
  }
  write_text_file(file, nlohmann::ordered_json{{"headwise_config", headwise}}.dump(2) + "\n");
}

}  // namespace duo::analysis
