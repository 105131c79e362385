// Evaluation samples (synth/eval_task.h): for every task and the Llama-3 and Llama-2 tokenizers,
// prompts of exactly the asked length, answers present as the task defines, needles at their
// depths, determinism; and the structure of samples against RULER's templates, written here
// from RULER's definitions (NVIDIA/RULER scripts/data/synthetic/constants.py, niah.py,
// variable_tracking.py, common_words_extraction.py, freq_words_extraction.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "synth/eval_task.h"
#include "synth/eval_words.h"
#include "synth/kjv_bible.h"
#include "synth_test_util.h"
#include "util/error.h"

using duo::synth::EvalConfig;
using duo::synth::EvalGenerator;
using duo::synth::EvalSample;

namespace {

std::filesystem::path prose_file() {
  static const std::filesystem::path path =
      synth_test::write_file("eval-prose.txt", synth_test::make_prose(200 * 1024, 3));
  return path;
}

EvalConfig config(const std::string& task, uint64_t seed = 42) {
  EvalConfig c;
  c.task = task;
  c.haystack.files = {prose_file()};
  c.seed = seed;
  return c;
}

int64_t occurrences(std::string_view text, std::string_view part) {
  int64_t n = 0;
  for (std::size_t at = 0; (at = text.find(part, at)) != std::string_view::npos; at += part.size()) ++n;
  return n;
}

// The haystack with its needles, cut from the prompt text between the template's parts.
std::string context_of(const EvalSample& s) {
  const std::string& p = s.prompt;
  const auto after_last = [&](const std::string& mark) { return p.rfind(mark) + mark.size(); };
  std::size_t begin = 0, end = p.rfind("\nQuestion:");
  if (s.task.starts_with("ruler:niah")) {
    begin = after_last("afterwards.\n");
    end = p.rfind("\nWhat ");
  } else if (s.task == "ruler:vt") {
    begin = after_last("in the following text.\n\n");
  } else if (s.task == "ruler:cwe") {
    begin = after_last("appear most often.\n");
  } else if (s.task == "ruler:fwe") {
    begin = after_last("coded words. ");
  } else {
    begin = after_last("after it.\n");
  }
  return p.substr(begin, end - begin);
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

struct Case {
  std::string task, tokenizer;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.task << " with " << c.tokenizer; }
std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string name = info.param.task + "_" + info.param.tokenizer;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const std::string& task : duo::synth::eval_task_names())
    for (const char* tok : {"llama3", "llama2"}) out.push_back({task, tok});
  return out;
}

// Loaded once per process: copies share the loaded tokenizer.
const duo::Tokenizer& cached_tokenizer(const std::string& name) {
  static std::map<std::string, duo::Tokenizer> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) it = loaded.emplace(name, synth_test::tokenizer(name)).first;
  return it->second;
}

class EvalSamples : public testing::TestWithParam<Case> {
 protected:
  EvalSamples() : tok_(cached_tokenizer(GetParam().tokenizer)), gen_(config(GetParam().task), tok_) {}
  duo::Tokenizer tok_;
  EvalGenerator gen_;
};

// The tasks whose samples place needles (cwe and fwe ask about the whole context instead).
class NeedleSamples : public EvalSamples {};

std::vector<Case> needle_cases() {
  std::vector<Case> out;
  for (const Case& c : all_cases())
    if (c.task != "ruler:cwe" && c.task != "ruler:fwe") out.push_back(c);
  return out;
}

}  // namespace

