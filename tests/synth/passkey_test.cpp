// Passkey samples: exact lengths over the linspace, spans that decode to their text, passkeys at
// their depths, determinism, epoch order, errors; with the Llama-3 (byte-level BPE), Llama-2
// (SentencePiece-style BPE) and tiny-random (bytes) tokenizers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "synth/passkey.h"
#include "synth/data_config.h"
#include "synth/kjv_bible.h"
#include "synth_test_util.h"
#include "util/error.h"

using duo::synth::PasskeyConfig;
using duo::synth::PasskeyGenerator;
using duo::synth::PasskeySample;
using duo::synth::Span;

namespace {

std::filesystem::path prose_file() {
  static const std::filesystem::path path =
      synth_test::write_file("prose.txt", synth_test::make_prose(160 * 1024));
  return path;
}

// Reference settings (10 passkeys of 32 NATO words) with contexts a CPU test can afford; the
// byte-level tiny-random tokenizer gets fewer, shorter passkeys, as configs/tiny.yaml does.
PasskeyConfig test_config(const std::string& tokenizer) {
  PasskeyConfig c;
  c.haystack.files = {prose_file()};
  c.context_min = 3000;
  c.context_max = 8000;
  c.context_count = 6;
  if (tokenizer == "tiny-random") {
    c.num_passkeys = 2;
    c.passkey_words = 8;
    c.context_min = 700;
    c.context_max = 2000;
  }
  return c;
}

std::string decode(const duo::Tokenizer& tok, const std::vector<int32_t>& ids, Span span) {
  return tok.decode(std::span<const int32_t>(ids.data() + span.start, std::size_t(span.size())));
}

std::string fill(std::string text, int64_t i) {
  for (std::size_t at; (at = text.find("{ordinal}")) != std::string::npos;)
    text.replace(at, 9, duo::synth::ordinal_word(i + 1));
  return text;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

class PasskeySamples : public testing::TestWithParam<std::string> {
 protected:
  PasskeySamples() : tok_(synth_test::tokenizer(GetParam())), gen_(test_config(GetParam()), tok_) {}
  duo::Tokenizer tok_;
  PasskeyGenerator gen_;
};

}  // namespace

TEST(ContextLengths, TruncateLikeTheReferenceTorchLinspace) {
  // torch.linspace(1000, 32000, 50, dtype=torch.int)
  const std::vector<int64_t> lengths = duo::synth::context_lengths(1000, 32000, 50);
  ASSERT_EQ(lengths.size(), 50u);
  EXPECT_EQ(std::vector<int64_t>(lengths.begin(), lengths.begin() + 6),
            (std::vector<int64_t>{1000, 1632, 2265, 2897, 3530, 4163}));
  EXPECT_EQ(lengths.back(), 32000);
  EXPECT_EQ(duo::synth::context_lengths(256, 1024, 1), (std::vector<int64_t>{256}));
}

TEST(Ordinals, WordsThenNumbers) {
  EXPECT_EQ(duo::synth::ordinal_word(1), "first");
  EXPECT_EQ(duo::synth::ordinal_word(10), "tenth");
  EXPECT_EQ(duo::synth::ordinal_word(20), "twentieth");
  EXPECT_EQ(duo::synth::ordinal_word(21), "21st");
  EXPECT_EQ(duo::synth::ordinal_word(112), "112th");
  EXPECT_EQ(duo::synth::ordinal_word(123), "123rd");
}

TEST_P(PasskeySamples, EveryLengthOfAnEpochIsExact) {
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < int64_t(gen_.context_lengths().size()); ++i) {
    const PasskeySample s = gen_.sample(i);
    EXPECT_EQ(s.context_length, gen_.context_length(i));
    EXPECT_EQ(int64_t(s.ids.size()), s.context_length);
    EXPECT_EQ(s.label_mask.size(), s.ids.size());
    seen.push_back(s.context_length);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, gen_.context_lengths());
  const int64_t explicit_length = GetParam() == "tiny-random" ? 1555 : 5555;
  EXPECT_EQ(int64_t(gen_.sample(0, explicit_length).ids.size()), explicit_length);
}

