// Instruction retention samples and their checks; see instructions.h.
#include "synth/instructions.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>

#include "synth/eval_build.h"
#include "synth/eval_words.h"
#include "util/error.h"

namespace duo::synth {
namespace {

// Common function words that tell the languages apart: no word is in two lists (words such as
// "a", "de", "du", "la", "en", "es", "in", "on", "que", "se", "son" and "was" are left out).
const std::set<std::string>& function_words(const std::string& language) {
  static const std::set<std::string> english = {
      "the", "and", "is", "of", "to", "that", "it", "with", "are", "this", "be", "as",
      "by", "at", "from", "have", "not", "they", "which", "you", "we", "its", "their", "has"};
  static const std::set<std::string> french = {
      "le", "les", "est", "et", "une", "des", "dans", "leur", "pour", "pas", "sur", "avec",
      "sont", "qui", "ce", "cette", "il", "elle", "nous", "vous", "mais", "ou", "au", "aux"};
  static const std::set<std::string> spanish = {
      "el", "los", "las", "una", "del", "por", "para", "con", "pero", "muy", "sus", "porque",
      "este", "esta", "como", "cuando", "entre", "hay", "lo", "y", "mas", "sobre", "tiene", "al"};
  static const std::set<std::string> german = {
      "der", "die", "das", "und", "ist", "ein", "eine", "nicht", "mit", "auf", "den", "dem",
      "sich", "auch", "von", "zu", "im", "sind", "wird", "oder", "aber", "wie", "ich", "nach"};
  if (language == "English") return english;
  if (language == "French") return french;
  if (language == "Spanish") return spanish;
  if (language == "German") return german;
  throw Error("instructions: unknown language '" + language + "'");
}
const std::vector<std::string> kLanguages = {"French", "Spanish", "German"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool word_byte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80;
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size();) {
    if (!word_byte(text[at])) {
      ++at;
      continue;
    }
    const std::size_t begin = at;
    while (at < text.size() && word_byte(text[at])) ++at;
    out.push_back(lower(text.substr(begin, at - begin)));
  }
  return out;
}

bool language_check(const std::string& language, std::string_view answer) {
  function_words(language);  // an unknown language throws
  int64_t target = 0, best_other = 0;
  for (const std::string& l : {std::string("English"), std::string("French"), std::string("Spanish"), std::string("German")}) {
    const std::set<std::string>& fw = function_words(l);
    int64_t n = 0;
    for (const std::string& w : words_of(answer)) n += fw.count(w);
    if (l == language)
      target = n;
    else
      best_other = std::max(best_other, n);
  }
  return target >= 3 && target > best_other;
}

bool has_number(std::string_view answer, const std::string& number) {
  for (std::size_t at = 0; (at = answer.find(number, at)) != std::string_view::npos; ++at) {
    const bool digit_before = at > 0 && std::isdigit(static_cast<unsigned char>(answer[at - 1]));
    const std::size_t end = at + number.size();
    const bool digit_after = end < answer.size() && std::isdigit(static_cast<unsigned char>(answer[end]));
    if (!digit_before && !digit_after) return true;
  }
  return false;
}

int64_t bullet_lines(std::string_view answer) {
  int64_t n = 0;
  std::size_t at = 0;
  while (at <= answer.size()) {
    std::size_t end = answer.find('\n', at);
    if (end == std::string_view::npos) end = answer.size();
    std::string_view line = answer.substr(at, end - at);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.starts_with("* ")) ++n;
    at = end + 1;
  }
  return n;
}

Instruction make(const std::string& kind, Rng& rng, std::set<std::string>& used_words) {
  const auto word = [&] {
    std::string w;
    do w = words::nouns()[rng.below(words::nouns().size())];
    while (!used_words.insert(w).second);
    return w;
  };
  if (kind == "language") {
    const std::string l = kLanguages[rng.below(kLanguages.size())];
    return {kind, l, "Write your entire answer in " + l + "."};
  }
  if (kind == "end_word") {
    const std::string w = word();
    return {kind, w, "End your answer with the word \"" + w + "\"."};
  }
  if (kind == "start_word") {
    const std::string w = word();
    return {kind, w, "Begin your answer with the word \"" + w + "\"."};
  }
  if (kind == "number") {
    const std::string n = std::to_string(100 + rng.below(900));
    return {kind, n, "Include the number " + n + " in your answer."};
  }
  if (kind == "keyword_twice") {
    const std::string w = word();
    return {kind, w, "Use the word \"" + w + "\" at least twice in your answer."};
  }
  if (kind == "capitals") return {kind, "", "Write your entire answer in capital letters."};
  if (kind == "no_commas") return {kind, "", "Do not use any commas in your answer."};
  const std::string k = std::to_string(2 + rng.below(3));
  return {kind, k, "Give your answer as exactly " + k + " bullet points, each on its own line starting with \"* \"."};
}

}  // namespace

const std::vector<std::string>& instruction_kinds() {
  static const std::vector<std::string> kinds = {"language", "end_word",  "start_word", "number",
                                                 "keyword_twice", "capitals", "no_commas", "bullets"};
  return kinds;
}