TEST_P(EvalSamples, PromptsHaveExactlyTheLength) {
  for (int64_t length : {1800, 4500}) {
    for (int64_t index : {0, 1}) {
      const EvalSample s = gen_.sample(index, length);
      SCOPED_TRACE(std::to_string(length) + " tokens, sample " + std::to_string(index));
      EXPECT_EQ(s.length, length);
      EXPECT_EQ(int64_t(tok_.encode(s.prompt, true).size()), length);
      EXPECT_EQ(s.task, GetParam().task);
      EXPECT_EQ(s.index, index);
      EXPECT_TRUE(s.prompt.ends_with(s.answer_prefix)) << s.answer_prefix;
      EXPECT_GT(s.tokens_to_generate, 0);
      EXPECT_LT(s.context_begin_token, s.context_end_token);
      EXPECT_LE(s.context_end_token, length);
      EXPECT_GT(s.haystack_units, 0);
    }
  }
}

TEST_P(EvalSamples, AnswersArePresentAsTheTaskDefines) {
  const std::string& task = GetParam().task;
  for (int64_t index : {0, 3}) {
    const EvalSample s = gen_.sample(index, 3000);
    const std::string context = context_of(s);
    SCOPED_TRACE("sample " + std::to_string(index));
    if (task.starts_with("ruler:niah")) {
      ASSERT_FALSE(s.answers.empty());
      for (const std::string& a : s.answers) {
        EXPECT_EQ(occurrences(s.prompt, a), 1) << a;  // in its needle only
        EXPECT_EQ(occurrences(context, a), 1) << a;
      }
    } else if (task == "ruler:vt") {
      ASSERT_EQ(s.answers.size(), 5u);  // num_hops 4: five variables
      for (std::size_t j = 0; j < s.answers.size(); ++j) {
        // Assigned once; referred to by the next variable's assignment (the last by none).
        EXPECT_EQ(occurrences(context, "VAR " + s.answers[j] + " = "), 1) << s.answers[j];
        EXPECT_EQ(occurrences(context, "= VAR " + s.answers[j] + " "), j + 1 < s.answers.size() ? 1 : 0);
      }
      EXPECT_EQ(s.needles.size(), 5u);
    } else if (task == "ruler:cwe") {
      ASSERT_EQ(s.answers.size(), 10u);
      std::map<std::string, int64_t> counts;
      const std::regex entry(R"((\d+)\. ([a-z]+))");
      int64_t number = 0;
      for (std::sregex_iterator it(context.begin(), context.end(), entry), end; it != end; ++it) {
        EXPECT_EQ(std::stoll((*it)[1]), ++number) << "entries numbered 1, 2, ...";
        ++counts[(*it)[2]];
      }
      // Under RULER's 4096 (3000 + tokens_to_generate 120) the common words appear 6 times and
      // the others once (freq_cw 30 and freq_ucw 3 from 4096 on: RulerTemplates below).
      for (const std::string& a : s.answers) EXPECT_EQ(counts[a], 6) << a;
      int64_t others = 0;
      for (const auto& [w, n] : counts) {
        if (std::count(s.answers.begin(), s.answers.end(), w)) continue;
        EXPECT_EQ(n, 1) << w;
        ++others;
      }
      EXPECT_GT(others, 100);
    } else if (task == "ruler:fwe") {
      ASSERT_EQ(s.answers.size(), 3u);
      std::map<std::string, int64_t> counts;
      std::istringstream words(context);
      for (std::string w; words >> w;) ++counts[w];
      std::vector<std::pair<int64_t, std::string>> ranked;
      for (const auto& [w, n] : counts) ranked.push_back({n, w});
      std::sort(ranked.rbegin(), ranked.rend());
      EXPECT_EQ(ranked[0].second, "...");
      for (int i = 0; i < 3; ++i) EXPECT_EQ(ranked[std::size_t(i) + 1].second, s.answers[std::size_t(i)]);
      EXPECT_GT(ranked[3].first, ranked[4].first) << "the third answer is strictly more frequent";
      for (const std::string& a : s.answers) EXPECT_EQ(a.size(), 6u);
    } else {  // retention
      EXPECT_TRUE(s.answers.empty());
      ASSERT_EQ(s.instructions.size(), 3u);
      ASSERT_EQ(s.needles.size(), 1u);
      for (const auto& in : s.instructions) {
        EXPECT_EQ(occurrences(s.prompt, in.text), 1) << in.text;
        EXPECT_CONTAINS(s.needles[0], in.text);
      }
    }
  }
}