TEST_P(PasskeySamples, SpansDecodeToTheirText) {
  const PasskeyConfig& c = gen_.config();
  for (int64_t index : {0, 4}) {
    const PasskeySample s = gen_.sample(index);
    const int64_t n = c.num_passkeys;
    ASSERT_EQ(int64_t(s.passkeys.size()), n);
    ASSERT_EQ(int64_t(s.answer_spans.size()), n);
    ASSERT_EQ(int64_t(s.question_spans.size()), n);
    ASSERT_EQ(int64_t(s.needle_spans.size()), n);
    std::string block;
    for (int64_t i = 0; i < n; ++i) {
      const std::string question = fill(c.question, i) + c.answer_prefix;
      EXPECT_EQ(decode(tok_, s.ids, s.answer_spans[i]), s.passkeys[i]);
      EXPECT_EQ(decode(tok_, s.ids, s.question_spans[i]), question);
      const Span needle = s.needle_spans[i];
      const int64_t sentence = int64_t(tok_.encode(fill(c.needle, i), false).size());
      EXPECT_EQ(decode(tok_, s.ids, {needle.start, needle.start + sentence}), fill(c.needle, i));
      EXPECT_EQ(decode(tok_, s.ids, {needle.start + sentence, needle.end}), s.passkeys[i]);
      EXPECT_EQ(s.question_spans[i].end, s.answer_spans[i].start);
      block += question + s.passkeys[i] + c.separator;
    }
    // The labels are exactly the question/answer block, which ends the sample.
    EXPECT_EQ(s.label_span.start, s.question_spans.front().start);
    EXPECT_EQ(s.label_span.end, int64_t(s.ids.size()));
    for (int64_t t = 0; t < int64_t(s.ids.size()); ++t)
      ASSERT_EQ(s.label_mask[t], t >= s.label_span.start && t < s.label_span.end) << "token " << t;
    // Byte-level tokenizers decode a concatenation to the concatenated text; the
    // SentencePiece-style one adds a space where each separately tokenized piece begins.
    if (GetParam() != "llama2") EXPECT_EQ(decode(tok_, s.ids, s.label_span), block);
  }
}

TEST_P(PasskeySamples, PasskeysSitAtTheirSortedDepths) {
  const PasskeyConfig& c = gen_.config();
  const int64_t separator = int64_t(tok_.encode(c.separator, false).size());
  const int64_t head = synth_test::head_tokens(tok_, c.prefix);
  const std::set<std::string> words(c.word_list.begin(), c.word_list.end());
  for (int64_t index : {1, 2, 9}) {
    const PasskeySample s = gen_.sample(index);
    int64_t before = head;  // tokens that are not haystack, before the current needle
    for (int64_t i = 0; i < c.num_passkeys; ++i) {
      const double d = s.depths[i];
      EXPECT_GE(d, c.depth_min);
      EXPECT_LE(d, c.depth_max);
      if (i) EXPECT_GT(d, s.depths[i - 1]);
      const double grid = (d - c.depth_min) / (c.depth_max - c.depth_min) * double(c.depth_count - 1);
      EXPECT_NEAR(grid, std::round(grid), 1e-6) << "depth on the linspace grid";
      before += separator;
      const int64_t haystack_before = s.needle_spans[i].start - before;
      EXPECT_EQ(haystack_before, int64_t(std::floor(double(s.haystack_tokens) * d)));
      before += s.needle_spans[i].size() + separator;
      std::istringstream passkey(s.passkeys[i]);
      int64_t count = 0;
      for (std::string w; passkey >> w; ++count) EXPECT_TRUE(words.count(w)) << w;
      EXPECT_EQ(count, c.passkey_words);
    }
  }
  // The haystack is the text from its start: the tokens before the first needle decode to it.
  const PasskeySample s = gen_.sample(0);
  const std::string start = decode(tok_, s.ids, {head, s.needle_spans[0].start - separator});
  const std::string prose = synth_test::make_prose(160 * 1024);
  EXPECT_EQ(prose.substr(0, std::min<std::size_t>(start.size(), 200)), start.substr(0, 200));
}

