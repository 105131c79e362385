// Streaming attention (streaming_attention.h): the flash decomposition, its backward, and the
// dense-mask reference.
#include "kernels/streaming_attention.h"

#include "kernels/attention_math.h"
#include "kernels/training_ops.h"

#include <torch/autograd.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <string>
#include <vector>

namespace duo::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One flash call of the decomposition. Its queries are rows [q0, q0 + chunks·rows) of the
// sequence, taken as `chunks` batch elements of `rows` queries each; chunk m attends keys
// [k0 + m·keys, k0 + (m + 1)·keys). The parts' key sets are disjoint for every query and
// together make up exactly the keys the window allows.
struct Part {
  int64_t q0, rows, chunks;
  int64_t k0, keys;
  bool causal;               // within the chunk, aligned at the top left (rows == keys)
  int64_t window_left = -1;  // flash's sliding window: keys i − window_left .. i; -1: none
};

// Token granularity, for T tokens: the window (keys i − recent + 1 .. i) for every query, plus
// the sink keys outside the window — j ≤ i − recent for the `sink` queries after the first
// `recent` (a causal triangle), all `sink` keys for the queries after those.
std::vector<Part> token_parts(const StreamingWindow& w, int64_t T) {
  std::vector<Part> parts{{0, T, 1, 0, T, true, w.recent - 1}};
  const int64_t s = w.sink, r = w.recent;
  if (s > 0 && T > r) {
    const int64_t n = std::min(s, T - r);
    parts.push_back({r, n, 1, 0, n, true});
  }
  if (s > 0 && T > r + s) parts.push_back({r + s, T - r - s, 1, 0, s, false});
  return parts;
}

// Block granularity, for T a multiple of the block size bs: the diagonal block (causal) and the
// recent/bs − 1 blocks before it, each as one call batched over all query blocks; then the
// sink blocks outside the window — all sink/bs of them for the query blocks from
// sink/bs + recent/bs − 1 on, the first b − recent/bs + 1 of them for the query blocks b before.
std::vector<Part> block_parts(const StreamingWindow& w, int64_t T) {
  const int64_t bs = w.block_size, nb = T / bs, sb = w.sink / bs, rb = w.recent / bs;
  std::vector<Part> parts{{0, bs, nb, 0, bs, true}};
  for (int64_t d = 1; d < rb && d < nb; ++d) parts.push_back({d * bs, bs, nb - d, 0, bs, false});
  for (int64_t b = rb; b < std::min(nb, sb + rb - 1); ++b) parts.push_back({b * bs, bs, 1, 0, (b - rb + 1) * bs, false});
  if (sb > 0 && nb > sb + rb - 1) {
    const int64_t q0 = (sb + rb - 1) * bs;
    parts.push_back({q0, T - q0, 1, 0, sb * bs, false});
  }
  return parts;
}

std::vector<Part> plan(const StreamingWindow& w, int64_t T) {
  return w.granularity == StreamingGranularity::token ? token_parts(w, T) : block_parts(w, T);
}

// [1, T, H, D] -> the part's [chunks, n, H, D] view of rows [first, first + chunks·n).
at::Tensor chunked(const at::Tensor& x, int64_t first, int64_t chunks, int64_t n) {
  return x.narrow(1, first, chunks * n).view({chunks, n, x.size(2), x.size(3)});
}

// [1, H, T] log-sum-exps -> the part's [chunks, H, rows], contiguous as flash wants it.
at::Tensor lse_of_part(const at::Tensor& lse, const Part& p) {
  const int64_t H = lse.size(1);
  return lse.narrow(2, p.q0, p.chunks * p.rows).view({H, p.chunks, p.rows}).permute({1, 0, 2}).contiguous();
}

std::optional<int64_t> left(const Part& p) { return p.window_left >= 0 ? std::optional<int64_t>(p.window_left) : std::nullopt; }
std::optional<int64_t> right(const Part& p) { return p.window_left >= 0 ? std::optional<int64_t>(0) : std::nullopt; }

