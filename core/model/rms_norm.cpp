// RMSNorm (see rms_norm.h); the cast back happens before the weight multiply, as in HF.
#include "model/rms_norm.h"

#include <torch/autograd.h>

#include "kernels/decode_ops.h"

namespace duo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// On CUDA the forward is one kernel (kernels::add_rms_norm: the eager ops' roundings, float32
// statistics) instead of the eager ops' seven passes over the activations; gate training
// runs a norm over every token twice per layer and pass. The backward is RMSNorm's gradient in
// float32, the roundings taken as identities:
//   dx = r · (g − x̂ · mean(g ∘ x̂)),  g = dy ∘ w,  x̂ = x · r,  r = 1 / √(mean(x²) + eps)
//   dw = Σ_rows dy ∘ x̂
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
    const at::Tensor xf = x.to(at::kFloat), dy = grads[0].to(at::kFloat);
    const at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, true) + eps), xhat = xf * r;
    const at::Tensor g = dy * saved[1].to(at::kFloat);
    at::Tensor dx = ((g - xhat * (g * xhat).mean(-1, true)) * r).to(x.scalar_type());
    at::Tensor dw;
    if (ctx->needs_input_grad(1))
      dw = (dy * xhat.to(x.scalar_type()).to(at::kFloat)).reshape({-1, x.size(-1)}).sum(0).to(saved[1].scalar_type());
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