TEST_P(NeedleSamples, NeedlesSitAtTheirDepths) {
  for (int64_t index : {0, 1, 5}) {
    const EvalSample s = gen_.sample(index, 4500);
    const std::vector<int32_t> ids = tok_.encode(s.prompt, true);
    ASSERT_EQ(s.needles.size(), s.depths.size());
    ASSERT_EQ(s.needles.size(), s.needle_tokens.size());
    ASSERT_FALSE(s.needles.empty());
    // Depth = the fraction of the haystack (the context less its needles) before a needle.
    int64_t needle_total = 0;
    std::vector<int64_t> sizes;
    for (const std::string& n : s.needles) sizes.push_back(int64_t(tok_.encode(n, false).size()));
    for (int64_t n : sizes) needle_total += n;
    const double haystack = double(s.context_end_token - s.context_begin_token - needle_total);
    int64_t before = 0;
    for (std::size_t i = 0; i < s.needles.size(); ++i) {
      EXPECT_GE(s.depths[i], 0.0);
      EXPECT_LE(s.depths[i], 1.0);
      if (i) EXPECT_GE(s.needle_tokens[i], s.needle_tokens[i - 1]);
      EXPECT_GE(s.needle_tokens[i], s.context_begin_token);
      EXPECT_LT(s.needle_tokens[i], s.context_end_token);
      const double measured = double(s.needle_tokens[i] - s.context_begin_token - before) / haystack;
      // Needles go between lines (20 to 70 tokens) or sentences (up to about 40 tokens here).
      const double unit = haystack / double(s.haystack_units);
      EXPECT_NEAR(measured, s.depths[i], (std::max(60.0, 1.5 * unit) + 2) / haystack) << s.needles[i];
      before += sizes[i];
      // The token position points at the needle's text.
      const std::string at = tok_.decode(std::span<const int32_t>(ids.data() + s.needle_tokens[i], 8));
      EXPECT_NE(s.needles[i].find(at.substr(at.find_first_not_of(" \n"), 6)), std::string::npos)
          << "'" << at << "' vs " << s.needles[i];
    }
  }
}

TEST_P(EvalSamples, SameSeedSameSampleOtherSeedOtherSample) {
  const EvalGenerator again(config(GetParam().task), tok_);
  const EvalSample a = gen_.sample(4, 2500), b = again.sample(4, 2500);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.answers, b.answers);
  EXPECT_EQ(a.depths, b.depths);
  EXPECT_EQ(a.instructions, b.instructions);
  EXPECT_NE(gen_.sample(5, 2500).prompt, a.prompt);
  const EvalGenerator other(config(GetParam().task, 7), tok_);
  const EvalSample c = other.sample(4, 2500);
  EXPECT_NE(c.prompt, a.prompt);
  if (!a.answers.empty()) EXPECT_NE(c.answers, a.answers);
  if (!a.instructions.empty()) EXPECT_NE(c.instructions, a.instructions);
  // The needles do not depend on the length (fwe's vocabulary does: length // 50 words).
  const EvalSample longer = gen_.sample(4, 3900);
  if (GetParam().task != "ruler:fwe") {
    EXPECT_EQ(longer.answers, a.answers);
    EXPECT_EQ(longer.depths, a.depths);
  }
}

