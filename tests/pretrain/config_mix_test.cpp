// PretrainConfig (every key checked, errors naming file, line and key; to_yaml reads back) and
// the pretraining mix (exact lengths, determinism, and answers that can be found earlier in
// the sample, i.e. every question is answerable by looking back).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "mix.h"
#include "pretrain_config.h"
#include "scratch.h"
#include "util/error.h"

namespace duo {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PretrainConfig, ShippedConfigLoadsAndRoundTrips) {
  const auto src = std::filesystem::path(std::getenv("DUO_SOURCE_DIR"));
  const PretrainConfig c = PretrainConfig::load(src / "configs/pretrain-tiny.yaml");
  EXPECT_EQ(c.data.context, 4096);
  EXPECT_EQ(c.model.num_heads % c.model.num_kv_heads, 0);
  const auto dir = test::scratch_dir();
  test::spit(dir / "back.yaml", c.to_yaml());
  EXPECT_EQ(PretrainConfig::load(dir / "back.yaml").to_yaml(), c.to_yaml());
}

TEST(PretrainConfig, ErrorsNameFileLineAndKey) {
  const auto dir = test::scratch_dir();
  test::spit(dir / "a.yaml", "model:\n  hidden_size: 64\n  hiden: 3\n");
  std::string e = error_of([&] { PretrainConfig::load(dir / "a.yaml"); });
  EXPECT_NE(e.find("a.yaml:3: model.hiden: unknown key; model has hidden_size, intermediate_size"), std::string::npos) << e;
  test::spit(dir / "b.yaml", "train:\n  lr: fast\n");
  e = error_of([&] { PretrainConfig::load(dir / "b.yaml"); });
  EXPECT_NE(e.find("b.yaml:2: train.lr: expected a number"), std::string::npos) << e;
  test::spit(dir / "c.yaml", "train:\n  batch: 2.5\n");
  e = error_of([&] { PretrainConfig::load(dir / "c.yaml"); });
  EXPECT_NE(e.find("train.batch: expected an integer"), std::string::npos) << e;
  test::spit(dir / "d.yaml", "train:\n  device: tpu\n");
  e = error_of([&] { PretrainConfig::load(dir / "d.yaml"); });
  EXPECT_NE(e.find("expected one of cuda, cpu, got 'tpu'"), std::string::npos) << e;
  test::spit(dir / "e.yaml", "model:\n  num_heads: 6\n  num_kv_heads: 4\n");
  e = error_of([&] { PretrainConfig::load(dir / "e.yaml"); });
  EXPECT_NE(e.find("model.num_heads: must be a multiple of model.num_kv_heads"), std::string::npos) << e;
  // Found by fuzz/pretrain_config: a key that is a mapping escaped as YAML::TypedBadConversion,
  // and a seed of 1e300 was cast to uint64_t (undefined).
  test::spit(dir / "f.yaml", "train:\n  ? precision: bf16\n");
  e = error_of([&] { PretrainConfig::load(dir / "f.yaml"); });
  EXPECT_NE(e.find("f.yaml:2: expected a key name, got a mapping"), std::string::npos) << e;
  test::spit(dir / "g.yaml", "train:\n  seed: 1e300\n");
  e = error_of([&] { PretrainConfig::load(dir / "g.yaml"); });
  EXPECT_NE(e.find("g.yaml:2: train.seed: expected an integer in [0, 18446744073709551615], got '1e300'"), std::string::npos) << e;
  // Integers are read exactly (as integers, not through a double): the largest seed and no more.
  test::spit(dir / "g2.yaml", "train:\n  seed: 18446744073709551615\neval:\n  seed: 18446744073709551616\n");
  e = error_of([&] { PretrainConfig::load(dir / "g2.yaml"); });
  EXPECT_NE(e.find("g2.yaml:4: eval.seed: expected an integer in [0, 18446744073709551615], got 18446744073709551616"),
            std::string::npos) << e;
  // Strings must be UTF-8: a raw byte, and the escape \N that yaml-cpp turns into the byte 0x85.
  test::spit(dir / "h.yaml", "model:\n  tokenizer: \"tok\\N\"\n");
  e = error_of([&] { PretrainConfig::load(dir / "h.yaml"); });
  EXPECT_NE(e.find("h.yaml:2: model.tokenizer: expected a string, got text that is not UTF-8"), std::string::npos) << e;
  test::spit(dir / "i.yaml", "data:\n  haystack_files: [\"a\xff.txt\"]\n");
  e = error_of([&] { PretrainConfig::load(dir / "i.yaml"); });
  EXPECT_NE(e.find("i.yaml: not UTF-8 (invalid byte at offset 27)"), std::string::npos) << e;
  test::spit(dir / "i2.yaml", "data:\n  haystack_files: [\"a.txt\", \"b\\_.txt\"]\n");
  e = error_of([&] { PretrainConfig::load(dir / "i2.yaml"); });
  EXPECT_NE(e.find("i2.yaml:2: data.haystack_files[1]: expected a non-empty string, got text that is not UTF-8"),
            std::string::npos) << e;
  // What the configuration engine (config/schema.h) gives every schema: a key said twice, the
  // nearest key name, an empty file meaning the defaults.
  test::spit(dir / "j.yaml", "train:\n  steps: 3\n  steps: 4\n");
  e = error_of([&] { PretrainConfig::load(dir / "j.yaml"); });
  EXPECT_NE(e.find("j.yaml:3: train.steps: given twice"), std::string::npos) << e;
  test::spit(dir / "k.yaml", "evaluation:\n  samples: 3\n");
  e = error_of([&] { PretrainConfig::load(dir / "k.yaml"); });
  EXPECT_NE(e.find("k.yaml:1: evaluation: unknown key; the sections are model, data, train, eval"), std::string::npos) << e;
  test::spit(dir / "l.yaml", "");
  EXPECT_EQ(PretrainConfig::load(dir / "l.yaml").to_yaml(), PretrainConfig().to_yaml());

  PretrainConfig c;
  e = error_of([&] { c.apply_overrides({"train.stepz=3"}); });
  EXPECT_NE(e.find("--set train.stepz=3: train.stepz: unknown key; train has device, "), std::string::npos) << e;
  EXPECT_NE(e.find("; did you mean steps?"), std::string::npos) << e;
  e = error_of([&] { c.apply_overrides({"model.num_heads=7"}); });
  EXPECT_NE(e.find("the configuration after --set: model.num_heads: must be a multiple of model.num_kv_heads"),
            std::string::npos) << e;
  c = PretrainConfig();
  c.apply_overrides({"eval.lengths=[512, 1024]", "train.steps=7"});
  EXPECT_EQ(c.eval.lengths, (std::vector<int64_t>{512, 1024}));
  EXPECT_EQ(c.train.steps, 7);
}