// Whether a part runs in libtorch's flash kernel; otherwise in plain ATen ops (attention_math.h),
// which take any device and dtype and exist so that the decomposition itself is testable on the
// CPU.
bool use_flash(const at::Tensor& q) {
  return q.is_cuda() && (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf);
}

// A part's keys visible to each query, [rows, keys]: the chunk's causal triangle and window.
at::Tensor part_mask(const Part& p, at::Device device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  auto r = at::arange(p.rows, opts).unsqueeze(1), c = at::arange(p.keys, opts).unsqueeze(0);
  at::Tensor m = at::ones({p.rows, p.keys}, opts.dtype(at::kBool));
  if (p.causal) m = m.logical_and(c.le(r));
  if (p.window_left >= 0) m = m.logical_and(c.ge(r - p.window_left));
  return m;
}

std::pair<at::Tensor, at::Tensor> part_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               const Part& p) {
  if (!use_flash(q)) return attention_math_forward(q, k, v, part_mask(p, q.device()));
  auto [o, l, seed, offset, dbg] = at::_flash_attention_forward(q, k, v, std::nullopt, std::nullopt, p.rows, p.keys, 0.0,
                                                                p.causal, false, std::nullopt, left(p), right(p));
  if (l.dim() != 3 || l.size(0) != p.chunks || l.size(1) != q.size(2) || l.size(2) != p.rows)
    throw std::runtime_error("streaming_attention: flash returned a log-sum-exp that is not [chunks, heads, rows]");
  return {o, l};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> part_backward(const at::Tensor& dout, const at::Tensor& q,
                                                             const at::Tensor& k, const at::Tensor& v,
                                                             const at::Tensor& out, const at::Tensor& lse,
                                                             const Part& p) {
  if (!use_flash(q)) return attention_math_backward(dout, q, k, v, out, lse, part_mask(p, q.device()));
  // Without dropout flash reads no random state; these stand in for it.
  const at::Tensor no_rng = at::zeros({2}, q.options().dtype(at::kLong));
  return at::_flash_attention_backward(dout, q, k, v, out, lse, at::Tensor(), at::Tensor(), p.rows, p.keys, 0.0,
                                       p.causal, no_rng, no_rng, std::nullopt, left(p), right(p));
}

// The rows [first, first + count) of each part after the first: its queries, or its keys.
using RowRanges = std::vector<std::pair<int64_t, int64_t>>;

// The rows that more than one of `ranges` covers, as one span [lo, hi) (empty: lo == hi).
std::pair<int64_t, int64_t> overlap_span(const RowRanges& ranges) {
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < ranges.size(); ++i)
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      const int64_t a = std::max(ranges[i].first, ranges[j].first);
      const int64_t b = std::min(ranges[i].first + ranges[i].second, ranges[j].first + ranges[j].second);
      if (a >= b) continue;
      if (lo == hi) lo = a, hi = b;
      else lo = std::min(lo, a), hi = std::max(hi, b);
    }
  return {lo, hi};
}

RowRanges query_rows(const std::vector<Part>& parts) {
  RowRanges r;
  for (size_t i = 1; i < parts.size(); ++i) r.push_back({parts[i].q0, parts[i].chunks * parts[i].rows});
  return r;
}

RowRanges key_rows(const std::vector<Part>& parts) {
  RowRanges r;
  for (size_t i = 1; i < parts.size(); ++i) r.push_back({parts[i].k0, parts[i].chunks * parts[i].keys});
  return r;
}

