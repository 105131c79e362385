// Weight layout, loading and the decoder forward pass, following transformers'
// modeling_llama / modeling_qwen3: pre-norm attention and SwiGLU MLP blocks with residuals.
#include "model/llama.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_set>

#include "kernels/decode_ops.h"
#include "kernels/matvec.h"
#include "model/checkpoint.h"
#include "model/rms_norm.h"
#include "model/swiglu.h"
#include "model/rope.h"
#include "util/error.h"

namespace duo {
namespace {

// Builds a model by asking `get(name, shape)` for every weight, in a fixed order (so a seeded
// random model is reproducible) and with the names transformers uses.
using Getter = std::function<at::Tensor(const std::string& name, std::vector<int64_t> shape, bool is_norm)>;

void build(const ModelConfig& c, const Getter& get, at::Tensor& embed, at::Tensor& norm, at::Tensor& head,
           std::vector<LlamaModel::Layer>& layers) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
  const int64_t qdim = c.num_attention_heads * D, kvdim = c.num_key_value_heads * D;
  embed = get("model.embed_tokens.weight", {c.vocab_size, H}, false);
  layers.resize(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LlamaModel::Layer& l = layers[i];
    l.input_norm = get(p + "input_layernorm.weight", {H}, true);
    l.wq = get(p + "self_attn.q_proj.weight", {qdim, H}, false);
    l.wk = get(p + "self_attn.k_proj.weight", {kvdim, H}, false);
    l.wv = get(p + "self_attn.v_proj.weight", {kvdim, H}, false);
    l.wo = get(p + "self_attn.o_proj.weight", {H, qdim}, false);
    if (c.attention_bias) {
      l.bq = get(p + "self_attn.q_proj.bias", {qdim}, false);
      l.bk = get(p + "self_attn.k_proj.bias", {kvdim}, false);
      l.bv = get(p + "self_attn.v_proj.bias", {kvdim}, false);
    }
    if (c.o_bias) l.bo = get(p + "self_attn.o_proj.bias", {H}, false);
    if (c.qk_norm) {
      l.q_norm = get(p + "self_attn.q_norm.weight", {D}, true);
      l.k_norm = get(p + "self_attn.k_norm.weight", {D}, true);
    }
    l.post_attention_norm = get(p + "post_attention_layernorm.weight", {H}, true);
    l.w_gate = get(p + "mlp.gate_proj.weight", {I, H}, false);
    l.w_up = get(p + "mlp.up_proj.weight", {I, H}, false);
    l.w_down = get(p + "mlp.down_proj.weight", {H, I}, false);
    if (c.mlp_bias) {
      l.b_gate = get(p + "mlp.gate_proj.bias", {I}, false);
      l.b_up = get(p + "mlp.up_proj.bias", {I}, false);
      l.b_down = get(p + "mlp.down_proj.bias", {H}, false);
    }
  }
  norm = get("model.norm.weight", {H}, true);
  // Tied checkpoints usually omit lm_head.weight; when tied, transformers ignores it anyway.
  head = c.tie_word_embeddings ? embed : get("lm_head.weight", {c.vocab_size, H}, false);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// Tensors transformers drops without a word when it loads these architectures: the rotary
// inverse frequencies older checkpoints saved for every layer, and the lm_head.weight of a tied
// model (the head is the embedding).
bool ignored_by_transformers(const std::string& name, const ModelConfig& c) {
  return name.find("rotary_emb.inv_freq") != std::string::npos ||
         (c.tie_word_embeddings && name == "lm_head.weight");
}

// Every weight is checked (present, shape, dtype) before any is copied, and every tensor of the
// checkpoint must be one of them: a config.json describing fewer layers (or no biases) than the
// weights hold would otherwise run a different model without a word.
void check_weights(const Checkpoint& ckpt) {
  const ModelConfig& c = ckpt.config();
  std::unordered_set<std::string> wanted;
  at::Tensor embed, norm, head;
  std::vector<LlamaModel::Layer> layers;
  build(c, [&](const std::string& name, std::vector<int64_t> shape, bool) {
          ckpt.check(name, shape);
          wanted.insert(name);
          return at::Tensor();
        },
        embed, norm, head, layers);
  const auto unused = ckpt.unused([&](const std::string& name) {
    return wanted.count(name) || ignored_by_transformers(name, c);
  });
  if (unused.empty()) return;
  // Layers beyond num_hidden_layers are the usual cause; say so when that is what they are.
  const std::string layer_prefix = "model.layers.";
  int64_t layers_held = 0;
  for (const auto& u : unused)
    if (u.name.rfind(layer_prefix, 0) == 0)
      layers_held = std::max<int64_t>(layers_held, std::atoll(u.name.c_str() + layer_prefix.size()) + 1);
  const std::string why =
      layers_held > c.num_hidden_layers
          ? "config.json says num_hidden_layers " + std::to_string(c.num_hidden_layers) + ", the weights hold " +
                std::to_string(layers_held) + " layers"
          : "config.json and the weights describe different models";
  throw Error(unused.front().file, "tensor '" + unused.front().name + "' is not used by the model config.json describes (" +
                                       std::to_string(unused.size()) + " unused tensor" + (unused.size() > 1 ? "s" : "") +
                                       " in all: " + why + ")");
}

}  // namespace

LlamaModel LlamaModel::load(const std::filesystem::path& dir, at::ScalarType dtype, at::Device device,
                            bool with_lm_head) {
  Checkpoint ckpt(dir);
  check_weights(ckpt);
  LlamaModel m;
  m.cfg_ = ckpt.config();
  build(m.cfg_, [&](const std::string& name, std::vector<int64_t> shape, bool) {
          if (!with_lm_head && name == "lm_head.weight") return at::Tensor();
          return ckpt.load(name, shape, dtype, device);
        },
        m.embed_tokens_, m.norm_, m.lm_head_, m.layers_);
  m.inv_freq_ = rope_inv_freq(m.cfg_, device);
  return m;
}

LlamaModel LlamaModel::random(const ModelConfig& cfg, uint64_t seed, at::ScalarType dtype, at::Device device,
                              bool with_lm_head) {
  // A private CPU generator keeps the global one untouched; on an accelerator the device's
  // default generator is seeded instead, so that large models are drawn where they live.
  at::Generator gen = device.is_cpu() ? at::detail::createCPUGenerator(seed)
                                      : at::globalContext().defaultGenerator(device);
  if (!device.is_cpu()) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  LlamaModel m;
  m.cfg_ = cfg;
  build(cfg, [&](const std::string& name, std::vector<int64_t> shape, bool is_norm) {
          if (!with_lm_head && name == "lm_head.weight") return at::Tensor();
          return is_norm ? at::ones(shape, opts) : at::empty(shape, opts).normal_(0.0, 0.02, gen);
        },
        m.embed_tokens_, m.norm_, m.lm_head_, m.layers_);
  m.inv_freq_ = rope_inv_freq(cfg, device);
  return m;
}

std::vector<std::pair<std::string, at::Tensor>> LlamaModel::named_weights() const {
  // The names and order of build(); weights the architecture lacks are undefined and skipped.
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    if (t.defined()) out.emplace_back(name, t);
  };
  add("model.embed_tokens.weight", embed_tokens_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const Layer& l = layers_[i];
    add(p + "input_layernorm.weight", l.input_norm);
    add(p + "self_attn.q_proj.weight", l.wq);
    add(p + "self_attn.k_proj.weight", l.wk);
    add(p + "self_attn.v_proj.weight", l.wv);
    add(p + "self_attn.o_proj.weight", l.wo);
    add(p + "self_attn.q_proj.bias", l.bq);
    add(p + "self_attn.k_proj.bias", l.bk);
    add(p + "self_attn.v_proj.bias", l.bv);
    add(p + "self_attn.o_proj.bias", l.bo);
    add(p + "self_attn.q_norm.weight", l.q_norm);
    add(p + "self_attn.k_norm.weight", l.k_norm);
    add(p + "post_attention_layernorm.weight", l.post_attention_norm);
    add(p + "mlp.gate_proj.weight", l.w_gate);
    add(p + "mlp.up_proj.weight", l.w_up);
    add(p + "mlp.down_proj.weight", l.w_down);
    add(p + "mlp.gate_proj.bias", l.b_gate);
    add(p + "mlp.up_proj.bias", l.b_up);
    add(p + "mlp.down_proj.bias", l.b_down);
  }
  add("model.norm.weight", norm_);
  if (!cfg_.tie_word_embeddings) add("lm_head.weight", lm_head_);
  return out;
}

