// swiglu (see swiglu.h).
#include "model/swiglu.h"

#include <torch/autograd.h>

#include "kernels/decode_ops.h"
#include "kernels/training_ops.h"

namespace duo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// On CUDA the forward is one kernel (kernels::silu_mul, the eager ops' roundings) instead of two
// passes over the [T, intermediate] activations, and autograd keeps gate and up only instead of
// also silu(gate). Backward, one kernel too (kernels::silu_mul_backward):
// d gate = dy · up · silu'(gate), d up = dy · silu(gate).
struct SwigluNode : public torch::autograd::Function<SwigluNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return kernels::silu_mul(gate, up);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &gate = saved[0], &up = saved[1], &dy = grads[0];
    auto [d_gate, d_up] = kernels::silu_mul_backward(dy, gate, up);
    return {d_gate, d_up};
  }
};

}  // namespace

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  if (gate.is_cuda() && gate.scalar_type() != at::kDouble && up.scalar_type() == gate.scalar_type())
    return SwigluNode::apply(gate, up);
  return at::silu(gate) * up;
}

}  // namespace duo