INSTANTIATE_TEST_SUITE_P(Tasks, EvalSamples, testing::ValuesIn(all_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Tasks, NeedleSamples, testing::ValuesIn(needle_cases()), case_name);

// ---- Against RULER's templates ----

namespace {

// RULER's niah prompt for one value (the singular rewrite niah.py applies) and for several.
const std::string kNiahSingleHead =
    "A special magic number is hidden within the following text. Make sure to memorize it. I will "
    "quiz you about the number afterwards.\n";
const std::string kNiahPluralHead =
    "Some special magic numbers are hidden within the following text. Make sure to memorize it. I "
    "will quiz you about the numbers afterwards.\n";
const std::string kNoise = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

std::string niah_single_tail(const std::string& type, const std::string& key) {
  return "\nWhat is the special magic " + type + " for " + key + " mentioned in the provided text? The special magic " +
         type + " for " + key + " mentioned in the provided text is";
}

const duo::Tokenizer& llama3() { return cached_tokenizer("llama3"); }

EvalSample sample_of(const std::string& task, int64_t length = 3000, int64_t index = 0) {
  return EvalGenerator(config(task), llama3()).sample(index, length);
}

// The key and value of a needle sentence "One of the special magic {type}s for {key} is: {value}."
std::pair<std::string, std::string> needle_parts(const std::string& needle, const std::string& type) {
  const std::regex form("One of the special magic " + type + " for (.+) is: (.+)\\.");
  std::smatch m;
  EXPECT_TRUE(std::regex_match(needle, m, form)) << needle;
  return {m[1], m[2]};
}

const std::regex kWordKey("[a-z]+-[a-z]+");
const std::regex kNumber("[1-9][0-9]{6}");
const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");

}  // namespace

TEST(RulerTemplates, NiahSingle1IsNoiseWithOneNumberNeedle) {
  const EvalSample s = sample_of("ruler:niah_single_1");
  ASSERT_EQ(s.needles.size(), 1u);
  const auto [key, value] = needle_parts(s.needles[0], "numbers");
  EXPECT_TRUE(std::regex_match(key, kWordKey)) << key;
  EXPECT_TRUE(std::regex_match(value, kNumber)) << value;
  EXPECT_EQ(s.answers, std::vector<std::string>{value});
  EXPECT_TRUE(s.prompt.starts_with(kNiahSingleHead + kNoise + "\n" + kNoise + "\n"));
  EXPECT_TRUE(s.prompt.ends_with(niah_single_tail("number", key)));
  EXPECT_EQ(s.answer_prefix, " The special magic number for " + key + " mentioned in the provided text is");
  EXPECT_CONTAINS(s.prompt, "\n" + s.needles[0] + "\n");  // a line of its own
  EXPECT_EQ(s.metric, "string_match_all");
  EXPECT_EQ(s.tokens_to_generate, 128);
  // Every other line of the haystack is the noise sentence (the last may be cut for the length).
  std::istringstream lines(s.prompt.substr(kNiahSingleHead.size()));
  int64_t noise = 0;
  for (std::string line; std::getline(lines, line) && !line.starts_with("What is");) {
    if (line == s.needles[0]) continue;
    if (line == kNoise) ++noise;
    else EXPECT_TRUE(kNoise.starts_with(line) || line.starts_with(kNoise)) << line;
  }
  EXPECT_GT(noise, 50);
}

TEST(RulerTemplates, NiahSingle2And3HideANeedleInTheEssay) {
  const EvalSample two = sample_of("ruler:niah_single_2");
  const auto [key, value] = needle_parts(two.needles[0], "numbers");
  EXPECT_TRUE(std::regex_match(value, kNumber));
  EXPECT_TRUE(two.prompt.starts_with(kNiahSingleHead + synth_test::make_prose(200, 3).substr(0, 40)));
  EXPECT_TRUE(two.prompt.ends_with(niah_single_tail("number", key)));
  EXPECT_CONTAINS(two.prompt, ". " + two.needles[0] + " ");  // between sentences
  // niah.py's DEPTHS: round(linspace(0, 100, 40)) percent.
  const double d = two.depths[0] * 100;
  EXPECT_NEAR(std::round(d * 39 / 100) * 100 / 39, d, 0.5);

  const EvalSample three = sample_of("ruler:niah_single_3");
  const auto [key3, value3] = needle_parts(three.needles[0], "uuids");
  EXPECT_TRUE(std::regex_match(value3, kUuid)) << value3;
  EXPECT_TRUE(three.prompt.starts_with(
      "A special magic uuid is hidden within the following text. Make sure to memorize it. I will quiz you "
      "about the uuid afterwards.\n"));
  EXPECT_TRUE(three.prompt.ends_with(niah_single_tail("uuid", key3)));
  EXPECT_EQ(three.answers, std::vector<std::string>{value3});
}

TEST(RulerTemplates, NiahMultikeyHidesDistractorKeys) {
  const EvalSample one = sample_of("ruler:niah_multikey_1");
  ASSERT_EQ(one.needles.size(), 4u);  // num_needle_k 4
  std::set<std::string> keys;
  std::string asked;
  for (const std::string& n : one.needles) {
    const auto [key, value] = needle_parts(n, "numbers");
    keys.insert(key);
    if (value == one.answers.at(0)) asked = key;
  }
  EXPECT_EQ(keys.size(), 4u);
  ASSERT_FALSE(asked.empty());
  EXPECT_TRUE(one.prompt.ends_with(niah_single_tail("number", asked)));

  // multikey_2: the haystack is needle sentences with other keys; multikey_3 the same with uuids.
  for (const auto& [task, pattern] : {std::pair{"ruler:niah_multikey_2", kWordKey}, std::pair{"ruler:niah_multikey_3", kUuid}}) {
    SCOPED_TRACE(task);
    const EvalSample s = sample_of(task);
    const std::string type = std::string(task) == "ruler:niah_multikey_3" ? "uuids" : "numbers";
    const auto [key, value] = needle_parts(s.needles.at(0), type);
    EXPECT_TRUE(std::regex_match(key, pattern)) << key;
    std::istringstream lines(context_of(s));
    int64_t distractors = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line == s.needles[0]) continue;
      std::smatch m;
      if (std::regex_match(line, m, std::regex("One of the special magic " + type + " for (.+) is: (.+)\\."))) {
        ++distractors;
        EXPECT_NE(m[1].str(), key) << "a distractor never has the asked key";
        EXPECT_TRUE(std::regex_match(m[1].str(), pattern)) << line;
      }
    }
    EXPECT_GT(distractors, 30);
    EXPECT_EQ(occurrences(s.prompt, key), 3) << "in the needle, the question and the answer prefix";
  }
}