PretrainConfig small_mix_config(const std::filesystem::path& haystack) {
  PretrainConfig c;
  c.model.tokenizer = std::string(std::getenv("DUO_SOURCE_DIR")) + "/models/tiny-random";
  c.data.haystack_files = {haystack.string()};
  c.data.context = 1024;
  c.data.passkey_context_min = 400;
  c.data.num_passkeys = 1;
  c.data.passkey_words = 4;
  c.data.passkey_sample_fraction = 0.3;
  return c;
}

TEST(PretrainMix, SamplesHaveExactLengthAndAnswersThatAppearEarlier) {
  const auto dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(2000));
  const PretrainConfig c = small_mix_config(dir / "haystack.txt");
  const Tokenizer tok = Tokenizer::from_dir(c.model.tokenizer);
  const MixGenerator mix(c, tok);
  int with_answers = 0, passkey_format = 0;
  std::set<std::string> openings;  // the text right after "<book> " of passkey-format samples
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    const MixSample s = mix.sample(i);
    ASSERT_EQ(s.ids.size(), size_t(c.data.context)) << "sample " << i;
    ASSERT_EQ(s.answer.size(), s.ids.size());
    EXPECT_EQ(s.ids[0], *tok.bos_id());
    const std::string text = tok.decode(s.ids);
    const size_t book = text.find("<book> ");
    if (text.find("passkey to the vault?") != std::string::npos && book != std::string::npos) {
      ++passkey_format;
      openings.insert(text.substr(book + 7, 40));
    }
    // Each run of answer tokens must occur, as the same tokens, somewhere before it.
    bool any = false;
    for (size_t j = 0; j < s.ids.size();) {
      if (!s.answer[j]) {
        ++j;
        continue;
      }
      EXPECT_EQ(s.answer[j], kAnswerFirst) << "sample " << i << ": an answer must start with its first-token mark";
      size_t k = j + 1;
      while (k < s.ids.size() && s.answer[k] == kAnswer) ++k;
      const std::vector<int32_t> run(s.ids.begin() + j, s.ids.begin() + k);
      const auto found = std::search(s.ids.begin(), s.ids.begin() + j, run.begin(), run.end());
      EXPECT_NE(found, s.ids.begin() + j) << "sample " << i << ": answer '" << tok.decode(run)
                                          << "' has nothing to be retrieved from";
      any = true;
      j = k;
    }
    with_answers += any;
    if (i == 1) std::printf("sample 1 (first 600 bytes):\n%s\n", tok.decode(s.ids).substr(0, 600).c_str());
  }
  EXPECT_GT(with_answers, n * 3 / 4) << "most samples ask at least one question";
  EXPECT_GT(passkey_format, n / 6);
  EXPECT_LT(passkey_format, n / 2);
  // Their haystack comes from a random place, not always from the start of the text, which a
  // model would memorise instead of learning to retrieve.
  EXPECT_GT(openings.size(), size_t(passkey_format) * 9 / 10);
  // Sample i is a function of (seed, i) alone.
  EXPECT_EQ(MixGenerator(c, tok).sample(17).ids, mix.sample(17).ids);
  EXPECT_NE(mix.sample(18).ids, mix.sample(17).ids);
}

