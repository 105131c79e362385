// Multi-passkey retrieval samples, the training data of DuoAttention (as in the reference,
// mit-han-lab/duo-attention): a haystack text with N passkeys of K random words hidden at N
// sorted depths, then N questions each followed by its passkey. The loss covers exactly that
// final question/answer block. Every sample is exactly its context length in tokens of the
// model's tokenizer, and sample i is the same for a given seed whatever was generated before,
// so a run can resume at any data position.
//
// Token layout (each piece tokenized on its own, without special tokens, ids concatenated):
//   [BOS] prefix
//   haystack[0, p1) sep needle(1) passkey(1) sep haystack[p1, p2) sep needle(2) ... haystack[pN, H)
//   suffix
//   question(1) answer_prefix | passkey(1) sep  ...  question(N) answer_prefix | passkey(N) sep
// where p_i = floor(H * depth_i) and H, the number of haystack tokens, is whatever makes the
// total exactly the context length. label_mask is 1 on the last line (the question/answer block).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "synth/haystack.h"
#include "synth/reference_format.h"
#include "tokenizer/tokenizer.h"

namespace duo::synth {

struct PasskeyConfig {
  HaystackSource haystack;
  uint64_t seed = 42;
  int64_t num_passkeys = 10;
  int64_t passkey_words = 32;
  std::vector<std::string> word_list = nato_alphabet();  // drawn with replacement
  double depth_min = 0.05;
  double depth_max = 0.95;
  int64_t depth_count = 1000;  // depths: distinct points of linspace(depth_min, depth_max, depth_count)
  int64_t context_min = 2600;  // see TrainConfig::Data::context_min
  int64_t context_max = 32000;
  int64_t context_count = 50;
  bool shuffle = true;  // each epoch visits the context lengths in a new random order
  // "{ordinal}" becomes first, second, ...; "{index}" becomes 1, 2, ...
  std::string prefix{reference::prefix};
  std::string suffix{reference::suffix};
  std::string separator{reference::separator};
  std::string needle{reference::needle};
  std::string question{reference::question};
  std::string answer_prefix{reference::answer_prefix};

  static std::vector<std::string> nato_alphabet() { return reference::nato_alphabet(); }
  bool operator==(const PasskeyConfig&) const = default;
};

struct Span {
  int64_t start = 0, end = 0;  // token positions [start, end)
  int64_t size() const { return end - start; }
  bool operator==(const Span&) const = default;
};

struct PasskeySample {
  int64_t index = 0;  // position in the data stream
  int64_t context_length = 0;
  std::vector<int32_t> ids;           // exactly context_length tokens
  std::vector<uint8_t> label_mask;    // 1 on the question/answer block, 0 elsewhere
  Span label_span;                    // where label_mask is 1
  std::vector<Span> question_spans;   // question(i) + answer_prefix
  std::vector<Span> answer_spans;     // passkey(i) as the answer to question i
  std::vector<Span> needle_spans;     // needle(i) + passkey(i) inside the haystack
  std::vector<std::string> passkeys;  // passkey(i) as text: words joined by single spaces
  std::vector<double> depths;         // depth_i, ascending
  int64_t haystack_tokens = 0;        // H
};

// linspace(min, max, count) truncated to integers, as the reference's
// torch.linspace(..., dtype=torch.int) gives (1000, 1632, 2265, ... for 1000..32000 by 50).
// The reference spaces haystack lengths so; duo spaces whole-sample lengths.
std::vector<int64_t> context_lengths(int64_t min, int64_t max, int64_t count);

// "first" ... "twentieth", then "21st", "22nd", ...
std::string ordinal_word(int64_t n);

class PasskeyGenerator {
 public:
  // Checks the config, reads the haystack and tokenizes as much of it as the longest context
  // can use. Throws duo::Error for a bad config or haystack.
  PasskeyGenerator(PasskeyConfig config, Tokenizer tokenizer);

  // The sample at stream position `index` (0, 1, 2, ...): its context length comes from the
  // lengths' order in epoch index / context_count, its passkeys and depths from its own
  // random stream.
  PasskeySample sample(int64_t index) const;
  // The same random draws, at any length (duo-synth --length). Throws duo::Error when the
  // length cannot hold the fixed parts or the haystack is too short for it.
  PasskeySample sample(int64_t index, int64_t context_length) const;
  int64_t context_length(int64_t index) const;

  const std::vector<int64_t>& context_lengths() const { return lengths_; }
  const PasskeyConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  int64_t haystack_tokens_available() const { return int64_t(haystack_.size()); }

 private:
  std::vector<int32_t> encode(const std::string& text) const;
  std::string fill(const std::string& text, int64_t passkey) const;  // {ordinal}, {index}

  PasskeyConfig config_;
  Tokenizer tokenizer_;
  std::vector<int64_t> lengths_;
  std::vector<int32_t> haystack_;
  std::vector<int32_t> head_;  // [BOS] prefix
  std::vector<int32_t> suffix_;
  std::vector<int32_t> separator_;
  std::vector<std::vector<int32_t>> needles_;    // needle(i), per passkey
  std::vector<std::vector<int32_t>> questions_;  // question(i) + answer_prefix, per passkey
};

}  // namespace duo::synth