TEST_P(PasskeySamples, StartWithBosWhenTheTokenizerAddsIt) {
  // The fixtures' Llama-3 tokenizer.json has a plain ByteLevel post-processor (no BOS), as the
  // `tokenizers` library reads it; Llama-2's and tiny-random's prepend BOS.
  const bool adds_bos = GetParam() != "llama3";
  const PasskeySample s = gen_.sample(0);
  ASSERT_TRUE(tok_.bos_id());
  EXPECT_EQ(s.ids.front() == *tok_.bos_id(), adds_bos);
  EXPECT_EQ(std::count(s.ids.begin(), s.ids.end(), *tok_.bos_id()), adds_bos ? 1 : 0);
  EXPECT_EQ(s.ids.front(), tok_.encode("<|im_start|> This", true).front());
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, PasskeySamples,
                         testing::Values("llama3", "llama2", "tiny-random"));

TEST(PasskeyGenerator, SampleDependsOnlyOnSeedAndIndex) {
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  const PasskeyGenerator a(test_config("llama3"), tok), b(test_config("llama3"), tok);
  const PasskeySample a5 = a.sample(5), a3 = a.sample(3);
  const PasskeySample b3 = b.sample(3), b5 = b.sample(5);
  EXPECT_EQ(a5.ids, b5.ids);
  EXPECT_EQ(a3.ids, b3.ids);
  EXPECT_EQ(a3.depths, b3.depths);
  EXPECT_NE(a3.passkeys, a5.passkeys);

  PasskeyConfig other = test_config("llama3");
  other.seed = 7;
  const PasskeyGenerator c(other, tok);
  EXPECT_NE(c.sample(3).passkeys, a3.passkeys);
  EXPECT_NE(c.sample(3).depths, a3.depths);
  EXPECT_NE(c.sample(3).ids, a3.ids);
}

TEST(PasskeyGenerator, EachEpochVisitsEveryLengthInItsOwnOrder) {
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  PasskeyConfig config = test_config("llama3");
  config.context_count = 8;
  const PasskeyGenerator shuffled(config, tok);
  std::vector<int64_t> epoch0, epoch1;
  for (int64_t i = 0; i < 8; ++i) {
    epoch0.push_back(shuffled.context_length(i));
    epoch1.push_back(shuffled.context_length(8 + i));
  }
  EXPECT_NE(epoch0, epoch1);
  EXPECT_NE(epoch0, shuffled.context_lengths());
  std::sort(epoch0.begin(), epoch0.end());
  std::sort(epoch1.begin(), epoch1.end());
  EXPECT_EQ(epoch0, shuffled.context_lengths());
  EXPECT_EQ(epoch1, shuffled.context_lengths());

  config.shuffle = false;
  const PasskeyGenerator ordered(config, tok);
  for (int64_t i = 0; i < 16; ++i)
    EXPECT_EQ(ordered.context_length(i), ordered.context_lengths()[i % 8]);
}

TEST(PasskeyGenerator, DefaultHaystackIsTheKjvBible) {
  if (!std::filesystem::exists(duo::synth::kKjvBibleFile))
    GTEST_SKIP() << "bible-kjv-text is not installed on this host";
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  PasskeyConfig config = test_config("llama3");
  config.haystack.files.clear();
  const PasskeyGenerator gen(config, tok);
  const PasskeySample s = gen.sample(0);
  const int64_t head = synth_test::head_tokens(tok, config.prefix);
  EXPECT_EQ(decode(tok, s.ids, {head, head + 12}).rfind("In the beginning God created", 0), 0u)
      << decode(tok, s.ids, {head, head + 12});
}

TEST(PasskeyGenerator, ErrorsNameTheProblem) {
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  PasskeyConfig config = test_config("llama3");
  const PasskeyGenerator gen(config, tok);
  EXPECT_CONTAINS(error_of([&] { gen.sample(0, 500); }),
                  "passkey data: a context of 500 tokens cannot hold the prompt, the 10 needles "
                  "and the question/answer block");

  config.haystack.files = {synth_test::write_file("short.txt", "A short haystack. ")};
  const PasskeyGenerator short_haystack(config, tok);
  EXPECT_CONTAINS(error_of([&] { short_haystack.sample(0); }), "passkey data: the haystack has only");

  config.haystack.files = {synth_test::scratch_dir() / "missing.txt"};
  EXPECT_CONTAINS(error_of([&] { PasskeyGenerator(config, tok); }),
                  "missing.txt: cannot open the haystack file");

  config = test_config("llama3");
  config.context_min = 1000;  // the reference's number, which counts haystack tokens only
  EXPECT_CONTAINS(error_of([&] { PasskeyGenerator(config, tok); }),
                  "passkey data: context_min (1000) is too short: 10 passkeys of 32 words with their "
                  "sentences and questions can take up to");

  config = test_config("llama3");
  config.depth_count = 5;
  EXPECT_CONTAINS(error_of([&] { PasskeyGenerator(config, tok); }),
                  "passkey data: depth_count (5) must be at least num_passkeys (10)");
  config = test_config("llama3");
  config.word_list.clear();
  EXPECT_CONTAINS(error_of([&] { PasskeyGenerator(config, tok); }), "the word list is empty");
}

