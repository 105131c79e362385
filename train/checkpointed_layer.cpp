#include "checkpointed_layer.h"

#include <torch/autograd.h>

#include "kernels/training_ops.h"

namespace duo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  // Runs without autograd recording (Function::forward always does): nothing of the layer's
  // inside is kept.
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor gates,
                            const LlamaModel* model, int64_t layer, Attention* attn, ActivationOffload* offload,
                            int64_t rows_from) {
    if (offload) offload->put(static_cast<int>(layer), ActivationOffload::Kind::layer_input, hidden);
    else ctx->saved_data["hidden"] = hidden;
    ctx->saved_data["offload"] = reinterpret_cast<int64_t>(offload);
    ctx->saved_data["gates"] = gates;  // the leaf itself, so the recomputed graph reaches it
    ctx->saved_data["model"] = reinterpret_cast<int64_t>(model);
    ctx->saved_data["attn"] = reinterpret_cast<int64_t>(attn);
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["rows_from"] = rows_from;
    return model->layer_forward(static_cast<int>(layer), hidden, 0, *attn, rows_from);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto* model = reinterpret_cast<const LlamaModel*>(ctx->saved_data["model"].toInt());
    auto* attn = reinterpret_cast<Attention*>(ctx->saved_data["attn"].toInt());
    auto layer = static_cast<int>(ctx->saved_data["layer"].toInt());
    auto* offload = reinterpret_cast<ActivationOffload*>(ctx->saved_data["offload"].toInt());
    at::Tensor saved_hidden =
        offload ? offload->take(layer, ActivationOffload::Kind::layer_input) : ctx->saved_data["hidden"].toTensor();
    if (offload && layer > 0) offload->prefetch(layer - 1);  // backward runs the layers top down
    // The first layer's input is the embedding, which needs no gradient: without it, the
    // recomputed layer's attention and q/k/v projections are left out of the backward.
    const bool want_hidden = ctx->needs_input_grad(0);
    auto hidden = saved_hidden.detach().requires_grad_(want_hidden);
    auto gates = ctx->saved_data["gates"].toTensor();
    variable_list inputs;
    if (want_hidden) inputs.push_back(hidden);
    if (gates.requires_grad()) inputs.push_back(gates);
    if (inputs.empty()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    // The recomputation stops before the MLP's activation, whose output nothing needs: the
    // layer's output is h + down(silu(gate) · up), so its gradient reaches h as it is and
    // gate and up through the down projection's and SwiGLU's input gradients (the weights are
    // frozen). That leaves out a quarter of the recomputation's matrix products, and SwiGLU's
    // gradients overwrite gate and up (the projections that made them keep only their weights),
    // so that the layer's largest activations are held once.
    LlamaModel::LayerBody body;
    {
      torch::autograd::AutoGradMode grad_on(true);
      body = model->layer_body(layer, hidden, 0, *attn, ctx->saved_data["rows_from"].toInt());
    }
    kernels::silu_mul_backward_(at::matmul(grad_out[0], model->layers().at(layer).w_down), body.gate, body.up);
    auto grads = torch::autograd::grad({body.h, body.gate, body.up}, inputs,
                                       {grad_out[0], body.gate.detach(), body.up.detach()}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    at::Tensor grad_hidden = want_hidden ? grads[0] : at::Tensor();
    at::Tensor grad_gates = gates.requires_grad() ? grads.back() : at::Tensor();
    return {grad_hidden, grad_gates, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed_layer(const LlamaModel& model, int layer, const at::Tensor& hidden,
                              Attention& attn, const at::Tensor& gates, ActivationOffload* offload,
                              int64_t rows_from) {
  return CheckpointedLayer::apply(hidden, gates, &model, static_cast<int64_t>(layer), &attn, offload, rows_from);
}

}  // namespace duo