at::Tensor LlamaModel::embed(const at::Tensor& ids) const { return at::embedding(embed_tokens_, ids); }

// How a layer's pieces run. The layer body (LlamaModel::body) is written once over this: the
// eager ops, differentiable, for whole sequences and chunks (EagerKernels), or the decode
// kernels for one token at a device position (DecodeKernels), which fold each residual add into
// the next norm and, with fused_matvec, the norm into the projections' launch.
class LlamaModel::LayerKernels {
 public:
  virtual ~LayerKernels() = default;
  // The residual stream h + delta (delta undefined: h alone), and the rotated q [B, Hq, T, D],
  // k and v [B, Hkv, T, D] of its norm.
  struct AttentionIn {
    at::Tensor h, q, k, v;
  };
  virtual AttentionIn attention_in(const Layer& l, const at::Tensor& h, const at::Tensor& delta) const = 0;
  virtual at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const = 0;
  // h + o and the MLP's input: its gate and up projections, or their SwiGLU (act).
  virtual LayerBody mlp_in(const Layer& l, const at::Tensor& h, const at::Tensor& o) const = 0;
};

namespace {

class EagerKernels : public LlamaModel::LayerKernels {
 public:
  EagerKernels(const ModelConfig& cfg, RopeCosSin cs) : cfg_(cfg), cs_(std::move(cs)) {}
  AttentionIn attention_in(const LlamaModel::Layer& l, const at::Tensor& h_in, const at::Tensor& delta) const override {
    const at::Tensor h = delta.defined() ? h_in + delta : h_in;
    const int64_t B = h.size(0), T = h.size(1), D = cfg_.head_dim;
    const at::Tensor x = rms_norm(h, l.input_norm, cfg_.rms_norm_eps);
    at::Tensor q = linear(x, l.wq, l.bq).view({B, T, cfg_.num_attention_heads, D});
    at::Tensor k = linear(x, l.wk, l.bk).view({B, T, cfg_.num_key_value_heads, D});
    at::Tensor v = linear(x, l.wv, l.bv).view({B, T, cfg_.num_key_value_heads, D}).transpose(1, 2);
    if (cfg_.qk_norm) {
      q = rms_norm(q, l.q_norm, cfg_.rms_norm_eps);
      k = rms_norm(k, l.k_norm, cfg_.rms_norm_eps);
    }
    return {h, rope_apply(q.transpose(1, 2), cs_), rope_apply(k.transpose(1, 2), cs_), v};
  }
  at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const override {
    return linear(x, w, b);
  }
  LlamaModel::LayerBody mlp_in(const LlamaModel::Layer& l, const at::Tensor& h_in, const at::Tensor& o) const override {
    const at::Tensor h = h_in + o;
    const at::Tensor y = rms_norm(h, l.post_attention_norm, cfg_.rms_norm_eps);
    return {h, linear(y, l.w_gate, l.b_gate), linear(y, l.w_up, l.b_up), {}};
  }