// The sum of the parts' gradients of one of q, k, v, [1, T, H, D]: the first part's, which
// covers every row, plus the later parts'. A row that one later part adds to is added in place
// (ATen adds in float32 and rounds once); the rows that several add to are summed in a float32
// slab and rounded once at the end. Either way each row is its float32 sum rounded once, without
// a float32 copy of the whole tensor.
class GradSum {
 public:
  GradSum(at::Tensor first, const RowRanges& later) : total_(std::move(first)) {
    std::tie(lo_, hi_) = overlap_span(later);
    if (hi_ > lo_) slab_ = total_.narrow(1, lo_, hi_ - lo_).to(at::promote_types(total_.scalar_type(), at::kFloat));
  }
  void add(int64_t row0, const at::Tensor& g) {  // g: [1, n, H, D], rows [row0, row0 + n)
    const int64_t end = row0 + g.size(1);
    const int64_t a = std::max(row0, lo_), b = std::min(end, hi_);
    if (a >= b) {
      total_.narrow(1, row0, g.size(1)).add_(g);
      return;
    }
    slab_.narrow(1, a - lo_, b - a).add_(g.narrow(1, a - row0, b - a));
    if (row0 < a) total_.narrow(1, row0, a - row0).add_(g.narrow(1, 0, a - row0));
    if (b < end) total_.narrow(1, b, end - b).add_(g.narrow(1, b - row0, end - b));
  }
  at::Tensor finish() {
    if (slab_.defined()) total_.narrow(1, lo_, hi_ - lo_).copy_(slab_);
    return total_;
  }

 private:
  at::Tensor total_, slab_;
  int64_t lo_ = 0, hi_ = 0;
};

// Queries, keys and values in flash's layout, [1, T, H, D] contiguous; T a multiple of the
// block size for block granularity.
struct StreamingFlash : public torch::autograd::Function<StreamingFlash> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            StreamingWindow w) {
    const int64_t T = q.size(1), H = q.size(2);
    const std::vector<Part> parts = plan(w, T);
    // Where the later parts' queries are disjoint (token granularity) each row merges at most
    // once and the first part's output takes the merges in place (lse_merge_ rounds once);
    // otherwise the rows are merged in float32 and rounded at the end.
    const auto [lo, hi] = overlap_span(query_rows(parts));
    at::Tensor out, lse;
    for (const Part& p : parts) {
      auto [o, l] = part_forward(chunked(q, p.q0, p.chunks, p.rows), chunked(k, p.k0, p.chunks, p.keys),
                                 chunked(v, p.k0, p.chunks, p.keys), p);
      o = o.reshape({1, p.chunks * p.rows, H, q.size(3)});
      l = l.permute({1, 0, 2}).reshape({1, H, p.chunks * p.rows});
      if (!out.defined()) {  // the first part covers every query
        out = hi > lo ? o.to(at::promote_types(o.scalar_type(), at::kFloat)) : o;
        lse = l.contiguous();
        continue;
      }
      const int64_t n = p.chunks * p.rows;
      at::Tensor lse_rows = lse.narrow(2, p.q0, n);
      lse_merge_(out.narrow(1, p.q0, n)[0], lse_rows[0], o[0], l[0]);
      lse_rows.copy_(at::logaddexp(lse_rows, l));
    }
    out = out.to(q.scalar_type());
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["sink"] = w.sink;
    ctx->saved_data["recent"] = w.recent;
    ctx->saved_data["block"] = w.granularity == StreamingGranularity::block ? w.block_size : int64_t{0};
    return out;
  }

  // Each part's flash backward with the merged output and log-sum-exp: the probabilities it
  // recomputes are then those of the whole softmax, and its gradients that part's share.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3], &lse = saved[4];
    StreamingWindow w;
    w.sink = ctx->saved_data["sink"].toInt();
    w.recent = ctx->saved_data["recent"].toInt();
    const int64_t block = ctx->saved_data["block"].toInt();
    w.granularity = block > 0 ? StreamingGranularity::block : StreamingGranularity::token;
    if (block > 0) w.block_size = block;
    const at::Tensor dout = grads[0].contiguous();
    const std::vector<Part> parts = plan(w, q.size(1));
    std::optional<GradSum> dq, dk, dv;
    for (const Part& p : parts) {
      auto [gq, gk, gv] = part_backward(chunked(dout, p.q0, p.chunks, p.rows), chunked(q, p.q0, p.chunks, p.rows),
                                        chunked(k, p.k0, p.chunks, p.keys), chunked(v, p.k0, p.chunks, p.keys),
                                        chunked(out, p.q0, p.chunks, p.rows), lse_of_part(lse, p), p);
      if (!dq) {  // the first part covers every query and key
        dq.emplace(gq.reshape_as(q), query_rows(parts));
        dk.emplace(gk.reshape_as(k), key_rows(parts));
        dv.emplace(gv.reshape_as(v), key_rows(parts));
        continue;
      }
      dq->add(p.q0, gq.reshape({1, p.chunks * p.rows, q.size(2), q.size(3)}));
      dk->add(p.k0, gk.reshape({1, p.chunks * p.keys, k.size(2), k.size(3)}));
      dv->add(p.k0, gv.reshape({1, p.chunks * p.keys, v.size(2), v.size(3)}));
    }
    return {dq->finish().to(q.scalar_type()), dk->finish().to(k.scalar_type()), dv->finish().to(v.scalar_type()),
            at::Tensor()};
  }
};

