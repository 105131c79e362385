#include "distill_objective.h"

#include <optional>
#include <stdexcept>

#include <torch/utils.h>

#include "checkpointed_layer.h"

namespace duo {

Objective distill_objective(const LlamaModel& model, const at::Tensor& gates,
                            const at::Tensor& ids, const at::Tensor& label_mask,
                            const ObjectiveOptions& options) {
  // The reference pass keeps per-layer full-attention outputs only when the gated pass reuses them.
  struct Attentions {
    FullAttentionRecorder recorder;
    FullAttention full;
    std::optional<GatedAttention> gated;
  };
  auto attentions = std::make_shared<Attentions>();
  Attention& reference_attention = options.mode == GateMode::reference
                                       ? static_cast<Attention&>(attentions->recorder)
                                       : attentions->full;
  at::Tensor reference_hidden;
  {
    torch::NoGradGuard no_grad;
    reference_hidden = model.forward(ids, reference_attention, 0, /*logits=*/false).hidden;
  }

  GatedAttention& gated =
      attentions->gated.emplace(gates, options.window, options.mode, &attentions->recorder,
                                options.keep_full_attention && options.activation_checkpointing);
  auto hidden = model.embed(ids);
  for (int layer = 0; layer < model.config().num_hidden_layers; ++layer) {
    hidden = options.activation_checkpointing
                 ? checkpointed_layer(model, layer, hidden, gated, gates)
                 : model.layer_forward(layer, hidden, 0, gated);
  }
  hidden = model.final_norm(hidden);

  Objective out;
  out.graph_state = attentions;
  auto mask = label_mask.to(ids.device()).to(at::kBool);
  out.answer_tokens = mask.sum().item<int64_t>();
  if (out.answer_tokens == 0) throw std::invalid_argument("sample has no answer tokens");
  // The loss is float32 for bf16/fp16/fp32 models; float64 models (gradient checks) keep float64.
  auto loss_type = hidden.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto diff = reference_hidden.index({mask}).to(loss_type) - hidden.index({mask}).to(loss_type);
  out.distill = diff.pow(2).mean(-1).sum() / static_cast<double>(out.answer_tokens);
  out.reg = gates.to(loss_type).abs().mean();
  out.total = out.distill + options.reg_weight * out.reg;
  return out;
}

}  // namespace duo
