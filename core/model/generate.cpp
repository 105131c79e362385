// Greedy decoding loop (see generate.h).
#include "model/generate.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "model/decode_graph.h"
#include "model/mixed_kv_cache.h"
#include "util/error.h"

namespace duo {

Generation generate_greedy(const LlamaModel& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts) {
  const ModelConfig& cfg = model.config();
  if (prompt.empty()) throw Error("generate: the prompt holds no tokens");
  for (int64_t id : prompt)
    if (id < 0 || id >= cfg.vocab_size)
      throw Error("generate: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(cfg.vocab_size) + ")");

  at::InferenceMode no_grad;
  // On a GPU whose shapes the decode kernels take, a static cache sized for the whole generation
  // (every head a retrieval head) and the steps replayed from a CUDA graph; elsewhere a growing
  // dense cache and eager steps.
  const bool graph = DecodeGraph::available(model);
  std::unique_ptr<Attention> cache;
  if (graph)
    cache = std::make_unique<MixedKVCacheAttention>(
        HeadPattern::uniform(cfg.num_hidden_layers, cfg.num_key_value_heads, /*retrieval=*/true, 0, 0), 1,
        static_cast<int64_t>(prompt.size()) + opts.max_new_tokens, cfg.head_dim, model.dtype(), model.device());
  else
    cache = std::make_unique<KVCacheAttention>(static_cast<int>(cfg.num_hidden_layers));
  auto ids_opts = at::TensorOptions().dtype(at::kLong).device(model.device());
  at::Tensor ids = at::tensor(prompt, at::TensorOptions().dtype(at::kLong)).to(model.device()).unsqueeze(0);

  Generation g;
  // Only the last position's logits are needed to continue; the full [T, vocab] matrix is
  // computed only when asked for, as it is large for long prompts.
  LlamaModel::Output out = model.forward(ids, *cache, 0, /*logits=*/false);
  at::Tensor last_logits = model.lm_head(out.hidden.select(1, -1));  // [1, vocab]
  if (opts.keep_prompt_outputs) {
    g.prompt_hidden = out.hidden[0];
    g.prompt_logits = model.lm_head(out.hidden)[0];
  }
  std::optional<DecodeGraph> decoder;
  if (graph) decoder.emplace(model, *cache);
  int64_t pos = static_cast<int64_t>(prompt.size());
  while (static_cast<int64_t>(g.tokens.size()) < opts.max_new_tokens) {
    const int64_t next = last_logits.argmax(-1).item<int64_t>();
    g.tokens.push_back(next);
    if (opts.stop_at_eos && std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), next) != cfg.eos_token_ids.end())
      break;
    if (static_cast<int64_t>(g.tokens.size()) == opts.max_new_tokens) break;
    at::Tensor step = at::full({1, 1}, next, ids_opts);
    if (decoder) {
      last_logits = decoder->step(step, pos).select(1, 0);
    } else {
      out = model.forward(step, *cache, pos, /*logits=*/false);
      last_logits = model.lm_head(out.hidden.select(1, -1));
    }
    ++pos;
  }
  return g;
}

}  // namespace duo
