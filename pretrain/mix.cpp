// The pretraining mix (see mix.h): passkey-format samples from data/synth, and mixed samples
// built here from haystack text plus inserted facts and questions.
#include "mix.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "synth/haystack.h"
#include "synth/rng.h"
#include "util/error.h"

namespace duo {
namespace {

// Lookup values: short, distinct, common words (no NATO words, so a value is never mistaken
// for a passkey).
const std::vector<std::string> kValueWords = {
    "amber", "falcon", "river", "copper", "maple", "silver", "thunder", "velvet", "harbor", "orchid",
    "granite", "lantern", "meadow", "crimson", "willow", "ember", "glacier", "saffron", "canyon", "pepper",
    "violet", "raven", "cobalt", "summit", "jasmine", "marble", "otter", "walnut", "prairie", "topaz"};

double uniform(synth::Rng& rng) { return double(rng.next() >> 11) * 0x1.0p-53; }
int64_t between(synth::Rng& rng, int64_t lo, int64_t hi) { return lo + int64_t(rng.below(uint64_t(hi - lo + 1))); }

std::string words(synth::Rng& rng, const std::vector<std::string>& list, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += (i ? " " : "") + list[rng.below(list.size())];
  return out;
}

// n words of 2-5 random lowercase letters. Unlike NATO or value words, every byte of such a word
// is unpredictable from the bytes before it, so only copying gets it right: the signal that makes
// a byte-level model grow copy (induction) heads.
std::string letters(synth::Rng& rng, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    for (int64_t len = between(rng, 2, 5); len > 0; --len) out += char('a' + rng.below(26));
  }
  return out;
}

// One inserted piece of a mixed sample: the text before the answer, the answer, the text after.
struct Piece {
  double depth = 0;  // where in the haystack it goes, as a fraction
  int order = 0;     // ties at one position: facts before questions, then task order
  std::string before, answer, after;
};

}  // namespace

synth::PasskeyGenerator make_passkey_generator(const PretrainConfig& config, const Tokenizer& tokenizer,
                                               uint64_t seed, int64_t context_min, int64_t context_max) {
  synth::PasskeyConfig pk;
  for (const std::string& f : config.data.haystack_files) pk.haystack.files.emplace_back(f);
  pk.seed = seed;
  pk.num_passkeys = config.data.num_passkeys;
  pk.passkey_words = config.data.passkey_words;
  pk.depth_count = 100;
  pk.context_min = context_min;
  pk.context_max = context_max;
  pk.context_count = 2;
  return synth::PasskeyGenerator(pk, tokenizer);
}

MixGenerator::MixGenerator(const PretrainConfig& config, Tokenizer tokenizer)
    : cfg_(config.data), tok_(std::move(tokenizer)),
      copy_warmup_samples_(config.data.copy_warmup_steps * config.train.batch) {
  if (!tok_.bos_id()) throw Error("the tokenizer has no BOS token; duo-pretrain starts every sample with one");
  bos_ = *tok_.bos_id();
  synth::HaystackSource source;
  for (const std::string& f : cfg_.haystack_files) source.files.emplace_back(f);
  haystack_ = synth::tokenize_haystack(synth::read_haystack_documents(source), tok_, INT64_MAX);
  if (int64_t(haystack_.size()) < 4 * cfg_.context)
    throw Error("the haystack holds " + std::to_string(haystack_.size()) + " tokens; duo-pretrain wants at least " +
                std::to_string(4 * cfg_.context) + " (four contexts) so that samples differ");
  if (cfg_.passkey_sample_fraction > 0)
    passkeys_ = std::make_unique<synth::PasskeyGenerator>(
        make_passkey_generator(config, tok_, cfg_.seed, cfg_.passkey_context_min, cfg_.context));
  const synth::PasskeyConfig layout;  // make_passkey_generator keeps data/synth's sentences
  separator_tokens_ = int64_t(tok_.encode(layout.separator, false).size());
  suffix_tokens_ = int64_t(tok_.encode(layout.suffix, false).size());
}

