#include "gated_attention.h"

#include <stdexcept>

#include <torch/autograd.h>

#include "kernels/streaming_attention.h"
#include "kernels/training_ops.h"

namespace duo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Causal attention as an autograd node whose forward result may have been computed already
// (`kept`, consumed here): its backward needs only q, k, v, the output and the log-sum-exp.
struct FullAttentionNode : public torch::autograd::Function<FullAttentionNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            kernels::CausalAttentionResult* kept) {
    kernels::CausalAttentionResult r;
    if (kept && kept->out.defined()) std::swap(r, *kept);
    else r = kernels::causal_attention_forward(q, k, v);
    ctx->save_for_backward({q, k, v, r.out, r.lse, r.seed, r.offset});
    return r.out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    auto [dq, dk, dv] = kernels::causal_attention_backward(grads[0], s[0], s[1], s[2], {s[3], s[4], s[5], s[6]});
    return {dq, dk, dv, at::Tensor()};
  }
};

// The gate mix as one kernel each way (kernels::gate_mix) instead of ATen's three passes forward
// and five backward, with a reduction per gate, over the layer's [T, Hq·D] attention outputs.
// Its inputs are the attention nodes' own outputs, which those keep for their backward anyway.
struct GateMixNode : public torch::autograd::Function<GateMixNode> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& full, const at::Tensor& streaming,
                            const at::Tensor& alpha) {
    ctx->save_for_backward({full, streaming, alpha});
    return kernels::gate_mix(full, streaming, alpha);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto s = ctx->get_saved_variables();
    kernels::GateMixGrads g = kernels::gate_mix_backward(grads[0], s[0], s[1], s[2]);
    return {g.d_full, g.d_streaming, g.d_alpha};
  }
};

}  // namespace

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
                               const FullAttentionRecorder* recorder, bool keep_full_attention,
                               ActivationOffload* offload)
    : gates_(std::move(gates)),
      window_(window),
      mode_(mode),
      recorder_(recorder),
      keep_full_attention_(keep_full_attention),
      offload_(offload),
      kept_(gates_.size(0)) {
  if (mode_ == GateMode::reference && recorder_ == nullptr)
    throw std::logic_error("GateMode::reference needs the reference pass's recorder");
}

at::Tensor GatedAttention::forward(const AttentionInput& in) {
  // Training always runs whole sequences from position 0; the window assumes it.
  if (in.start_pos != 0) throw std::logic_error("GatedAttention expects whole sequences");
  const int64_t hq = in.q.size(1), hkv = in.k.size(1);
  // [Hkv] -> [Hq]: each query head takes its KV head's gate.
  auto alpha = gates_[in.layer].unsqueeze(1).expand({hkv, hq / hkv}).reshape({hq});
  auto streaming = kernels::streaming_attention(in.q, in.k, in.v, window_);
  auto full = mode_ == GateMode::paper ? full_attention(in) : recorder_->output(in.layer);
  return GateMixNode::apply(full, streaming, alpha);
}

at::Tensor GatedAttention::full_attention(const AttentionInput& in) {
  if (!kernels::causal_attention_supported(in.q)) return causal_attention(in.q, in.k, in.v);  // SDPA, autograd
  kernels::CausalAttentionResult& kept = kept_.at(in.layer);
  if (at::GradMode::is_enabled()) {
    if (offload_ && kept.lse.defined() && !kept.out.defined())
      kept.out = offload_->take(in.layer, ActivationOffload::Kind::full_attention);
    return FullAttentionNode::apply(in.q, in.k, in.v, &kept);
  }
  // A pass that records nothing: activation checkpointing's first pass, recomputed later. Unless
  // its result is kept for the recomputation, it needs no log-sum-exp (SDPA then runs cuDNN's
  // inference kernel).
  if (!keep_full_attention_) return causal_attention(in.q, in.k, in.v);
  // With an offload, what is kept waits in host memory while the host budget lasts, and on the
  // GPU after that, as the layer inputs do.
  kernels::CausalAttentionResult r = kernels::causal_attention_forward(in.q, in.k, in.v);
  at::Tensor out = r.out;
  kept = std::move(r);
  if (offload_) {
    offload_->put(in.layer, ActivationOffload::Kind::full_attention, out);
    kept.out = at::Tensor();
  }
  return out;
}

}  // namespace duo