TEST(RulerTemplates, NiahMultivalueAndMultiqueryUseThePluralTemplate) {
  const EvalSample mv = sample_of("ruler:niah_multivalue");
  ASSERT_EQ(mv.needles.size(), 4u);
  ASSERT_EQ(mv.answers.size(), 4u);
  const std::string key = needle_parts(mv.needles[0], "numbers").first;
  for (const std::string& n : mv.needles) EXPECT_EQ(needle_parts(n, "numbers").first, key) << "one key, four values";
  EXPECT_TRUE(mv.prompt.starts_with(kNiahPluralHead));
  EXPECT_TRUE(mv.prompt.ends_with("\nWhat are all the special magic numbers for " + key +
                                  " mentioned in the provided text? The special magic numbers for " + key +
                                  " mentioned in the provided text are"));

  const EvalSample mq = sample_of("ruler:niah_multiquery");
  ASSERT_EQ(mq.needles.size(), 4u);
  ASSERT_EQ(mq.answers.size(), 4u);
  // The keys asked in the answers' order, joined "a, b, c, and d".
  std::vector<std::string> asked;
  for (const std::string& a : mq.answers)
    for (const std::string& n : mq.needles)
      if (needle_parts(n, "numbers").second == a) asked.push_back(needle_parts(n, "numbers").first);
  ASSERT_EQ(asked.size(), 4u);
  const std::string query = asked[0] + ", " + asked[1] + ", " + asked[2] + ", and " + asked[3];
  EXPECT_TRUE(mq.prompt.ends_with("\nWhat are all the special magic numbers for " + query +
                                  " mentioned in the provided text? The special magic numbers for " + query +
                                  " mentioned in the provided text are"));
}