MixSample MixGenerator::sample(int64_t index) const {
  synth::Rng rng(cfg_.seed, uint64_t(index));
  const uint64_t draw = rng.next();
  if (index < copy_warmup_samples_) return copy_sample(index);
  const double u = uniform(rng);
  if (passkeys_ && u < cfg_.passkey_sample_fraction) return passkey_sample(index, draw);
  if (u < cfg_.passkey_sample_fraction + cfg_.copy_sample_fraction) return copy_sample(index);
  return mixed_sample(index);
}

MixSample MixGenerator::copy_sample(int64_t index) const {
  synth::Rng rng(cfg_.seed ^ 0x9e3779b9ull, uint64_t(index));
  const int64_t T = cfg_.context;
  MixSample out;
  out.ids.reserve(T + 64);
  out.answer.reserve(T + 64);
  out.ids.push_back(bos_);
  out.answer.push_back(0);
  // Each line's key and value, so that a recall repeats one exactly; keys are 2-5 random letters
  // (26^2 and more of them: a repeated key almost always means a recalled line).
  std::vector<std::pair<std::string, std::string>> lines;
  while (int64_t(out.ids.size()) < T) {
    std::pair<std::string, std::string> line;
    const bool recall = !lines.empty() && rng.below(2);
    if (recall) {
      line = lines[rng.below(lines.size())];
    } else {
      // Half the values are NATO words, as passkeys are: words recur across lines, so copying
      // must follow the line being recalled rather than the last word alone.
      const int64_t n = between(rng, 1, 8);
      line = {letters(rng, 1), rng.below(2) ? letters(rng, n) : words(rng, synth::PasskeyConfig::nato_alphabet(), n)};
      lines.push_back(line);
    }
    for (int part = 0; part < 3; ++part) {
      const std::string text = part == 0 ? line.first + ": " : part == 1 ? line.second : "\n";
      const std::vector<int32_t> ids = tok_.encode(text, false);
      out.ids.insert(out.ids.end(), ids.begin(), ids.end());
      const uint8_t kind = recall && part == 1 ? kAnswer : 0;
      out.answer.insert(out.answer.end(), ids.size(), kind);
      if (kind && !ids.empty()) out.answer[out.answer.size() - ids.size()] = kAnswerFirst;
    }
  }
  out.ids.resize(T);
  out.answer.resize(T);
  return out;
}

MixSample MixGenerator::passkey_sample(int64_t index, uint64_t draw) const {
  // One sample of the whole context, or two back to back whose lengths add up to it.
  const int64_t T = cfg_.context, lo = cfg_.passkey_context_min;
  int64_t first = lo + int64_t(draw % uint64_t(T - lo + 1));
  if (T - first < lo) first = T;
  MixSample out;
  int64_t sub = 2 * index;  // each sequence uses two passkey-stream positions
  for (int64_t length : {first, T - first}) {
    if (length == 0) continue;
    synth::PasskeySample s = passkeys_->sample(sub++, length);
    move_haystack(s, synth::Rng(cfg_.seed ^ 0x2545f491ull, uint64_t(sub)));
    out.ids.insert(out.ids.end(), s.ids.begin(), s.ids.end());
    std::vector<uint8_t> mark(s.ids.size(), 0);
    for (const synth::Span& a : s.answer_spans) {
      std::fill(mark.begin() + a.start, mark.begin() + a.end, kAnswer);
      mark[a.start] = kAnswerFirst;
    }
    out.answer.insert(out.answer.end(), mark.begin(), mark.end());
  }
  return out;
}

