// The pretraining data: samples of exactly the context length that interleave public-domain
// English text with retrieval tasks, so that some heads must look far back (to a fact stated
// thousands of tokens earlier) while others only need the local text.
//
// A sample is one of three kinds, chosen per sample:
//  - passkey-format (share data.passkey_sample_fraction): one or two data/synth passkey samples
//    packed back to back (each starting with BOS), exactly the format duo-train calibrates on,
//    except that their haystack text comes from a random place rather than the text's start;
//  - mixed: [BOS] haystack text from a random place, with facts inserted at random depths and,
//    later, questions about them that are answered in the text:
//      passkey  "The second passkey is: kilo tango echo." ... "What is the second passkey?\n
//               Passkey: kilo tango echo"  (or data/synth's needle/question sentences)
//      lookup   "Record 4821: amber falcon." ... "Look up record 4821.\nValue: amber falcon"
//      phrase   "The first phrase is: "<text>"" ... "Repeat the first phrase: "<text>""
//      key      "Key q: xo bqa" ... "Key q: xo bqa"  (a lookup kind; the question repeats the fact)
//      code     "The first code is: hwq zt." ... "What is the first code?\nCode: hwq zt"
//    Passkeys use NATO words or random letter words, codes and key values random letters, whose
//    every byte only copying predicts. Some facts are never asked about (distractors). A question
//    sits after its fact: codes and a share data.near_question_fraction of the others within
//    data.near_tokens, the rest biased towards the end of the sample, so distances range from a
//    few tokens to the whole context;
//  - copy (share data.copy_sample_fraction, and every sample of the first
//    data.copy_warmup_steps steps): [BOS] lines "key: value" (a random-letter key; random letters or NATO words), about half of
//    them an earlier line recalled whole. A model learns to retrieve (grows induction heads) on
//    this first, where most of the loss is copying; in the other kinds copying is a small share
//    next to text it could memorise instead (models/tiny/README.md).
// `answer` marks the answer tokens (passkeys, values, phrases; data/synth's passkey answers),
// which the loss weighs more and the answer-token accuracy counts; the first token of each
// answer is marked apart, since predicting it needs retrieval alone (later tokens of a word can
// follow from its first). Sample i depends only on (seed, i).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "pretrain_config.h"
#include "synth/passkey.h"
#include "synth/rng.h"
#include "tokenizer/tokenizer.h"

namespace duo {

inline constexpr uint8_t kAnswer = 1, kAnswerFirst = 2;

struct MixSample {
  std::vector<int32_t> ids;     // exactly data.context tokens
  std::vector<uint8_t> answer;  // kAnswerFirst on each answer's first token, kAnswer on the rest, else 0
};

// The passkey-format generator for one config: duo-pretrain's training samples use data.seed,
// its evaluation eval.seed and the lengths it measures. Both read the same haystack.
synth::PasskeyGenerator make_passkey_generator(const PretrainConfig& config, const Tokenizer& tokenizer,
                                               uint64_t seed, int64_t context_min, int64_t context_max);

class MixGenerator {
 public:
  // Reads and tokenizes the whole haystack; throws duo::Error for a bad haystack or a context
  // too short for the passkey-format samples.
  MixGenerator(const PretrainConfig& config, Tokenizer tokenizer);
  MixSample sample(int64_t index) const;

 private:
  MixSample passkey_sample(int64_t index, uint64_t draw) const;
  MixSample mixed_sample(int64_t index) const;
  MixSample copy_sample(int64_t index) const;
  void move_haystack(synth::PasskeySample& s, synth::Rng rng) const;

  PretrainConfig::Data cfg_;
  Tokenizer tok_;
  int32_t bos_;
  std::vector<int32_t> haystack_;
  std::unique_ptr<synth::PasskeyGenerator> passkeys_;
  int64_t copy_warmup_samples_ = 0;
  int64_t separator_tokens_ = 0, suffix_tokens_ = 0;  // data/synth's separator and suffix, in tokens
};

}  // namespace duo
