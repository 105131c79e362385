#include "analysis/attention_scores.h"

#include "kernels/attention_math.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace duo::analysis {

AttentionProbe::AttentionProbe(int num_layers, int num_kv_heads, int64_t sink, int64_t recent)
    : num_layers_(num_layers),
      num_kv_heads_(num_kv_heads),
      sink_(sink),
      recent_(recent),
      needle_(size_t(num_layers) * num_kv_heads, 0.0),
      outside_(size_t(num_layers) * num_kv_heads, 0.0) {}

void AttentionProbe::set_queries(std::vector<ScoredQuery> queries) {
  queries_ = std::move(queries);
  std::fill(needle_.begin(), needle_.end(), 0.0);
  std::fill(outside_.begin(), outside_.end(), 0.0);
  top_keys_.assign(size_t(num_layers_), at::Tensor());
}

at::Tensor AttentionProbe::forward(const AttentionInput& in) {
  if (in.start_pos != 0 || in.q.size(0) != 1 || in.q.size(2) != in.k.size(2))
    throw std::logic_error("AttentionProbe: expects one whole sequence (batch 1, start_pos 0) per forward");
  if (in.layer < 0 || in.layer >= num_layers_ || in.k.size(1) != num_kv_heads_)
    throw std::logic_error("AttentionProbe: layer " + std::to_string(in.layer) + " with " +
                           std::to_string(in.k.size(1)) + " KV heads does not match the probe's shape");
  at::Tensor out = causal_attention(in.q, in.k, in.v);
  if (queries_.empty()) return out;

  const int64_t hq = in.q.size(1), hkv = in.k.size(1), t = in.k.size(2), d = in.q.size(3);
  group_ = hq / hkv;
  const auto device = in.q.device();
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor keys = kernels::repeat_kv_heads(in.k.to(at::kFloat), group_)[0].transpose(1, 2);  // [Hq, D, T]
  const at::Tensor key_pos = at::arange(t, longs).unsqueeze(0);                               // [1, T]
  const double scale = 1.0 / std::sqrt(double(d));
  const int64_t per_chunk = std::max<int64_t>(1, chunk_elements_ / std::max<int64_t>(1, hq * t));

  std::vector<at::Tensor> top;  // per chunk, [Hq, n]
  double* needle = needle_.data() + size_t(in.layer) * num_kv_heads_;
  double* outside = outside_.data() + size_t(in.layer) * num_kv_heads_;
  for (size_t first = 0; first < queries_.size(); first += size_t(per_chunk)) {
    const size_t last = std::min(queries_.size(), first + size_t(per_chunk));
    std::vector<int64_t> rows, starts, ends;
    for (size_t i = first; i < last; ++i) {
      rows.push_back(queries_[i].row);
      starts.push_back(queries_[i].needle_start);
      ends.push_back(queries_[i].needle_end);
    }
    const at::Tensor row = at::tensor(rows, at::kLong).to(device);
    const at::Tensor row_pos = row.unsqueeze(1);  // [n, 1]
    const at::Tensor start = at::tensor(starts, at::kLong).to(device).unsqueeze(1);
    const at::Tensor end = at::tensor(ends, at::kLong).to(device).unsqueeze(1);

    const at::Tensor q = in.q[0].index_select(1, row).to(at::kFloat);  // [Hq, n, D]
    at::Tensor scores = at::matmul(q, keys).mul_(scale);             // [Hq, n, T]
    const at::Tensor causal = key_pos.le(row_pos);                     // [n, T]
    scores.masked_fill_(causal.logical_not(), -std::numeric_limits<float>::infinity());
    const at::Tensor probs = at::softmax(scores, -1);
    top.push_back(std::get<1>(scores.max(-1)).cpu());

    const at::Tensor in_needle = key_pos.ge(start).logical_and(key_pos.lt(end));
    const at::Tensor beyond = causal.logical_and(key_pos.ge(sink_)).logical_and((row_pos - key_pos).ge(recent_));
    // Per row first (each sum <= 1 in fp32), then over rows and the group's heads in fp64.
    auto per_kv_head = [&](const at::Tensor& mask) {
      return probs.mul(mask).sum(-1).to(at::kDouble).sum(1).view({hkv, group_}).sum(1).cpu();
    };
    const at::Tensor nm = per_kv_head(in_needle), om = per_kv_head(beyond);
    for (int64_t h = 0; h < hkv; ++h) {
      needle[h] += nm[h].item<double>();
      outside[h] += om[h].item<double>();
    }
  }
  top_keys_.at(size_t(in.layer)) = at::cat(top, 1);
  return out;
}