void MixGenerator::move_haystack(synth::PasskeySample& s, synth::Rng rng) const {
  // data/synth fills each sample with the haystack's first H tokens, so every passkey sample
  // would open with Genesis 1:1 and the model could memorise the text instead of retrieving.
  // Put H tokens from a random place in the same positions; needles, questions and answers stay.
  // The haystack runs lie between data/synth's separators (synth/passkey.h): before the first
  // needle, between needles, and after the last needle up to the suffix.
  const int64_t h = s.haystack_tokens, sep = separator_tokens_;
  const int64_t from = int64_t(rng.below(uint64_t(int64_t(haystack_.size()) - h + 1)));
  const int64_t first_run = std::clamp<int64_t>(int64_t(std::floor(double(h) * s.depths[0])), 0, h);
  const int64_t first_end = s.needle_spans[0].start - sep;
  std::vector<std::pair<int64_t, int64_t>> runs = {{first_end - first_run, first_end}};
  for (size_t i = 1; i < s.needle_spans.size(); ++i)
    runs.push_back({s.needle_spans[i - 1].end + sep, s.needle_spans[i].start - sep});
  runs.push_back({s.needle_spans.back().end + sep, s.label_span.start - suffix_tokens_});
  const Error changed("duo-pretrain: data/synth's passkey layout is not the one mix.cpp expects");
  int64_t used = 0;
  for (const auto& [begin, end] : runs)
    for (int64_t p = begin; p < end; ++p, ++used) {
      // data/synth read the same haystack from its start; a mismatch means its layout changed.
      if (used >= h || s.ids[p] != haystack_[used]) throw changed;
      s.ids[p] = haystack_[from + used];
    }
  if (used != h) throw changed;
}

