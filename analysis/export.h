// Writing a pattern in the formats other runtimes read (docs/analysis.md has the details).
#pragma once
#include <filesystem>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"

namespace duo::analysis {

// The reference implementation's directory (mit-han-lab/duo-attention, also read by NVIDIA kvpress):
// full_attention_heads.tsv with the gates clipped to [0, 1], and config.json with sink_size and
// recent_size. Those loaders apply their own sparsity to the gates; config.json also records ours.
void export_reference(const std::filesystem::path& dir, const Pattern& pattern, const GateSet& gates);

// alibaba/rtp-llm's "headwise_config": {"sink_token_num", "swa_token_num", "seqlen_threshold",
// "<layer>": [1 = retrieval / 0 = streaming per query head]}; a KV head's role is repeated for
// every query head of its GQA group. Written as {"headwise_config": {...}}, to merge into the
// model's config.json. Needs the query head count (gates.num_heads).
void export_rtp_llm(const std::filesystem::path& file, const Pattern& pattern, const GateSet& gates,
                    int seqlen_threshold);

}  // namespace duo::analysis