std::vector<ScoredQuery> answer_queries(const synth::PasskeySample& s) {
  if (s.answer_spans.size() != s.needle_spans.size())
    throw std::logic_error("passkey sample: answers and needles differ in number");
  std::vector<ScoredQuery> queries;
  for (size_t i = 0; i < s.answer_spans.size(); ++i) {
    const synth::Span& a = s.answer_spans[i];
    const synth::Span& n = s.needle_spans[i];
    const int64_t start = n.end - a.size();  // the passkey closes the needle
    if (a.start < 1 || start < n.start ||
        !std::equal(s.ids.begin() + a.start, s.ids.begin() + a.end, s.ids.begin() + start))
      throw std::logic_error("passkey sample " + std::to_string(s.index) + ": answer " + std::to_string(i) +
                             " is not the passkey at the end of its needle");
    for (int64_t p = a.start; p < a.end; ++p) queries.push_back({p - 1, start, n.end});
  }
  return queries;
}

void HeadScoreSums::add(const HeadScoreSums& o) {
  if (needle.empty()) {
    *this = o;
    return;
  }
  for (size_t i = 0; i < copies.size(); ++i) copies[i] += o.copies[i];
  rows += o.rows;
  correct += o.correct;
  samples += o.samples;
  uniform_needle += o.uniform_needle;
  uniform_outside += o.uniform_outside;
  for (size_t i = 0; i < needle.size(); ++i) {
    needle[i] += o.needle[i];
    outside[i] += o.outside[i];
  }
}

std::vector<float> HeadScoreSums::retrieval_score() const {
  std::vector<float> v(needle.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = rows ? float(needle[i] / double(rows * group)) : 0.0f;
  return v;
}

std::vector<float> HeadScoreSums::copy_score() const {
  std::vector<float> v(needle.size(), 0.0f);
  for (size_t i = 0; i < copies.size(); ++i) {
    float& kv = v[i / size_t(group)];
    kv = std::max(kv, rows ? float(copies[i] / double(rows)) : 0.0f);
  }
  return v;
}

std::vector<float> HeadScoreSums::outside_window_mass() const {
  std::vector<float> v(outside.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = rows ? float(outside[i] / double(rows * group)) : 0.0f;
  return v;
}

HeadScoreSums score_sample(const LlamaModel& model, const synth::PasskeySample& sample, int64_t sink, int64_t recent) {
  c10::InferenceMode guard;
  const auto& cfg = model.config();
  AttentionProbe probe(int(cfg.num_hidden_layers), int(cfg.num_key_value_heads), sink, recent);
  std::vector<ScoredQuery> queries = answer_queries(sample);
  std::vector<int64_t> rows, next;
  double uniform_needle = 0, uniform_outside = 0;
  for (const auto& q : queries) {
    rows.push_back(q.row);
    next.push_back(sample.ids[size_t(q.row) + 1]);
    const double keys = double(q.row + 1);
    uniform_needle += double(q.needle_end - q.needle_start) / keys;
    uniform_outside += double(std::max<int64_t>(0, q.row - recent + 1 - sink)) / keys;
  }
  probe.set_queries(std::move(queries));

  const at::Tensor ids =
      at::tensor(std::vector<int64_t>(sample.ids.begin(), sample.ids.end()), at::kLong).unsqueeze(0).to(model.device());
  const auto out = model.forward(ids, probe, 0, /*logits=*/false);
  const at::Tensor row = at::tensor(rows, at::kLong).to(model.device());
  const at::Tensor predicted = model.lm_head(out.hidden[0].index_select(0, row)).argmax(-1).cpu();

  HeadScoreSums s;
  s.num_layers = int(cfg.num_hidden_layers);
  s.num_kv_heads = int(cfg.num_key_value_heads);
  s.group = cfg.num_attention_heads / cfg.num_key_value_heads;
  s.rows = int64_t(rows.size());
  s.samples = 1;
  for (size_t i = 0; i < rows.size(); ++i) s.correct += predicted[int64_t(i)].item<int64_t>() == next[i];
  s.uniform_needle = uniform_needle;
  s.uniform_outside = uniform_outside;
  s.needle = probe.needle_mass();
  s.outside = probe.outside_mass();
  const std::vector<ScoredQuery>& scored = answer_queries(sample);
  const int64_t hq = cfg.num_attention_heads;
  s.copies.assign(size_t(s.num_layers) * hq, 0.0);
  for (int l = 0; l < s.num_layers; ++l) {
    const at::Tensor top = probe.top_keys(l);
    const auto key = top.accessor<int64_t, 2>();
    for (int64_t h = 0; h < hq; ++h)
      for (size_t i = 0; i < scored.size(); ++i) {
        const int64_t j = key[h][int64_t(i)];
        if (j >= scored[i].needle_start && j < scored[i].needle_end &&
            sample.ids[size_t(j)] == predicted[int64_t(i)].item<int64_t>())
          s.copies[size_t(l) * hq + h] += 1;
      }
  }
  return s;
}

}  // namespace duo::analysis
