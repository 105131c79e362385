// duo::LlamaModel: the Llama-family decoder (Llama 2/3/3.1/3.2, Mistral, Qwen2, Qwen3) as a
// plain struct of frozen weight tensors. One layer is exposed on its own so that the trainer
// can wrap it in activation checkpointing; attention is delegated to a duo::Attention, and the
// layer stays differentiable with respect to whatever that object holds (gates).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "model/attention.h"
#include "model/model_config.h"

namespace duo {

class LlamaModel {
 public:
  struct Layer {
    at::Tensor input_norm, post_attention_norm;  // [H]
    at::Tensor wq, wk, wv, wo;                   // [Hq·D, H], [Hkv·D, H], [Hkv·D, H], [H, Hq·D]
    at::Tensor bq, bk, bv, bo;                   // biases where the architecture has them, else undefined
    at::Tensor q_norm, k_norm;                   // [D], Qwen3 only
    at::Tensor w_gate, w_up, w_down;             // [I, H], [I, H], [H, I]
    at::Tensor b_gate, b_up, b_down;             // Llama mlp_bias only
  };

  // Loads a Hugging Face checkpoint directory, casting the weights to `dtype` on `device`. Throws
  // duo::Error, before copying any weight, for a weight missing or of the wrong shape or dtype,
  // and for a tensor of the checkpoint the model does not use (except those transformers ignores).
  // with_lm_head false: an untied LM head is checked but not loaded (gate training reads hidden
  // states only; for a 128K vocabulary of width 4096 that is 1 GB of GPU memory), and asking for
  // logits throws.
  static LlamaModel load(const std::filesystem::path& dir, at::ScalarType dtype, at::Device device,
                         bool with_lm_head = true);
  // Random weights (normal, std 0.02; norms 1) at the shapes of `cfg`, reproducible from `seed`
  // (the same draws with or without the LM head, which comes last).
  static LlamaModel random(const ModelConfig& cfg, uint64_t seed, at::ScalarType dtype, at::Device device,
                           bool with_lm_head = true);

  const ModelConfig& config() const { return cfg_; }
  at::ScalarType dtype() const { return embed_tokens_.scalar_type(); }
  at::Device device() const { return embed_tokens_.device(); }

  at::Tensor embed(const at::Tensor& ids) const;  // [B, T] int64 -> [B, T, H]
  // One decoder layer, residuals included: hidden [B, T, H] at positions [start_pos, start_pos + T).
  // rows_from > 0: the output only at rows [rows_from, T), [B, T − rows_from, H], the attention
  // still taking every row's key and value — all that gate training's last layer needs, whose
  // loss reads the answer rows alone (their projections and MLP are the rest of that layer).
  at::Tensor layer_forward(int layer, const at::Tensor& hidden, int64_t start_pos, Attention& attn,
                           int64_t rows_from = 0) const;
  // The same layer up to its MLP's activation: h, the residual stream after the attention
  // block, and the MLP's gate and up projections; the layer's output is
  // layer_output = h + down(silu(gate) · up). Split for activation checkpointing, whose
  // recomputation for backward stops here: backward needs the input gradients of SwiGLU and
  // the down projection (from gate, up and W_down), not their outputs.
  struct LayerBody {
    at::Tensor h, gate, up;
    at::Tensor act;  // silu(gate) · up instead of gate and up, from the decode kernels (decode_step)
  };
  LayerBody layer_body(int layer, const at::Tensor& hidden, int64_t start_pos, Attention& attn,
                       int64_t rows_from = 0) const;
  at::Tensor layer_output(int layer, const LayerBody& body) const;
  at::Tensor final_norm(const at::Tensor& hidden) const;
  at::Tensor lm_head(const at::Tensor& normed_hidden) const;  // [.., H] -> [.., vocab]

  struct Output {
    at::Tensor hidden;  // after the final norm, [B, T, H]
    at::Tensor logits;  // [B, T, vocab], undefined unless asked for
  };
  Output forward(const at::Tensor& ids, Attention& attn, int64_t start_pos = 0, bool logits = true) const;

  // One decode step whose position lives in a device tensor (`position`: int64, one element, on
  // the model's device), so that it can be captured in a CUDA graph and replayed at later
  // positions (core/model/decode_graph.h). ids: [B, 1]; start_pos: the position when the step
  // is called, for the attention's host-side checks; attn must support device positions
  // (MixedKVCacheAttention::graph_decodable). The same function as forward(ids, attn, start_pos): the
  // norms, RoPE and SwiGLU go through kernels/decode_ops.h, which on CUDA are fused kernels that
  // round like the eager ops (reductions may sum in another order) and on the CPU are the
  // eager ops themselves. fused_matvec: the projections and the LM head through
  // kernels/matvec.h (q, k, v in one launch, gate and up with SwiGLU in one, each with the norm
  // before it inside the same launch), which is
  // at::linear wherever its kernels do not apply (the CPU, batches above one); false: at::linear
  // (cuBLAS) everywhere. The layer body is forward()'s own, with these kernels in place of the
  // eager ops (LayerKernels in llama.cpp), not a second forward pass.
  Output decode_step(const at::Tensor& ids, Attention& attn, const at::Tensor& position, int64_t start_pos,
                     bool logits = true, bool fused_matvec = true) const;

  const std::vector<Layer>& layers() const { return layers_; }

  // Every weight under its Hugging Face name (model.embed_tokens.weight, model.layers.N.
  // self_attn.q_proj.weight, ..., lm_head.weight unless tied), in checkpoint order. The tensors
  // are the model's own, not copies: a pretraining program marks them requires_grad and updates
  // them in place, and saving them gives a checkpoint that load() reads back.
  std::vector<std::pair<std::string, at::Tensor>> named_weights() const;

  // How a layer's pieces run (llama.cpp): the eager ops, or the decode kernels.
  class LayerKernels;

 private:
  // The one layer body: hidden h + delta (delta undefined: h alone) through attention and up to
  // the MLP's activation, each piece by `kernels`; position: a device position (decode_step).
  LayerBody body(int layer, const at::Tensor& h, const at::Tensor& delta, Attention& attn, int64_t start_pos,
                 const at::Tensor* position, const LayerKernels& kernels, int64_t rows_from) const;

  ModelConfig cfg_;
  at::Tensor embed_tokens_;  // [vocab, H]
  at::Tensor norm_;          // [H]
  at::Tensor lm_head_;       // [vocab, H]; the embedding itself when tied
  at::Tensor inv_freq_;      // RoPE, fp32 [D / 2]
  std::vector<Layer> layers_;
};

}  // namespace duo
