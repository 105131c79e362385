// RMSNorm (see rms_norm.h); the cast back happens before the weight multiply, as in HF.
#include "model/rms_norm.h"

#include <torch/autograd.h>

#include "kernels/decode_ops.h"
#include "kernels/training_ops.h"

namespace duo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// On CUDA the forward is one kernel (kernels::add_rms_norm: the eager ops' roundings, float32
// statistics) instead of the eager ops' seven passes over the activations, and so is the input
// gradient (kernels::rms_norm_backward, float32, the roundings taken as identities); gate
// training runs a norm over every token twice per layer and pass.
//   dw = Σ_rows dy ∘ x̂  (only where the weight is trained: pretraining)
struct RmsNormNode : public torch::autograd::Function<RmsNormNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["eps"] = eps;
    return kernels::add_rms_norm(x, {}, weight, eps).y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const double eps = ctx->saved_data["eps"].toDouble();
    at::Tensor dx = ctx->needs_input_grad(0) ? kernels::rms_norm_backward(grads[0], x, saved[1], eps) : at::Tensor();
    at::Tensor dw;
    if (ctx->needs_input_grad(1)) {
      const at::Tensor xf = x.to(at::kFloat), dy = grads[0].to(at::kFloat);
      const at::Tensor xhat = xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps);
      dw = (dy * xhat.to(x.scalar_type()).to(at::kFloat)).reshape({-1, x.size(-1)}).sum(0).to(saved[1].scalar_type());
    }
    return {dx, dw, at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (x.is_cuda() && x.scalar_type() != at::kDouble && weight.scalar_type() == x.scalar_type())
    return RmsNormNode::apply(x, weight, eps);
  // At least float32 (as HF), but float64 stays float64 so that gradient checks are exact.
  at::Tensor xf = x.to(at::promote_types(x.scalar_type(), at::kFloat));
  at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(variance + eps)).to(x.scalar_type());
}

}  // namespace duo
