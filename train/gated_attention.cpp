#include "gated_attention.h"

#include <stdexcept>

namespace duo {

at::Tensor masked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask) {
  // SDPA's memory-efficient kernel takes a mask but not enable_gqa (its fallback would
  // materialize every score), so KV heads are expanded to their query groups instead.
  const int64_t group = q.size(1) / k.size(1);
  return at::scaled_dot_product_attention(q, repeat_kv_heads(k, group), repeat_kv_heads(v, group), mask);
}

at::Tensor FullAttentionRecorder::forward(const AttentionInput& in) {
  auto out = causal_attention(in.q, in.k, in.v);
  if (static_cast<int>(outputs_.size()) <= in.layer) outputs_.resize(in.layer + 1);
  outputs_[in.layer] = out.detach();
  return out;
}

const at::Tensor& FullAttentionRecorder::output(int layer) const {
  if (layer >= static_cast<int>(outputs_.size()) || !outputs_[layer].defined())
    throw std::logic_error("reference mode: the reference pass did not record this layer");
  return outputs_[layer];
}

GatedAttention::GatedAttention(at::Tensor gates, StreamingWindow window, GateMode mode,
                               const FullAttentionRecorder* recorder)
    : gates_(std::move(gates)), window_(window), mode_(mode), recorder_(recorder) {
  if (mode_ == GateMode::reference && recorder_ == nullptr)
    throw std::logic_error("GateMode::reference needs the reference pass's recorder");
}

const at::Tensor& GatedAttention::mask(int64_t T, at::Device device) {
  if (!mask_.defined() || mask_.size(0) != T || mask_.device() != device)
    mask_ = streaming_mask(window_, T, device);
  return mask_;
}

at::Tensor GatedAttention::forward(const AttentionInput& in) {
  // Training always runs whole sequences from position 0; the mask assumes it.
  if (in.start_pos != 0) throw std::logic_error("GatedAttention expects whole sequences");
  const int64_t hq = in.q.size(1), hkv = in.k.size(1), T = in.q.size(2);
  // [Hkv] -> [1, Hq, 1, 1]: each query head takes its KV head's gate.
  auto alpha = gates_[in.layer].unsqueeze(1).expand({hkv, hq / hkv}).reshape({1, hq, 1, 1}).to(in.q.scalar_type());
  auto streaming = masked_attention(in.q, in.k, in.v, mask(T, in.q.device()));
  auto full = mode_ == GateMode::paper ? causal_attention(in.q, in.k, in.v) : recorder_->output(in.layer);
  return alpha * full + (1 - alpha) * streaming;
}

}  // namespace duo