TEST(RulerTemplates, VariableTrackingChainsAndExample) {
  const EvalSample s = sample_of("ruler:vt");
  const std::string head = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
  // The one-shot example first, with its answer, then a blank line and the task.
  ASSERT_TRUE(s.prompt.starts_with(head));
  const std::size_t second = s.prompt.find("\n\n" + head);
  ASSERT_NE(second, std::string::npos);
  const std::string example = s.prompt.substr(0, second);
  const std::regex example_end(
      R"([\s\S]*\nQuestion: Find all variables that are assigned the value (\d{5}) in the text above\. Answer: According to the chain\(s\) of variable assignment in the text above, 5 variables are assigned the value \1, they are:  ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3}))");
  std::smatch m;
  EXPECT_TRUE(std::regex_match(example, m, example_end)) << example.substr(example.size() - 300);
  EXPECT_LE(llama3().encode(example, false).size(), 520u) << "fitted to 500 tokens before its answer";

  const std::regex first("VAR ([A-Z]{5}) = (\\d{5})");
  ASSERT_TRUE(std::regex_match(s.needles[0], m, first)) << s.needles[0];
  EXPECT_EQ(m[1].str(), s.answers[0]);
  const std::string value = m[2];
  for (std::size_t j = 1; j < 5; ++j)
    EXPECT_EQ(s.needles[j], "VAR " + s.answers[j] + " = VAR " + s.answers[j - 1] + " ");  // RULER's trailing space
  EXPECT_TRUE(s.prompt.ends_with("\nQuestion: Find all variables that are assigned the value " + value +
                                 " in the text above. Answer: According to the chain(s) of variable assignment "
                                 "in the text above, 5 variables are assigned the value " + value + ", they are: "));
  EXPECT_CONTAINS(s.prompt, "\n" + kNoise + "\n");
  EXPECT_EQ(s.tokens_to_generate, 30);
}

TEST(RulerTemplates, CommonWordsListWithAnExample) {
  const std::string head = "Below is a numbered list of words. In these words, some appear more often than others. "
                           "Memorize the ones that appear most often.\n";
  const std::string question = "\nQuestion: What are the 10 most common words in the above list? Answer: The top 10 "
                               "words that appear most often in the list are:";
  for (int64_t length : {3000, 4500}) {  // RULER's short (< 4096) and standard settings
    SCOPED_TRACE(length);
    const EvalSample s = sample_of("ruler:cwe", length);
    ASSERT_TRUE(s.prompt.starts_with(head + "1. "));
    EXPECT_TRUE(s.prompt.ends_with(question));
    EXPECT_EQ(occurrences(s.prompt, head), 2);
    // The example ends with its answer, "1. w 2. w ... 10. w", then a newline and the task.
    const std::size_t task = s.prompt.find("\n" + head);
    const std::string example = s.prompt.substr(0, task);
    const std::size_t answer = example.find(question);
    ASSERT_NE(answer, std::string::npos);
    const std::regex ten(R"( 1\. [a-z]+ 2\. [a-z]+ 3\. [a-z]+ 4\. [a-z]+ 5\. [a-z]+ 6\. [a-z]+ 7\. [a-z]+ 8\. [a-z]+ 9\. [a-z]+ 10\. [a-z]+)");
    EXPECT_TRUE(std::regex_match(example.substr(answer + question.size()), ten)) << example.substr(answer);
    // Example: 40 words (10 x 10 and 30 x 3 = 190 entries), or 20 words (10 x 3 + 10 = 40).
    const std::string example_list = example.substr(0, answer);
    const std::regex numbered(R"(\d+\. [a-z]+)");
    const auto entries = std::distance(std::sregex_iterator(example_list.begin(), example_list.end(), numbered),
                                       std::sregex_iterator());
    EXPECT_EQ(entries, length + 120 < 4096 ? 40 : 190);
    std::map<std::string, int64_t> counts;
    const std::string list = context_of(s);
    const std::regex entry(R"(\d+\. ([a-z]+))");
    for (std::sregex_iterator it(list.begin(), list.end(), entry), end; it != end; ++it) ++counts[(*it)[1]];
    for (const std::string& a : s.answers) EXPECT_EQ(counts[a], length + 120 < 4096 ? 6 : 30) << a;
  }
}

