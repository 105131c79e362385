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
    explicit Attentions(int64_t offload_host_bytes) : offload(offload_host_bytes) {}
    ActivationOffload offload;
    FullAttentionRecorder recorder;
    FullAttention full;
    std::optional<GatedAttention> gated;
  };
  auto attentions = std::make_shared<Attentions>(options.offload_host_bytes);
  ActivationOffload* offload =
      options.activation_checkpointing && options.offload_host_bytes > 0 ? &attentions->offload : nullptr;
  Attention& reference_attention = options.mode == GateMode::reference
                                       ? static_cast<Attention&>(attentions->recorder)
                                       : attentions->full;
  const auto mask = label_mask.to(ids.device()).to(at::kBool);
  const int64_t answer_tokens = mask.sum().item<int64_t>();
  if (answer_tokens == 0) throw std::invalid_argument("sample has no answer tokens");
  // The loss reads the last layer at the answer rows alone: that layer's output starts at the
  // first of them (LlamaModel::layer_forward's rows_from).
  const int64_t first_answer = mask.size(0) == 1 ? at::argmax(mask.to(at::kInt).view({-1})).item<int64_t>() : 0;
  const int last = model.config().num_hidden_layers - 1;
  auto rows_from = [&](int layer) { return layer == last ? first_answer : int64_t(0); };

  at::Tensor reference_hidden;
  {
    torch::NoGradGuard no_grad;
    reference_hidden = model.embed(ids);
    for (int layer = 0; layer <= last; ++layer)
      reference_hidden = model.layer_forward(layer, reference_hidden, 0, reference_attention, rows_from(layer));
    reference_hidden = model.final_norm(reference_hidden);
  }

  GatedAttention& gated =
      attentions->gated.emplace(gates, options.window, options.mode, &attentions->recorder,
                                options.keep_full_attention && options.activation_checkpointing, offload);
  auto hidden = model.embed(ids);
  for (int layer = 0; layer <= last; ++layer) {
    hidden = options.activation_checkpointing && layer < options.checkpointed_layers
                 ? checkpointed_layer(model, layer, hidden, gated, gates, offload, rows_from(layer))
                 : model.layer_forward(layer, hidden, 0, gated, rows_from(layer));
  }
  hidden = model.final_norm(hidden);

  Objective out;
  out.graph_state = attentions;
  out.answer_tokens = answer_tokens;
  const auto answer_rows = mask.narrow(1, first_answer, mask.size(1) - first_answer);
  // The loss is float32 for bf16/fp16/fp32 models; float64 models (gradient checks) keep float64.
  auto loss_type = hidden.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto diff = reference_hidden.index({answer_rows}).to(loss_type) - hidden.index({answer_rows}).to(loss_type);
  out.distill = diff.pow(2).mean(-1).sum() / static_cast<double>(out.answer_tokens);
  out.reg = gates.to(loss_type).abs().mean();
  out.total = out.distill + options.reg_weight * out.reg;
  return out;
}

}  // namespace duo