 private:
  const ModelConfig& cfg_;
  RopeCosSin cs_;
};

// kernels/decode_ops.h and kernels/matvec.h: fused kernels on CUDA that round like the eager
// ops, the eager ops themselves on the CPU.
class DecodeKernels : public LlamaModel::LayerKernels {
 public:
  DecodeKernels(const ModelConfig& cfg, RopeCosSin cs, bool fused_matvec)
      : cfg_(cfg), cs_(std::move(cs)), fused_(fused_matvec) {}
  AttentionIn attention_in(const LlamaModel::Layer& l, const at::Tensor& h_in, const at::Tensor& delta) const override {
    const int64_t B = h_in.size(0), D = cfg_.head_dim;
    const int64_t Hq = cfg_.num_attention_heads, Hkv = cfg_.num_key_value_heads;
    const double eps = cfg_.rms_norm_eps;
    // With fused_matvec the norm, and RoPE unless per-head q/k norms come between, run inside
    // the projections' launch.
    const bool rope_in_matvec = fused_ && !cfg_.qk_norm;
    at::Tensor h, q, k, v;
    if (fused_) {
      const kernels::OutputRope rope{cs_.cos, cs_.sin, D};
      auto qkv = kernels::norm_matvec(h_in, {delta, l.input_norm, eps}, {{l.wq, l.bq}, {l.wk, l.bk}, {l.wv, l.bv}},
                                      rope_in_matvec ? &rope : nullptr);
      h = qkv.h, q = qkv.out[0], k = qkv.out[1], v = qkv.out[2];
    } else {
      kernels::AddRmsNorm n = kernels::add_rms_norm(h_in, delta, l.input_norm, eps);
      h = n.h;
      q = linear(n.y, l.wq, l.bq), k = linear(n.y, l.wk, l.bk), v = linear(n.y, l.wv, l.bv);
    }
    v = v.view({B, 1, Hkv, D}).transpose(1, 2);
    if (rope_in_matvec) return {h, q.view({B, Hq, 1, D}), k.view({B, Hkv, 1, D}), v};
    q = q.view({B, 1, Hq, D});
    k = k.view({B, 1, Hkv, D});
    if (cfg_.qk_norm) {
      q = kernels::add_rms_norm(q, {}, l.q_norm, eps).y;
      k = kernels::add_rms_norm(k, {}, l.k_norm, eps).y;
    }
    auto [qr, kr] = kernels::rope_qk(q, k, cs_.cos, cs_.sin);
    return {h, qr, kr, v};
  }
  at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const override {
    return fused_ ? kernels::matvec(x, {{w, b}})[0] : linear(x, w, b);
  }
  LlamaModel::LayerBody mlp_in(const LlamaModel::Layer& l, const at::Tensor& h, const at::Tensor& o) const override {
    const double eps = cfg_.rms_norm_eps;
    if (fused_) {
      auto mlp = kernels::norm_matvec_swiglu(h, {o, l.post_attention_norm, eps}, {l.w_gate, l.b_gate}, {l.w_up, l.b_up});
      return {mlp.h, {}, {}, mlp.out[0]};
    }
    kernels::AddRmsNorm n = kernels::add_rms_norm(h, o, l.post_attention_norm, eps);
    return {n.h, {}, {}, kernels::silu_mul(linear(n.y, l.w_gate, l.b_gate), linear(n.y, l.w_up, l.b_up))};
  }

