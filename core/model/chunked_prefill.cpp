#include "model/chunked_prefill.h"

#include <torch/utils.h>

#include <algorithm>

namespace duo {

at::Tensor prefill_chunked(const LlamaModel& model, Attention& attn, const at::Tensor& ids,
                           int64_t chunk, bool all_logits) {
  torch::NoGradGuard no_grad;
  const int64_t T = ids.size(1);
  std::vector<at::Tensor> logits;
  for (int64_t start = 0; start < T; start += chunk) {
    const int64_t n = std::min(chunk, T - start);
    auto hidden = model.forward(ids.narrow(1, start, n), attn, start, /*logits=*/false).hidden;
    if (all_logits)
      logits.push_back(model.lm_head(hidden));
    else if (start + n == T)
      logits.push_back(model.lm_head(hidden.narrow(1, n - 1, 1)));
  }
  return at::cat(logits, 1);
}

std::vector<int64_t> decode_greedy(const LlamaModel& model, Attention& attn,
                                   const at::Tensor& last_logits, int64_t start_pos,
                                   int64_t max_new, const std::vector<int64_t>& stop_ids) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> out;
  auto logits = last_logits;
  for (int64_t i = 0; i < max_new; ++i) {
    const int64_t next = logits.select(1, logits.size(1) - 1).argmax(-1).item<int64_t>();
    out.push_back(next);
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end() || i + 1 == max_new)
      break;
    auto ids = at::full({1, 1}, next, at::TensorOptions().dtype(at::kLong).device(logits.device()));
    logits = model.forward(ids, attn, start_pos + i, /*logits=*/true).logits;
  }
  return out;
}

}  // namespace duo