bool follows(const Instruction& in, std::string_view answer) {
  const std::vector<std::string> w = words_of(answer);
  const std::string arg = lower(in.argument);
  if (in.kind == "language") return language_check(in.argument, answer);
  if (in.kind == "end_word") return !w.empty() && w.back() == arg;
  if (in.kind == "start_word") return !w.empty() && w.front() == arg;
  if (in.kind == "number") return has_number(answer, in.argument);
  if (in.kind == "keyword_twice") return std::count(w.begin(), w.end(), arg) >= 2;
  if (in.kind == "capitals") {
    bool letter = false;
    for (char c : answer) {
      if (std::islower(static_cast<unsigned char>(c))) return false;
      letter = letter || std::isupper(static_cast<unsigned char>(c));
    }
    return letter;
  }
  if (in.kind == "no_commas") return answer.find(',') == std::string_view::npos;
  if (in.kind == "bullets") return bullet_lines(answer) == std::stoll(in.argument);
  throw Error("instructions: unknown instruction kind '" + in.kind + "'");
}

double instruction_score(const std::vector<Instruction>& instructions, std::string_view answer) {
  if (instructions.empty()) throw Error("instructions: no instructions to check");
  double n = 0;
  for (const Instruction& in : instructions) n += follows(in, answer) ? 1 : 0;
  return n / double(instructions.size());
}

std::vector<Instruction> draw_instructions(Rng& rng, int64_t count) {
  const std::vector<std::string>& kinds = instruction_kinds();
  if (count < 1 || count > int64_t(kinds.size()))
    throw Error("instructions: the number of instructions must be 1 to " + std::to_string(kinds.size()) +
                ", got " + std::to_string(count));
  std::vector<std::string> pick = kinds;
  rng.partial_shuffle(pick, std::size_t(count));
  std::set<std::string> used;
  std::vector<Instruction> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(make(pick[std::size_t(i)], rng, used));
  return out;
}

namespace eval {
namespace {

constexpr int64_t kRetentionTokens = 256;

class RetentionDraft : public Draft {
 public:
  const Essay* essay = nullptr;
  std::string head, tail;
  Rendered render(int64_t units, std::size_t filler, int /*variant*/) const override {
    Rendered r;
    r.prompt = head;
    r.context_begin = r.prompt.size();
    essay->render(units, pieces, filler, r);
    r.context_end = r.prompt.size();
    r.prompt += tail;
    return r;
  }
  int64_t probe_units() const override { return 256; }
};

class RetentionTask : public Task {
 public:
  RetentionTask(std::string name, const EvalConfig& config)
      : name_(std::move(name)), config_(config), essay_(read_haystack_documents(config.haystack)) {
    if (config.num_instructions < 1 || config.num_instructions > int64_t(instruction_kinds().size()))
      throw Error("retention: the number of instructions must be 1 to " +
                  std::to_string(instruction_kinds().size()) + ", got " + std::to_string(config.num_instructions));
  }

  std::unique_ptr<Draft> draft(int64_t index, int64_t /*length*/) const override {
    auto d = std::make_unique<RetentionDraft>();
    d->meta.task = "retention:" + name_;
    Rng rng = sample_rng(config_.seed, d->meta.task, index, 0);
    d->meta.instructions = draw_instructions(rng, config_.num_instructions);
    const bool system = name_ == "system_prompt";
    std::string block = system ? "System prompt: You are a helpful assistant. Every answer you give must follow these rules:"
                               : "Instructions for your answer to the question at the end of this text:";
    for (std::size_t i = 0; i < d->meta.instructions.size(); ++i)
      block += " " + std::to_string(i + 1) + ". " + d->meta.instructions[i].text;
    // The depth: RULER's grid (niah.py's DEPTHS) for instructions, the start for a system prompt.
    const double drawn = double(std::lround(100.0 * double(rng.below(40)) / 39.0)) / 100.0;
    d->pieces.push_back({config_.depth ? *config_.depth : system ? 0.0 : drawn, block});
    d->head = "Read the following text and answer the question after it.\n";
    d->tail = std::string("\nQuestion: What is the text above about? Answer in a few sentences, following ") +
              (system ? "the rules of the system prompt." : "every instruction for your answer given in the text.");
    d->meta.answer_prefix = "\nAnswer:";
    d->tail += d->meta.answer_prefix;
    d->essay = &essay_;
    d->meta.index = index;
    d->meta.seed = config_.seed;
    d->meta.metric = "instructions";
    d->meta.tokens_to_generate = kRetentionTokens;
    return d;
  }

 private:
  std::string name_;
  EvalConfig config_;
  Essay essay_;
};

}  // namespace

const std::vector<std::string>& retention_task_names() {
  static const std::vector<std::string> names = {"instructions", "system_prompt"};
  return names;
}

std::unique_ptr<const Task> make_retention_task(const std::string& name, const EvalConfig& config,
                                                const Tokenizer& /*tokenizer*/) {
  for (const std::string& n : retention_task_names())
    if (n == name) return std::make_unique<RetentionTask>(name, config);
  return nullptr;
}

}  // namespace eval
}  // namespace duo::synth
