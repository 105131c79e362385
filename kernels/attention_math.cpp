// attention_math.h: softmax(q kᵀ / √D) v over the masked keys, and its backward, in float32
// (float64 for double inputs).
#include "kernels/attention_math.h"

#include <cmath>

namespace duo::kernels {
namespace {

struct Scores {
  at::Tensor k, v, s;  // k, v expanded to the query heads, [n, Hq, keys, D]; s: masked scores [n, Hq, rows, keys]
};

Scores scores(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  const auto type = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t group = q.size(2) / k.size(2);
  auto heads = [&](const at::Tensor& x) { return x.transpose(1, 2).to(type).repeat_interleave(group, 1); };
  Scores m{heads(k), heads(v), {}};
  m.s = at::matmul(q.transpose(1, 2).to(type), m.k.transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  m.s = m.s.masked_fill(mask.logical_not(), -INFINITY);
  return m;
}

}  // namespace

std::pair<at::Tensor, at::Tensor> attention_math_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                         const at::Tensor& mask) {
  Scores m = scores(q, k, v, mask);
  at::Tensor lse = at::logsumexp(m.s, -1);
  at::Tensor out = at::matmul((m.s - lse.unsqueeze(-1)).exp(), m.v);
  return {out.transpose(1, 2).contiguous().to(q.scalar_type()), lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_math_backward(const at::Tensor& dout, const at::Tensor& q,
                                                                       const at::Tensor& k, const at::Tensor& v,
                                                                       const at::Tensor& out, const at::Tensor& lse,
                                                                       const at::Tensor& mask) {
  Scores m = scores(q, k, v, mask);
  const auto type = m.s.scalar_type();
  const int64_t group = q.size(2) / k.size(2);
  at::Tensor prob = (m.s - lse.to(type).unsqueeze(-1)).exp();
  at::Tensor d_o = dout.transpose(1, 2).to(type), o = out.transpose(1, 2).to(type);
  at::Tensor ds = prob * (at::matmul(d_o, m.v.transpose(-1, -2)) - (d_o * o).sum(-1, true));
  ds = ds / std::sqrt(double(q.size(3)));
  at::Tensor dq = at::matmul(ds, m.k);
  auto fold = [&](const at::Tensor& x) {  // [n, Hq, keys, D] -> the KV heads' sums, [n, keys, Hkv, D]
    return x.view({x.size(0), k.size(2), group, x.size(2), x.size(3)}).sum(2).transpose(1, 2);
  };
  at::Tensor dk = fold(at::matmul(ds.transpose(-1, -2), q.transpose(1, 2).to(type)));
  at::Tensor dv = fold(at::matmul(prob.transpose(-1, -2), d_o));
  return {dq.transpose(1, 2).to(q.scalar_type()), dk.to(k.scalar_type()), dv.to(v.scalar_type())};
}

at::Tensor repeat_kv_heads(const at::Tensor& kv, int64_t group) {
  if (group == 1) return kv;
  auto s = kv.sizes();
  return kv.unsqueeze(2).expand({s[0], s[1], group, s[2], s[3]}).reshape({s[0], s[1] * group, s[2], s[3]});
}

}  // namespace duo::kernels