// A copy sample's text after BOS: "key: value" lines only (the last one cut at the context's end).
bool is_copy_sample(const std::string& text) {
  static const std::regex line("[a-z]{2,5}: [a-z]+( [a-z]+)*");
  const std::string body = text.substr(0, text.rfind('\n'));
  std::istringstream in(body);
  std::string l;
  int lines = 0;
  while (std::getline(in, l)) {
    if (!std::regex_match(l, line)) return false;
    ++lines;
  }
  return lines > 10;
}

TEST(PretrainMix, CopySamplesRecallEarlierLinesAndFillTheWarmUp) {
  const auto dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(2000));
  PretrainConfig c = small_mix_config(dir / "haystack.txt");
  c.data.copy_sample_fraction = 0.4;
  c.data.copy_warmup_steps = 3;
  c.train.batch = 4;
  const Tokenizer tok = Tokenizer::from_dir(c.model.tokenizer);
  const MixGenerator mix(c, tok);
  int copies_after_warmup = 0;
  const int n = 200;
  for (int i = 0; i < 12 + n; ++i) {
    const MixSample s = mix.sample(i);
    ASSERT_EQ(s.ids.size(), size_t(c.data.context));
    const std::string text = tok.decode(std::vector<int32_t>(s.ids.begin() + 1, s.ids.end()));
    const bool copy = is_copy_sample(text);
    if (i < 12) {
      EXPECT_TRUE(copy) << "sample " << i << " of the warm-up steps is not a copy sample:\n" << text.substr(0, 300);
    } else {
      copies_after_warmup += copy;
    }
    if (!copy) continue;
    // Every answer (a recalled value) follows "key: " and that whole line, key and value, was
    // written earlier: copying the line is the only way to predict it.
    int answers = 0;
    for (size_t j = 0; j < s.ids.size(); ++j) {
      if (s.answer[j] != kAnswerFirst) continue;
      size_t k = j + 1;
      while (k < s.ids.size() && s.answer[k] == kAnswer) ++k;
      const std::string value = tok.decode(std::vector<int32_t>(s.ids.begin() + j, s.ids.begin() + k));
      const std::string before = tok.decode(std::vector<int32_t>(s.ids.begin() + 1, s.ids.begin() + j));
      const std::string key_line = before.substr(before.rfind('\n') + 1);  // "key: "
      ASSERT_EQ(key_line.substr(key_line.size() - 2), ": ");
      const std::string earlier = "\n" + before.substr(0, before.rfind('\n') + 1);
      if (k < s.ids.size())  // a complete recalled line
        EXPECT_NE(earlier.find("\n" + key_line + value + "\n"), std::string::npos)
            << "sample " << i << ": '" << key_line << value << "' was not written before";
      ++answers;
    }
    EXPECT_GT(answers, 5) << "sample " << i;
  }
  EXPECT_GT(copies_after_warmup, n * 3 / 10);
  EXPECT_LT(copies_after_warmup, n * 5 / 10);
}

}  // namespace
}  // namespace duo
