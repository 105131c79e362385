#include "analysis/on_the_fly_scores.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <stdexcept>

#include "model/rms_norm.h"
#include "model/rope.h"

namespace duo::analysis {

std::vector<float> on_the_fly_scores(const LlamaModel& model, const std::vector<std::vector<int32_t>>& samples,
                                     int64_t q_len) {
  if (samples.empty()) throw std::invalid_argument("on_the_fly_scores: no samples");
  if (q_len < 1) throw std::invalid_argument("on_the_fly_scores: q_len must be positive");
  const ModelConfig& cfg = model.config();
  const int64_t L = cfg.num_hidden_layers, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads,
                D = cfg.head_dim, group = Hq / Hkv;
  const c10::InferenceMode inference;
  // fp32 from the means on, as kvpress takes the softmax in fp32; the rotation too, so that the
  // scores do not depend on the activation dtype beyond the model's own layers.
  const RopeCosSin rope = rope_cos_sin(rope_inv_freq(cfg, model.device()), 0, q_len, at::kFloat);
  auto mean_head = [&](const at::Tensor& normed, const at::Tensor& w, const at::Tensor& b, const at::Tensor& norm,
                       int64_t heads) {
    at::Tensor x = at::linear(normed, w, b.defined() ? std::optional<at::Tensor>(b) : std::nullopt);
    x = x.view({1, x.size(1), heads, D});
    if (norm.defined()) x = rms_norm(x, norm, cfg.rms_norm_eps);
    return x.to(at::kFloat).mean(1);  // [1, heads, D]
  };
  at::Tensor total = at::zeros({L, Hkv}, at::TensorOptions().dtype(at::kDouble));
  FullAttention attention;
  for (const std::vector<int32_t>& ids : samples) {
    const at::Tensor input =
        at::tensor(at::ArrayRef<int32_t>(ids), at::kInt).to(at::kLong).view({1, -1}).to(model.device());
    at::Tensor hidden = model.embed(input);
    for (int64_t l = 0; l < L; ++l) {
      const LlamaModel::Layer& w = model.layers()[l];
      const at::Tensor normed = rms_norm(hidden, w.input_norm, cfg.rms_norm_eps);
      const at::Tensor q = mean_head(normed, w.wq, w.bq, w.q_norm, Hq), k = mean_head(normed, w.wk, w.bk, w.k_norm, Hkv);
      // The same vector at every position, rotated there: [1, heads, q_len, D].
      const at::Tensor qs = rope_apply(q.unsqueeze(2).expand({1, Hq, q_len, D}).contiguous(), rope);
      const at::Tensor ks = rope_apply(k.unsqueeze(2).expand({1, Hkv, q_len, D}).contiguous(), rope);
      const at::Tensor last = qs.select(2, q_len - 1).unsqueeze(2);  // [1, Hq, 1, D]
      const at::Tensor logits = at::matmul(last, ks.repeat_interleave(group, 1).transpose(2, 3)) / std::sqrt(double(D));
      const at::Tensor area = at::softmax(logits, -1).cumsum(-1).mean(-1).view({Hkv, group}).mean(1);
      total[l] += area.to(at::kDouble).cpu();
      hidden = model.layer_forward(static_cast<int>(l), hidden, 0, attention);
    }
  }
  total /= double(samples.size());
  const at::Tensor out = total.to(at::kFloat).contiguous();
  return {out.data_ptr<float>(), out.data_ptr<float>() + out.numel()};
}

}  // namespace duo::analysis
