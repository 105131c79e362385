// RoPE, op for op as transformers' _compute_default/linear/llama3 rope parameters and
// LlamaRotaryEmbedding.forward, so that fp32 results agree to rounding.
#include "model/rope.h"

#include <torch/autograd.h>

#include <cmath>

#include "kernels/decode_ops.h"

namespace duo {

namespace {

at::Tensor rope_inv_freq_cpu(const ModelConfig& cfg) {
  const int64_t dim = cfg.head_dim;
  // Python's `scalar / tensor` is reciprocal(tensor) * scalar; written the same way here.
  at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                        static_cast<double>(dim);
  at::Tensor inv_freq = at::pow(cfg.rope_theta, exponent).reciprocal();
  const RopeScaling& s = cfg.rope_scaling;
  switch (s.type) {
    case RopeType::Default:
      return inv_freq;
    case RopeType::Linear:
      return inv_freq / s.factor;
    case RopeType::Llama3: {
      // Long wavelengths are slowed by `factor`, short ones kept, and the band between the
      // two is interpolated smoothly.
      const double old_len = static_cast<double>(s.original_max_position_embeddings);
      const double low_freq_wavelen = old_len / s.low_freq_factor;
      const double high_freq_wavelen = old_len / s.high_freq_factor;
      at::Tensor wavelen = inv_freq.reciprocal() * (2 * M_PI);
      at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
      at::Tensor smooth = (wavelen.reciprocal() * old_len - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
      at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
      return at::where(medium, smoothed, scaled);
    }
  }
  return inv_freq;
}

}  // namespace

at::Tensor rope_inv_freq(const ModelConfig& cfg, at::Device device) {
  // Always computed on the CPU, where the tests check it against transformers, then moved:
  // an accelerator's pow may round differently.
  return rope_inv_freq_cpu(cfg).to(device);
}

RopeCosSin rope_cos_sin(const at::Tensor& inv_freq, int64_t start_pos, int64_t T, at::ScalarType dtype) {
  return rope_cos_sin_at(inv_freq, at::arange(start_pos, start_pos + T, inv_freq.options().dtype(at::kLong)), dtype);
}

RopeCosSin rope_cos_sin_at(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype) {
  at::Tensor pos = positions.to(at::kFloat);
  at::Tensor freqs = pos.unsqueeze(1) * inv_freq.unsqueeze(0);  // [T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);                  // [T, D]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// On CUDA one kernel (kernels::rope_sequence, the eager ops' roundings) instead of five passes
// over q and k. The rotation is orthogonal and cos/sin repeat over the two halves of the head
// dim (rope_cos_sin), so its gradient is the same rotation with sin negated.
struct RopeNode : public torch::autograd::Function<RopeNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return kernels::rope_sequence(x, cos, sin);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {kernels::rope_sequence(grads[0], saved[0], -saved[1]), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rope_apply(const at::Tensor& x, const RopeCosSin& cs) {
  if (x.is_cuda() && x.scalar_type() != at::kDouble && x.stride(-1) == 1 && cs.cos.scalar_type() == x.scalar_type() &&
      cs.cos.dim() == 2)
    return RopeNode::apply(x, cs.cos, cs.sin);
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({-x2, x1}, -1);
  return x * cs.cos + rotated * cs.sin;
}

}  // namespace duo