 private:
  const ModelConfig& cfg_;
  RopeCosSin cs_;
  bool fused_;
};

}  // namespace

LlamaModel::LayerBody LlamaModel::body(int layer, const at::Tensor& h, const at::Tensor& delta, Attention& attn,
                                       int64_t start_pos, const at::Tensor* position, const LayerKernels& kernels,
                                       int64_t rows_from) const {
  const Layer& l = layers_.at(layer);
  LayerKernels::AttentionIn in = kernels.attention_in(l, h, delta);
  AttentionInput attention_input{layer, in.q, in.k, in.v, start_pos};
  attention_input.position = position;
  const at::Tensor a = attn.forward(attention_input);  // [B, Hq, T, D]
  const int64_t B = in.h.size(0), T = in.h.size(1);
  if (rows_from < 0 || rows_from >= T) throw std::invalid_argument("layer_body: rows_from outside the sequence");
  const int64_t rows = T - rows_from;
  const at::Tensor o = kernels.project(
      a.transpose(1, 2).narrow(1, rows_from, rows).reshape({B, rows, cfg_.num_attention_heads * cfg_.head_dim}), l.wo,
      l.bo);
  return kernels.mlp_in(l, in.h.narrow(1, rows_from, rows), o);
}

at::Tensor LlamaModel::layer_forward(int layer, const at::Tensor& hidden, int64_t start_pos, Attention& attn,
                                     int64_t rows_from) const {
  return layer_output(layer, layer_body(layer, hidden, start_pos, attn, rows_from));
}

at::Tensor LlamaModel::layer_output(int layer, const LayerBody& body) const {
  const Layer& l = layers_.at(layer);
  return body.h + linear(swiglu(body.gate, body.up), l.w_down, l.b_down);
}

LlamaModel::LayerBody LlamaModel::layer_body(int layer, const at::Tensor& hidden, int64_t start_pos,
                                             Attention& attn, int64_t rows_from) const {
  const EagerKernels kernels(cfg_, rope_cos_sin(inv_freq_, start_pos, hidden.size(1), hidden.scalar_type()));
  return body(layer, hidden, {}, attn, start_pos, nullptr, kernels, rows_from);
}

at::Tensor LlamaModel::final_norm(const at::Tensor& hidden) const { return rms_norm(hidden, norm_, cfg_.rms_norm_eps); }

at::Tensor LlamaModel::lm_head(const at::Tensor& normed_hidden) const {
  if (!lm_head_.defined()) throw std::logic_error("this model was built without its LM head");
  return at::linear(normed_hidden, lm_head_);
}

LlamaModel::Output LlamaModel::forward(const at::Tensor& ids, Attention& attn, int64_t start_pos, bool logits) const {
  at::Tensor h = embed(ids);
  for (int i = 0; i < static_cast<int>(layers_.size()); ++i) h = layer_forward(i, h, start_pos, attn);
  Output out;
  out.hidden = final_norm(h);
  if (logits) out.logits = lm_head(out.hidden);
  return out;
}

LlamaModel::Output LlamaModel::decode_step(const at::Tensor& ids, Attention& attn, const at::Tensor& position,
                                           int64_t start_pos, bool logits, bool fused_matvec) const {
  if (ids.dim() != 2 || ids.size(1) != 1) throw std::invalid_argument("decode_step: ids must be [B, 1]");
  const at::Tensor pos = position.reshape({1});
  const DecodeKernels kernels(cfg_, rope_cos_sin_at(inv_freq_, pos, dtype()), fused_matvec);
  // The residual stream is h + delta: each layer's last add is folded into the next norm.
  at::Tensor h = embed(ids), delta;
  for (int i = 0; i < static_cast<int>(layers_.size()); ++i) {
    LayerBody b = body(i, h, delta, attn, start_pos, &pos, kernels, 0);
    h = b.h;
    delta = kernels.project(b.act, layers_[i].w_down, layers_[i].b_down);
  }
  Output out;
  out.hidden = kernels::add_rms_norm(h, delta, norm_, cfg_.rms_norm_eps).y;
  if (logits) out.logits = fused_matvec && lm_head_.defined() ? kernels::matvec(out.hidden, {{lm_head_, {}}})[0]
                                                               : lm_head(out.hidden);
  return out;
}

}  // namespace duo
