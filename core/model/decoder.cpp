#include "model/decoder.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <string>

#include "util/error.h"

namespace duo {

HeadPattern Decoder::dense_pattern(const ModelConfig& cfg) {
  return HeadPattern::uniform(cfg.num_hidden_layers, cfg.num_key_value_heads, /*retrieval=*/true, 0, 0);
}

Decoder::Decoder(const LlamaModel& model, const HeadPattern& pattern, int64_t max_length, Options options)
    : model_(model),
      options_(options),
      cache_(pattern, 1, max_length, model.config().head_dim, model.dtype(), model.device()) {
  if (options.chunk < 1) throw std::invalid_argument("Decoder: the prefill chunk must be at least one token");
  if (options.cuda_graph && DecodeGraph::available(model))
    graph_ = std::make_unique<DecodeGraph>(model, cache_, DecodeGraph::Options{true, options.fused_matvec});
}

at::Tensor Decoder::prefill(const at::Tensor& ids, at::Tensor* hidden) {
  at::NoGradGuard no_grad;
  if (ids.dim() != 2 || ids.size(0) != 1 || ids.size(1) == 0)
    throw std::invalid_argument("Decoder::prefill: ids must be [1, T] with T > 0");
  const at::Tensor on_device = ids.to(model_.device());
  const int64_t T = ids.size(1), first = position();
  std::vector<at::Tensor> states;
  at::Tensor last;
  for (int64_t start = 0; start < T; start += options_.chunk) {
    const int64_t n = std::min(options_.chunk, T - start);
    at::Tensor h = model_.forward(on_device.narrow(1, start, n), cache_, first + start, /*logits=*/false).hidden;
    if (hidden) states.push_back(h);
    if (start + n == T) last = h.select(1, n - 1);
  }
  if (hidden) *hidden = states.size() == 1 ? states[0] : at::cat(states, 1);
  return model_.lm_head(last);
}

at::Tensor Decoder::step(int64_t id) {
  at::NoGradGuard no_grad;
  const at::Tensor ids = at::full({1, 1}, id, at::TensorOptions().dtype(at::kLong).device(model_.device()));
  const int64_t pos = position();
  if (graph_) return graph_->step(ids, pos).select(1, 0);
  return model_.forward(ids, cache_, pos, /*logits=*/true).logits.select(1, 0);
}

std::vector<int64_t> Decoder::greedy(at::Tensor logits, int64_t max_new, const std::vector<int64_t>& stop_ids) {
  std::vector<int64_t> out;
  while (static_cast<int64_t>(out.size()) < max_new) {
    const int64_t next = logits.argmax(-1).item<int64_t>();
    out.push_back(next);
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
    if (static_cast<int64_t>(out.size()) == max_new) break;
    logits = step(next);
  }
  return out;
}

Generation generate_greedy(const LlamaModel& model, const std::vector<int64_t>& prompt, const GenerateOptions& opts) {
  const ModelConfig& cfg = model.config();
  if (prompt.empty()) throw Error("generate: the prompt holds no tokens");
  for (int64_t id : prompt)
    if (id < 0 || id >= cfg.vocab_size)
      throw Error("generate: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(cfg.vocab_size) + ")");

  at::InferenceMode no_grad;
  Decoder::Options options;
  options.chunk = opts.chunk;
  Decoder decoder(model, Decoder::dense_pattern(cfg), static_cast<int64_t>(prompt.size()) + opts.max_new_tokens,
                  options);
  Generation g;
  // The full [T, vocab] logits only when asked for: they are large for long prompts.
  at::Tensor hidden;
  at::Tensor logits =
      decoder.prefill(at::tensor(prompt, at::TensorOptions().dtype(at::kLong)).unsqueeze(0),
                      opts.keep_prompt_outputs ? &hidden : nullptr);
  if (opts.keep_prompt_outputs) {
    g.prompt_hidden = hidden[0];
    g.prompt_logits = model.lm_head(hidden)[0];
  }
  g.tokens = decoder.greedy(logits, opts.max_new_tokens, opts.stop_at_eos ? cfg.eos_token_ids : std::vector<int64_t>{});
  return g;
}

}  // namespace duo