MixSample MixGenerator::mixed_sample(int64_t index) const {
  synth::Rng rng(cfg_.seed ^ 0x5bd1e995ull, uint64_t(index));
  const int64_t T = cfg_.context;
  const int64_t num_tasks = between(rng, cfg_.tasks_min, cfg_.tasks_max);

  // Draw every task's kind and depths first: ordinals follow the order of the facts in the text.
  struct Task {
    int kind;  // 0 passkey, 1 lookup, 2 phrase, 3 copy
    double fact, question;
    bool asked;
  };
  std::vector<Task> tasks;
  const double near = double(cfg_.near_tokens) / double(T);
  for (int64_t i = 0; i < num_tasks; ++i) {
    Task t;
    t.kind = uniform(rng) < cfg_.copy_task_fraction ? 3 : int(rng.below(3));
    t.fact = uniform(rng);
    // Copies and a share of the other questions come soon after their fact: short copies are
    // what a copy head forms on first. The rest are biased (sqrt) towards the end of the
    // sample, where the longest distances are.
    if (t.kind == 3 || uniform(rng) < cfg_.near_question_fraction)
      t.question = std::min(1.0, t.fact + near * uniform(rng));
    else
      t.question = t.fact + (1 - t.fact) * std::sqrt(uniform(rng));
    t.asked = t.kind == 3 || uniform(rng) < 0.8;
    tasks.push_back(t);
  }
  std::sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) { return a.fact < b.fact; });

  std::vector<Piece> pieces;
  int count[4] = {0, 0, 0, 0};
  std::string keys_left = "abcdefghijklmnopqrstuvwxyz";  // single-letter lookup keys, each used once
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& t = tasks[i];
    const std::string ord = synth::ordinal_word(++count[t.kind]);
    Piece fact{t.fact, int(2 * i)}, question{t.question, int(2 * i + 1)};
    if (t.kind == 0) {
      const int64_t n = between(rng, cfg_.words_min, cfg_.words_max);
      const std::string key = rng.below(2) ? words(rng, synth::PasskeyConfig::nato_alphabet(), n) : letters(rng, n);
      if (rng.below(2)) {
        fact.before = "\nThe " + ord + " passkey is: " + key + ".\n";
        question.before = "\nWhat is the " + ord + " passkey?\nPasskey: ";
      } else {  // data/synth's sentences: the reference's
        namespace ref = synth::reference;
        auto with_ordinal = [&](std::string_view sentence) {
          std::string s(sentence);
          return s.replace(s.find("{ordinal}"), 9, ord);
        };
        const std::string sep(ref::separator);
        fact.before = sep + with_ordinal(ref::needle) + key + sep;
        question.before = sep + with_ordinal(ref::question) + std::string(ref::answer_prefix);
      }
      question.answer = key;
      question.after = "\n";
    } else if (t.kind == 1 && rng.below(2) && !keys_left.empty()) {
      // The question repeats the fact's own opening, so answering is a plain copy of what
      // followed it: the easiest retrieval there is.
      const size_t k = rng.below(keys_left.size());
      const std::string key = std::string("Key ") + keys_left[k] + ": ";
      keys_left.erase(k, 1);
      const std::string value = letters(rng, between(rng, 1, 3));
      fact.before = "\n" + key + value + "\n";
      question.before = "\n" + key;
      question.answer = value;
      question.after = "\n";
    } else if (t.kind == 1) {
      const std::string key = std::to_string(between(rng, 1000, 9999));
      const std::string value = words(rng, kValueWords, between(rng, 1, std::min<int64_t>(3, cfg_.words_max)));
      fact.before = "\nRecord " + key + ": " + value + ".\n";
      question.before = "\nLook up record " + key + ".\nValue: ";
      question.answer = value;
      question.after = "\n";
    } else if (t.kind == 3) {
      const std::string code = letters(rng, between(rng, 1, 6));
      fact.before = "\nThe " + ord + " code is: " + code + ".\n";
      question.before = "\nWhat is the " + ord + " code?\nCode: ";
      question.answer = code;
      question.after = "\n";
    } else {
      const int64_t n = between(rng, cfg_.phrase_min, cfg_.phrase_max);
      const int64_t at = int64_t(rng.below(haystack_.size() - n));
      std::string phrase = tok_.decode(std::span<const int32_t>(haystack_.data() + at, size_t(n)));
      std::replace(phrase.begin(), phrase.end(), '\n', ' ');
      fact.before = "\nThe " + ord + " phrase is: \"" + phrase + "\"\n";
      question.before = "\nRepeat the " + ord + " phrase: \"";
      question.answer = phrase;
      question.after = "\"\n";
    }
    pieces.push_back(fact);
    if (t.asked) pieces.push_back(question);
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.depth != b.depth ? a.depth < b.depth : a.order < b.order;
  });

  // Tokenize the pieces; drop the last ones while they leave less than a quarter for text.
  struct Encoded {
    double depth;
    std::vector<int32_t> ids;
    std::vector<uint8_t> answer;
  };
  std::vector<Encoded> enc;
  int64_t inserted = 0;
  for (const Piece& p : pieces) {
    Encoded e{p.depth};
    for (int part = 0; part < 3; ++part) {
      const std::string& text = part == 0 ? p.before : part == 1 ? p.answer : p.after;
      const std::vector<int32_t> ids = tok_.encode(text, false);
      e.ids.insert(e.ids.end(), ids.begin(), ids.end());
      e.answer.insert(e.answer.end(), ids.size(), part == 1 ? kAnswer : 0);
      if (part == 1 && !ids.empty()) e.answer[e.answer.size() - ids.size()] = kAnswerFirst;
    }
    if (inserted + int64_t(e.ids.size()) > (T - 1) * 3 / 4) break;
    inserted += int64_t(e.ids.size());
    enc.push_back(std::move(e));
  }

  const int64_t text = T - 1 - inserted;
  const int64_t start = int64_t(rng.below(haystack_.size() - text));
  MixSample out;
  out.ids.reserve(T);
  out.answer.reserve(T);
  auto text_upto = [&](int64_t& used, int64_t upto) {  // haystack tokens [used, upto)
    if (upto <= used) return;
    out.ids.insert(out.ids.end(), haystack_.begin() + start + used, haystack_.begin() + start + upto);
    out.answer.insert(out.answer.end(), size_t(upto - used), 0);
    used = upto;
  };
  out.ids.push_back(bos_);
  out.answer.push_back(0);
  int64_t used = 0;
  for (const Encoded& e : enc) {
    text_upto(used, std::min<int64_t>(text, int64_t(std::floor(e.depth * double(text)))));
    out.ids.insert(out.ids.end(), e.ids.begin(), e.ids.end());
    out.answer.insert(out.answer.end(), e.answer.begin(), e.answer.end());
  }
  text_upto(used, text);
  return out;
}

}  // namespace duo