TEST(RulerTemplates, FrequentWordsCodedText) {
  const EvalSample s = sample_of("ruler:fwe", 4000);
  EXPECT_TRUE(s.prompt.starts_with("Read the following coded text and track the frequency of each coded word. Find "
                                   "the three most frequently appeared coded words. "));
  EXPECT_TRUE(s.prompt.ends_with("\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are "
                                 "the three most frequently appeared words in the above coded text? Answer: According "
                                 "to the coded text above, the three most frequently appeared words are:"));
  // Ranks k = 1.. appear floor(N k^-2 / zeta(2)) times; rank 1 is "...", the vocabulary 4000 // 50.
  std::map<std::string, int64_t> counts;
  std::istringstream words(context_of(s));
  int64_t total = 0;
  for (std::string w; words >> w; ++total) ++counts[w];
  EXPECT_LE(int64_t(counts.size()), 80 + 16);  // the vocabulary, and filler words that appear once
  const double n = double(s.haystack_units), z = M_PI * M_PI / 6;
  EXPECT_EQ(counts["..."], int64_t(n / z));
  for (int k = 2; k <= 4; ++k) EXPECT_EQ(counts[s.answers[std::size_t(k - 2)]], int64_t(n / (k * k) / z));
  for (const auto& [w, c] : counts)
    if (w != "...") EXPECT_TRUE(std::regex_match(w, std::regex("[a-z]{1,6}"))) << w;
  EXPECT_EQ(s.tokens_to_generate, 50);
}

TEST(EvalGenerator, DepthOptionPlacesEveryNeedle) {
  for (double depth : {0.0, 0.5, 1.0}) {
    EvalConfig c = config("ruler:niah_single_2");
    c.depth = depth;
    const EvalSample s = EvalGenerator(c, llama3()).sample(0, 3000);
    EXPECT_EQ(s.depths, std::vector<double>{depth});
    const double measured = double(s.needle_tokens[0] - s.context_begin_token) /
                            double(s.context_end_token - s.context_begin_token);
    EXPECT_NEAR(measured, depth, 0.03) << depth;
    if (depth == 0.0) EXPECT_EQ(s.needle_tokens[0], s.context_begin_token);
  }
  // Several needles at one depth sit side by side.
  EvalConfig c = config("ruler:niah_multikey_1");
  c.depth = 0.25;
  const EvalSample s = EvalGenerator(c, llama3()).sample(0, 3000);
  ASSERT_EQ(s.needles.size(), 4u);
  std::string together;
  for (const std::string& n : s.needles) together += (together.empty() ? "" : " ") + n;
  EXPECT_CONTAINS(s.prompt, together);
  // The retention tasks take it too; a system prompt starts the text by default.
  const EvalSample system = EvalGenerator(config("retention:system_prompt"), llama3()).sample(0, 3000);
  EXPECT_EQ(system.depths, std::vector<double>{0.0});
  EXPECT_EQ(system.needle_tokens[0], system.context_begin_token);
  EXPECT_TRUE(system.needles[0].starts_with("System prompt: "));
}

