// What the attention maps say about each (layer, KV head): run the model with full attention on
// passkey samples and measure, for the query positions that predict the answer's passkey tokens,
// how much attention each head puts on the matching passkey in the haystack (retrieval score)
// and how much falls outside a streaming head's sink + recent window (outside-window mass).
// Definitions: docs/analysis.md ("attention").
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "model/attention.h"
#include "model/llama.h"
#include "synth/passkey.h"

namespace duo::analysis {

// One query row whose attention is scored: the query at position `row`, and the key span
// [needle_start, needle_end) holding the passkey it should retrieve.
struct ScoredQuery {
  int64_t row = 0;
  int64_t needle_start = 0, needle_end = 0;
};

// Full causal attention (the output is FullAttention's) that also computes softmax(q kᵀ / √D)
// explicitly in fp32 for the scored rows only, in chunks of rows, and adds up per KV head:
//   needle mass:  Σ over the row's query heads of the probability on keys in its needle span;
//   outside mass: Σ of the probability on keys j <= row with j >= sink and row - j >= recent.
// One forward over a whole sequence per set_queries (batch 1, start_pos 0).
class AttentionProbe : public Attention {
 public:
  AttentionProbe(int num_layers, int num_kv_heads, int64_t sink, int64_t recent);
  at::Tensor forward(const AttentionInput& in) override;

  // The rows to score in the next forward; clears the sums.
  void set_queries(std::vector<ScoredQuery> queries);
  // Sums over the scored rows and the query heads of each KV head, [layer][kv_head] row-major.
  const std::vector<double>& needle_mass() const { return needle_; }
  const std::vector<double>& outside_mass() const { return outside_; }
  // Per layer, the key each query head attends to most from each scored row, [Hq, rows] int64
  // on the CPU (ties: the first such key), in the order of set_queries.
  const at::Tensor& top_keys(int layer) const { return top_keys_.at(size_t(layer)); }
  // Query heads per KV head (known after the first forward).
  int64_t group() const { return group_; }
  // Elements of one chunk of scores ([Hq, rows, keys], fp32): bounds the memory per layer.
  void set_chunk_elements(int64_t elements) { chunk_elements_ = elements; }

 private:
  int num_layers_, num_kv_heads_;
  int64_t sink_, recent_;
  int64_t group_ = 0;
  int64_t chunk_elements_ = int64_t(1) << 26;  // 256 MB of fp32
  std::vector<ScoredQuery> queries_;
  std::vector<double> needle_, outside_;
  std::vector<at::Tensor> top_keys_;
};

// The scored rows of a sample: for answer i, the positions answer_spans[i].start - 1 ..
// answer_spans[i].end - 2 (each predicts the next answer token), retrieving the passkey tokens
// at the end of needle_spans[i]. Throws std::logic_error when those tokens differ from the answer's.
std::vector<ScoredQuery> answer_queries(const synth::PasskeySample& sample);

// Sums over a set of samples; scores are the means (sum / (rows · group)).
struct HeadScoreSums {
  int num_layers = 0, num_kv_heads = 0;
  int64_t group = 0;
  int64_t rows = 0;                // scored query rows (answer tokens)
  int64_t correct = 0;             // of those, predicted right by greedy argmax
  int64_t samples = 0;
  std::vector<double> needle, outside;  // [layer][kv_head]
  // Retrieval_Head's copy events (Wu et al., 2024), [layer][query head]: the scored rows where
  // the head's most-attended key lies in the row's passkey and holds the token the model predicts
  // there (greedy), i.e. the head copies the answer token from the needle.
  std::vector<double> copies;
  // The same sums for attention spread evenly over each query's keys (a head that looks
  // nowhere in particular), one value for all heads: the scale to read the scores against.
  double uniform_needle = 0, uniform_outside = 0;

  void add(const HeadScoreSums& other);
  std::vector<float> retrieval_score() const;
  std::vector<float> outside_window_mass() const;
  // Wu et al.'s retrieval score per KV head: copy events over scored rows (each row one answer
  // token, so a head that copies every passkey token scores 1), the largest of the KV head's
  // query heads (a KV head keeps its full cache if any query head reading it retrieves).
  std::vector<float> copy_score() const;
  double answer_accuracy() const { return rows ? double(correct) / double(rows) : 0.0; }
  double uniform_retrieval_score() const { return rows ? uniform_needle / double(rows) : 0.0; }
  double uniform_outside_window_mass() const { return rows ? uniform_outside / double(rows) : 0.0; }
};

// Runs `model` over one sample with an AttentionProbe and returns its sums.
HeadScoreSums score_sample(const LlamaModel& model, const synth::PasskeySample& sample, int64_t sink,
                           int64_t recent);

}  // namespace duo::analysis