// Whether every query keeps at least its own key, which the decomposition's first part assumes.
bool window_splits(const StreamingWindow& w) {
  if (w.sink < 0) return false;
  return w.granularity == StreamingGranularity::token ? w.recent >= 1
                                                      : w.block_size > 0 && w.recent / w.block_size >= 1;
}

// One batch element through the decomposition: [1, H, T, D] in and out.
at::Tensor streaming_flash(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const StreamingWindow& w) {
  const int64_t T = q.size(2);
  auto flash_layout = [&](const at::Tensor& x) {
    at::Tensor t = x.transpose(1, 2).contiguous();
    // Block granularity works on whole blocks: zero rows after the end are seen by no real query
    // (they come later, and the diagonal block is causal) and are cut off again below.
    const int64_t pad = w.granularity == StreamingGranularity::block ? (-T % w.block_size + w.block_size) % w.block_size : 0;
    return pad > 0 ? at::constant_pad_nd(t, {0, 0, 0, 0, 0, pad}) : t;
  };
  at::Tensor out = StreamingFlash::apply(flash_layout(q), flash_layout(k), flash_layout(v), w);
  return out.narrow(1, 0, T).transpose(1, 2);
}

}  // namespace

at::Tensor streaming_mask(const StreamingWindow& w, int64_t T, at::Device device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  auto pos = at::arange(T, opts);
  auto qi = pos.unsqueeze(1);  // [T, 1]
  auto kj = pos.unsqueeze(0);  // [1, T]
  auto causal = kj.le(qi);
  if (w.granularity == StreamingGranularity::token) return causal.logical_and(kj.lt(w.sink).logical_or((qi - kj).lt(w.recent)));
  auto qb = qi.div(w.block_size, "floor");
  auto kb = kj.div(w.block_size, "floor");
  return causal.logical_and(kb.lt(w.sink / w.block_size).logical_or((qb - kb).lt(w.recent / w.block_size)));
}

at::Tensor streaming_attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         const StreamingWindow& w) {
  // SDPA's memory-efficient kernel takes a mask but not enable_gqa (its fallback would
  // materialize every score), so KV heads are expanded to their query groups instead.
  const int64_t group = q.size(1) / k.size(1);
  return at::scaled_dot_product_attention(q, repeat_kv_heads(k, group), repeat_kv_heads(v, group),
                                          streaming_mask(w, q.size(2), q.device()));
}

bool streaming_attention_supported(const at::Tensor& q, const StreamingWindow& w) {
  const int64_t D = q.size(-1);
  return use_flash(q) && D % 8 == 0 && D <= 256 && window_splits(w);
}

at::Tensor streaming_attention_split(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                     const StreamingWindow& w) {
  if (!window_splits(w)) throw std::invalid_argument("streaming_attention_split: the window leaves a query no key");
  if (q.size(0) == 1) return streaming_flash(q, k, v, w);
  std::vector<at::Tensor> outs;  // the parts' row ranges are views of one batch element
  for (int64_t b = 0; b < q.size(0); ++b)
    outs.push_back(streaming_flash(q.narrow(0, b, 1), k.narrow(0, b, 1), v.narrow(0, b, 1), w));
  return at::cat(outs, 0);
}

at::Tensor streaming_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const StreamingWindow& w) {
  return streaming_attention_supported(q, w) ? streaming_attention_split(q, k, v, w)
                                             : streaming_attention_reference(q, k, v, w);
}

}  // namespace duo::kernels