TEST(EvalGenerator, ErrorsNameTheProblem) {
  EXPECT_CONTAINS(error_of([] { EvalGenerator(config("ruler:qa_1"), llama3()); }),
                  "unknown task 'ruler:qa_1'; the tasks are ruler:niah_single_1, ruler:niah_single_2");
  EXPECT_CONTAINS(error_of([] { sample_of("ruler:niah_single_1", 40); }),
                  "ruler:niah_single_1: a prompt of 40 tokens is too short: the task's text without haystack takes");
  EXPECT_CONTAINS(error_of([] { sample_of("ruler:fwe", 200); }), "ruler:fwe: a prompt of 200 tokens has a vocabulary of 4");
  EvalConfig vt = config("ruler:vt");
  vt.depth = 0.5;
  EXPECT_CONTAINS(error_of([&] { EvalGenerator(vt, llama3()); }), "ruler:vt: --depth applies to the niah and retention tasks only");
  EvalConfig bad = config("ruler:niah_single_2");
  bad.depth = 1.5;
  EXPECT_CONTAINS(error_of([&] { EvalGenerator(bad, llama3()); }), "the depth must be a fraction in [0, 1]");
  EvalConfig missing = config("ruler:niah_single_2");
  missing.haystack.files = {synth_test::scratch_dir() / "no-such-haystack.txt"};
  EXPECT_CONTAINS(error_of([&] { EvalGenerator(missing, llama3()); }), "no-such-haystack.txt: cannot open the haystack file");
  EvalConfig many = config("retention:instructions");
  many.num_instructions = 9;
  EXPECT_CONTAINS(error_of([&] { EvalGenerator(many, llama3()); }), "the number of instructions must be 1 to 8, got 9");
}

TEST(EvalGenerator, ShortEssaysRepeatAndCweRunsOutOfWordsWithANamedCause) {
  EvalConfig c = config("ruler:niah_single_2");
  c.haystack.files = {synth_test::write_file("tiny-essay.txt", "One short sentence. And another one here.")};
  const EvalSample s = EvalGenerator(c, llama3()).sample(0, 1000);  // RULER repeats a short essay
  EXPECT_EQ(int64_t(llama3().encode(s.prompt, true).size()), 1000);
  EXPECT_GT(occurrences(s.prompt, "One short sentence."), 20);
  c.task = "ruler:cwe";
  EXPECT_CONTAINS(error_of([&] { EvalGenerator(c, llama3()).sample(0, 20000); }),
                  "ruler:cwe: a prompt of 20000 tokens needs more haystack: its list would need more than");
}

TEST(EvalWords, ListsAreSortedLowercaseAndDistinct) {
  for (const auto* list : {&duo::synth::words::adjectives(), &duo::synth::words::nouns(), &duo::synth::words::verbs()}) {
    EXPECT_GT(list->size(), 250u);
    EXPECT_TRUE(std::is_sorted(list->begin(), list->end()));
    EXPECT_EQ(std::set<std::string>(list->begin(), list->end()).size(), list->size());
    for (const std::string& w : *list) EXPECT_TRUE(std::regex_match(w, std::regex("[a-z]+"))) << w;
  }
}

TEST(EvalGenerator, DefaultEssayIsTheShippedKjvBible) {
  if (!std::filesystem::exists(duo::synth::kKjvBibleFile)) GTEST_SKIP() << "bible-kjv-text is not installed on this host";
  EvalConfig c = config("ruler:niah_single_2");
  c.haystack.files.clear();
  const EvalSample s = EvalGenerator(c, llama3()).sample(0, 2000);
  EXPECT_TRUE(s.prompt.starts_with(kNiahSingleHead + "In the beginning God created the heaven and the earth.") ||
              s.prompt.starts_with(kNiahSingleHead + s.needles[0] + " In the beginning God created"))
      << s.prompt.substr(0, 300);
  EXPECT_EQ(int64_t(llama3().encode(s.prompt, true).size()), 2000);
}
