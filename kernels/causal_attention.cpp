// causal_attention.h: cuDNN's fused attention through libtorch.
#include "kernels/causal_attention.h"

#include <stdexcept>

namespace duo::kernels {

bool causal_attention_supported(const at::Tensor& q) {
  return q.is_cuda() && (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf);
}

CausalAttentionResult causal_attention_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!causal_attention_supported(q)) throw std::invalid_argument("causal_attention_forward: CUDA float16/bfloat16 only");
  auto res = at::_scaled_dot_product_cudnn_attention(q, k, v, std::nullopt, /*compute_log_sumexp=*/true, 0.0,
                                                     /*is_causal=*/true);
  return {std::get<0>(res), std::get<1>(res), std::get<6>(res), std::get<7>(res)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> causal_attention_backward(const at::Tensor& dout, const at::Tensor& q,
                                                                         const at::Tensor& k, const at::Tensor& v,
                                                                         const CausalAttentionResult& f) {
  const int64_t T = q.size(2);
  // cuDNN wants the gradient in the output's memory layout (which the gate mix's backward
  // already writes).
  const at::Tensor g = dout.strides() == f.out.strides() ? dout : at::empty_like(f.out).copy_(dout);
  return at::_scaled_dot_product_cudnn_attention_backward(g, q, k, v, f.out, f.lse, f.seed, f.offset, at::Tensor(),
                                                          at::Tensor(), at::Tensor(), T, T, 0.0, /*is_causal=*/true);
}

}  // namespace duo::kernels