// The data section of a configuration (synth/data_config.h): every key lands in the generator's
// config, and the section writes and reads back as itself.
TEST(DataConfig, EveryKeyReachesTheGenerator) {
  duo::synth::DataConfig t;
  const duo::config::Schema schema = duo::config::Schema().add(duo::synth::data_section(t));
  for (const char* assignment : {"data.haystack=[a.jsonl]", "data.format=jsonl", "data.jsonl_field=body",
                     "data.seed=9", "data.num_passkeys=3", "data.passkey_words=4",
                     "data.word_list=[x, y]", "data.depth_min=0.2", "data.depth_max=0.7",
                     "data.depth_count=30", "data.context_min=100", "data.context_max=900",
                     "data.context_count=4", "data.shuffle=false", "data.prefix=P",
                     "data.suffix=S", "data.separator=|", "data.needle=N{index}",
                     "data.question=Q{index}", "data.answer_prefix=A", "data.tokenizer=tok"})
    schema.set(assignment);
  EXPECT_NO_THROW(duo::synth::check_data(t, {"test"}));
  PasskeyConfig expected;
  expected.haystack = {{"a.jsonl"}, duo::synth::HaystackFormat::jsonl, "body"};
  expected.seed = 9;
  expected.num_passkeys = 3;
  expected.passkey_words = 4;
  expected.word_list = {"x", "y"};
  expected.depth_min = 0.2;
  expected.depth_max = 0.7;
  expected.depth_count = 30;
  expected.context_min = 100;
  expected.context_max = 900;
  expected.context_count = 4;
  expected.shuffle = false;
  expected.prefix = "P";
  expected.suffix = "S";
  expected.separator = "|";
  expected.needle = "N{index}";
  expected.question = "Q{index}";
  expected.answer_prefix = "A";
  EXPECT_EQ(static_cast<const PasskeyConfig&>(t), expected);
  EXPECT_EQ(t.tokenizer, "tok");
  EXPECT_EQ(duo::synth::tokenizer_dir(t, "model"), "tok");
  EXPECT_EQ(duo::synth::tokenizer_dir(duo::synth::DataConfig(), "model"), "model");

  duo::synth::DataConfig back;
  duo::config::Schema().add(duo::synth::data_section(back)).parse(schema.to_yaml(), "to_yaml");
  EXPECT_EQ(back, t);
}

TEST(DataConfig, ChecksBetweenKeys) {
  duo::synth::DataConfig d;
  d.depth_min = 0.9;
  d.depth_max = 0.5;
  EXPECT_CONTAINS(error_of([&] { duo::synth::check_data(d, {"f.yaml"}); }),
                  "f.yaml: data.depth_min: must not exceed data.depth_max (0.9 > 0.5)");
  d = {};
  d.context_count = 1;
  EXPECT_CONTAINS(error_of([&] { duo::synth::check_data(d, {"f.yaml"}); }),
                  "data.context_count: is 1, so data.context_min and data.context_max must be equal");
  d = {};
  d.depth_count = 3;
  EXPECT_CONTAINS(error_of([&] { duo::synth::check_data(d, {"f.yaml"}); }),
                  "data.num_passkeys: each passkey needs its own depth, but data.depth_count is 3");
  d = {};
  d.question = "which passkey?";
  EXPECT_CONTAINS(error_of([&] { duo::synth::check_data(d, {"f.yaml"}); }),
                  "data.question: must name the passkey with {ordinal} or {index}");
  d.num_passkeys = 1;
  EXPECT_NO_THROW(duo::synth::check_data(d, {"f.yaml"}));
}
