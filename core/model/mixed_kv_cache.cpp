#include "model/mixed_kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/decode_attention.h"

namespace duo {

HeadPattern HeadPattern::uniform(int64_t num_layers, int64_t num_kv_heads, bool retrieval,
                                 int64_t sink, int64_t recent) {
  HeadPattern p;
  p.num_layers = num_layers;
  p.num_kv_heads = num_kv_heads;
  p.retrieval.assign(num_layers * num_kv_heads, retrieval ? 1 : 0);
  p.window = {sink, recent};
  return p;
}

namespace {

// Query heads of the given KV heads: KV head h serves query heads h*group .. h*group+group-1.
at::Tensor query_heads(const at::Tensor& kv_heads, int64_t group) {
  return (kv_heads.unsqueeze(1) * group + at::arange(group, kv_heads.options())).flatten();
}

}  // namespace

MixedKVCacheAttention::MixedKVCacheAttention(const HeadPattern& pattern, int64_t batch,
                                             int64_t max_length, int64_t head_dim,
                                             at::ScalarType dtype, at::Device device)
    : pattern_(pattern), max_length_(max_length), layers_(pattern.num_layers) {
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  if (pattern.window.granularity != StreamingGranularity::token)
    throw std::invalid_argument("MixedKVCacheAttention: a deployed window counts tokens, not blocks");
  const int64_t sink_cap = std::min(pattern.window.sink, max_length);
  const int64_t recent_cap = std::min(pattern.window.recent, std::max<int64_t>(0, max_length - sink_cap));
  sink_cap_ = sink_cap;
  recent_cap_ = recent_cap;
  const auto index_opts = at::TensorOptions().dtype(at::kLong).device(device);
  step_slot_ = at::zeros({1}, index_opts);
  stream_length_ = at::full({1}, sink_cap + recent_cap, index_opts);
  for (int64_t layer = 0; layer < pattern.num_layers; ++layer) {
    std::vector<int64_t> r, s;
    for (int64_t h = 0; h < pattern.num_kv_heads; ++h)
      (pattern.is_retrieval(layer, h) ? r : s).push_back(h);
    Layer& l = layers_[layer];
    l.retrieval_idx = at::tensor(r, at::kLong).to(device);
    l.streaming_idx = at::tensor(s, at::kLong).to(device);
    const auto nr = static_cast<int64_t>(r.size()), ns = static_cast<int64_t>(s.size());
    l.full_k = at::empty({batch, nr, max_length, head_dim}, opts);
    l.full_v = at::empty_like(l.full_k);
    // One buffer per streaming cache, sink slots first, so that decode attention reads both
    // parts as one range of sink + recent positions.
    l.stream_k = at::empty({batch, ns, sink_cap + recent_cap, head_dim}, opts);
    l.stream_v = at::empty_like(l.stream_k);
    l.sink_k = l.stream_k.narrow(2, 0, sink_cap);
    l.sink_v = l.stream_v.narrow(2, 0, sink_cap);
    l.recent_k = l.stream_k.narrow(2, sink_cap, recent_cap);
    l.recent_v = l.stream_v.narrow(2, sink_cap, recent_cap);
    has_streaming_ = has_streaming_ || ns > 0;
  }
}

int64_t MixedKVCacheAttention::kv_bytes() const {
  int64_t bytes = 0;
  for (const Layer& l : layers_)
    for (const at::Tensor* t : {&l.full_k, &l.full_v, &l.stream_k, &l.stream_v})
      bytes += static_cast<int64_t>(t->nbytes());
  return bytes;
}

void MixedKVCacheAttention::fill_random(int64_t length) {
  if (length > max_length_) throw std::invalid_argument("fill_random: length exceeds max_length");
  for (Layer& l : layers_) {
    for (at::Tensor* t : {&l.full_k, &l.full_v}) t->narrow(2, 0, length).normal_();
    for (at::Tensor* t : {&l.stream_k, &l.stream_v}) t->normal_();
    l.length = length;
  }
  length_ = length;
}

at::Tensor MixedKVCacheAttention::attend_streaming(Layer& l, const at::Tensor& q,
                                                   const at::Tensor& k, const at::Tensor& v,
                                                   int64_t start) {
  const int64_t T = k.size(2), group = q.size(1) / k.size(1);
  const int64_t sink_cap = l.sink_k.size(2), recent_cap = l.recent_k.size(2);
  const int64_t n_sink = std::min(start, sink_cap);
  const int64_t n_recent = std::min(std::max<int64_t>(0, start - sink_cap), recent_cap);

  // Keys: sink tokens, recent buffer (order is irrelevant: RoPE is already in k), the chunk.
  auto keys = at::cat({l.sink_k.narrow(2, 0, n_sink), l.recent_k.narrow(2, 0, n_recent), k}, 2);
  auto values = at::cat({l.sink_v.narrow(2, 0, n_sink), l.recent_v.narrow(2, 0, n_recent), v}, 2);
  // Every query sees all the earlier tokens kept and the chunk up to itself: causal attention
  // aligned at the bottom-right corner of [chunk, kept + chunk] (flash on a GPU).
  at::Tensor out = causal_attention(q, keys, values);

  // Keep the chunk's tokens: positions < sink go to the sink buffer, the rest into the ring
  // buffer at slot (position - sink) mod recent_cap (only the last recent_cap of them survive).
  for (int64_t t = 0; t < T; ++t) {
    const int64_t pos = start + t;
    if (pos < sink_cap) {
      l.sink_k.narrow(2, pos, 1).copy_(k.narrow(2, t, 1));
      l.sink_v.narrow(2, pos, 1).copy_(v.narrow(2, t, 1));
    } else if (recent_cap > 0 && pos >= start + T - recent_cap) {
      const int64_t slot = (pos - sink_cap) % recent_cap;
      l.recent_k.narrow(2, slot, 1).copy_(k.narrow(2, t, 1));
      l.recent_v.narrow(2, slot, 1).copy_(v.narrow(2, t, 1));
    }
  }
  return out;
}

bool MixedKVCacheAttention::graph_decodable(int64_t pos) const {
  return pos >= 0 && pos < max_length_ && (!has_streaming_ || pos >= sink_cap_ + recent_cap_);
}

void MixedKVCacheAttention::decoded(int64_t pos) {
  if (pos != length_)
    throw std::logic_error("MixedKVCacheAttention: holds " + std::to_string(length_) +
                           " tokens but was told of a step at " + std::to_string(pos));
  for (Layer& l : layers_) l.length = pos + 1;
  length_ = pos + 1;
}

at::Tensor MixedKVCacheAttention::forward_at_position(Layer& l, const AttentionInput& in) {
  const at::Tensor& pos = *in.position;
  if (in.q.size(2) != 1)
    throw std::invalid_argument("MixedKVCacheAttention: a step with a device position decodes one token");
  if (pos.numel() != 1 || pos.scalar_type() != at::kLong)
    throw std::invalid_argument("MixedKVCacheAttention: the position must be one int64");
  if (!graph_decodable(in.start_pos))
    throw std::logic_error("MixedKVCacheAttention: position " + std::to_string(in.start_pos) +
                           " cannot be decoded with a device position (it must be below max_length " +
                           std::to_string(max_length_) + " and, with streaming heads, at least sink + recent = " +
                           std::to_string(sink_cap_ + recent_cap_) + ")");
  const int64_t B = in.q.size(0), Hq = in.q.size(1), D = in.q.size(3), group = Hq / in.k.size(1);
  const at::Tensor p = pos.reshape({1});
  if (in.layer == 0 && recent_cap_ > 0)  // once per step, for every layer
    step_slot_.copy_(p).sub_(sink_cap_).remainder_(recent_cap_).add_(sink_cap_);
  // One attention call for both kinds of heads, the token itself as an extra key (the full
  // cache holds `position` tokens before it; the streaming buffers are full), which then stores
  // the token: at the position, and in the ring slot it takes from the oldest token.
  const int64_t nr = l.full_k.size(1), ns = l.stream_k.size(1);
  std::vector<kernels::DecodeCache> caches;
  // kv_heads maps a cache's heads onto the layer's only when the layer has both kinds.
  auto cache = [&](const at::Tensor& k, const at::Tensor& v, const at::Tensor& length, const at::Tensor& heads,
                   const at::Tensor& slot) {
    kernels::DecodeCache c;
    c.k_cache = k;
    c.v_cache = v;
    c.length = length;
    c.kv_heads = nr > 0 && ns > 0 ? heads : at::Tensor();
    c.k_new = in.k;
    c.v_new = in.v;
    c.append_slot = slot;
    return c;
  };
  if (nr > 0) caches.push_back(cache(l.full_k, l.full_v, p, l.retrieval_idx, p));
  if (ns > 0) caches.push_back(cache(l.stream_k, l.stream_v, stream_length_, l.streaming_idx,
                                     recent_cap_ > 0 ? step_slot_ : at::Tensor()));
  at::Tensor out = at::empty({B, Hq, 1, D}, in.q.options());
  kernels::decode_attention(out, in.q, caches, group);
  return out;
}

at::Tensor MixedKVCacheAttention::forward(const AttentionInput& in) {
  Layer& l = layers_.at(in.layer);
  if (in.position) return forward_at_position(l, in);
  const int64_t T = in.k.size(2), group = in.q.size(1) / in.k.size(1);
  if (in.start_pos != l.length)
    throw std::logic_error("MixedKVCacheAttention: layer " + std::to_string(in.layer) + " holds " +
                           std::to_string(l.length) + " tokens but was given start_pos " +
                           std::to_string(in.start_pos));
  if (l.length + T > max_length_)
    throw std::invalid_argument("MixedKVCacheAttention: context exceeds max_length " +
                                std::to_string(max_length_));
  if (!l.retrieval_q.defined()) {
    l.retrieval_q = query_heads(l.retrieval_idx, group);
    l.streaming_q = query_heads(l.streaming_idx, group);
  }
  auto attend_retrieval = [&](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    l.full_k.narrow(2, l.length, T).copy_(k);
    l.full_v.narrow(2, l.length, T).copy_(v);
    return causal_attention(q, l.full_k.narrow(2, 0, l.length + T), l.full_v.narrow(2, 0, l.length + T));
  };
  at::Tensor out;
  if (l.streaming_idx.numel() == 0) {  // a layer of retrieval heads only: no head shuffling
    out = attend_retrieval(in.q, in.k, in.v);
  } else if (l.retrieval_idx.numel() == 0) {  // streaming heads only
    out = attend_streaming(l, in.q, in.k, in.v, l.length);
  } else {
    out = at::empty_like(in.q);
    out.index_copy_(1, l.retrieval_q,
                    attend_retrieval(in.q.index_select(1, l.retrieval_q), in.k.index_select(1, l.retrieval_idx),
                                     in.v.index_select(1, l.retrieval_idx)));
    out.index_copy_(1, l.streaming_q,
                    attend_streaming(l, in.q.index_select(1, l.streaming_q), in.k.index_select(1, l.streaming_idx),
                                     in.v.index_select(1, l.streaming_idx), l.length));
  }
  l.length += T;
  if (in.layer == pattern_.num_layers - 1) length_ = l.length;
  return out;
}

at::Tensor streaming_mask_for_chunks(int64_t T, int64_t chunk, int64_t sink, int64_t recent) {
  auto opts = at::TensorOptions().dtype(at::kLong);
  auto p = at::arange(T, opts).unsqueeze(1);
  auto j = at::arange(T, opts).unsqueeze(0);
  auto chunk_start = p.div(chunk, "floor") * chunk;
  // Seen: the sink, the chunk so far, and the `recent` tokens before the chunk.
  return j.le(p).logical_and(j.lt(sink).logical_or(j.ge(chunk_start - recent)));
}

int64_t pattern_kv_bytes(const HeadPattern& pattern, int64_t batch, int64_t max_length,
                         int64_t head_dim, int64_t dtype_bytes) {
  const int64_t streaming_tokens = std::min(max_length, pattern.window.sink + pattern.window.recent);
  int64_t tokens = 0;
  for (int64_t layer = 0; layer < pattern.num_layers; ++layer)
    for (int64_t h = 0; h < pattern.num_kv_heads; ++h)
      tokens += pattern.is_retrieval(layer, h) ? max_length : streaming_tokens;
  return 2 * tokens * batch * head_dim * dtype_bytes;
}

}  // namespace duo
