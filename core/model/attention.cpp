// FullAttention and causal attention over a cache, through libtorch's fused scaled-dot-product attention.
#include "model/attention.h"

#include <ATen/Context.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace duo {

namespace {

// libtorch's flash kernel: CUDA half types, head dims up to 256 in multiples of 8, the head dim
// contiguous, query heads a multiple of the KV heads.
bool flash_attention_applies(const at::Tensor& q, const at::Tensor& k) {
  const auto t = q.scalar_type();
  const int64_t D = q.size(3);
  return q.is_cuda() && (t == at::kBFloat16 || t == at::kHalf) && D % 8 == 0 && D <= 256 && q.stride(3) == 1 &&
         k.stride(3) == 1 && q.size(1) % k.size(1) == 0;
}

}  // namespace

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t tq = q.size(2), tk = k.size(2);
  const bool gqa = q.size(1) != k.size(1);
  if (tq == tk)  // the queries are exactly the keys' positions: plain causal mask
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true, {}, gqa);
  // Queries are the last tq of tk positions (a prefill chunk or a token over a cache). Flash's
  // causal mask is aligned at the bottom-right corner, which is exactly that; it takes GQA and
  // the cache's strides as they are, and its kernels do not depend on the key count.
  if (flash_attention_applies(q, k)) {
    auto o = std::get<0>(at::_flash_attention_forward(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                      std::nullopt, std::nullopt, tq, tk, 0.0, /*is_causal=*/true,
                                                      false, std::optional<double>(), std::optional<int64_t>(),
                                                      std::optional<int64_t>()));
    return o.transpose(1, 2);
  }
  ShapeStableAttentionKernels shape_stable;
  if (tq == 1)  // one new token sees everything
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, {}, gqa);
  // Queries are the last tq of tk positions. SDPA's is_causal aligns the mask to the top-left
  // corner, so the bottom-right-aligned mask is spelled out: query i sees keys j ≤ tk - tq + i.
  auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
  at::Tensor qpos = at::arange(tk - tq, tk, opts).unsqueeze(1);
  at::Tensor kpos = at::arange(0, tk, opts).unsqueeze(0);
  return at::scaled_dot_product_attention(q, k, v, kpos <= qpos, 0.0, false, {}, gqa);
}

ShapeStableAttentionKernels::ShapeStableAttentionKernels() : cudnn_was_on_(at::globalContext().userEnabledCuDNNSDP()) {
  at::globalContext().setSDPUseCuDNN(false);
}

ShapeStableAttentionKernels::~ShapeStableAttentionKernels() { at::globalContext().setSDPUseCuDNN(cudnn_was_on_); }

at::Tensor FullAttention::forward(const AttentionInput& in) {
  if (in.position) throw std::logic_error("FullAttention: a step with a device position needs a KV cache");
  return causal_attention(in.q, in.k, in.v);
}

}  // namespace duo
