// Multi-passkey sample generation; the layout is drawn in passkey.h.
#include "synth/passkey.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "synth/rng.h"
#include "util/error.h"

namespace duo::synth {
namespace {

[[noreturn]] void bad_config(const std::string& problem) {
  throw Error("passkey data: " + problem);
}

void check(const PasskeyConfig& c) {
  if (c.num_passkeys < 1) bad_config("num_passkeys must be at least 1");
  if (c.passkey_words < 1) bad_config("passkey_words must be at least 1");
  if (c.word_list.empty()) bad_config("the word list is empty");
  for (const std::string& w : c.word_list)
    if (w.empty()) bad_config("the word list holds an empty word");
  if (!(0 <= c.depth_min && c.depth_min <= c.depth_max && c.depth_max <= 1))
    bad_config("depths must satisfy 0 <= depth_min <= depth_max <= 1");
  if (c.depth_count < c.num_passkeys)
    bad_config("depth_count (" + std::to_string(c.depth_count) + ") must be at least num_passkeys (" +
               std::to_string(c.num_passkeys) + "): every passkey needs its own depth");
  if (!(1 <= c.context_min && c.context_min <= c.context_max))
    bad_config("context lengths must satisfy 1 <= context_min <= context_max");
  if (c.context_count < 1) bad_config("context_count must be at least 1");
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
}

void append(std::vector<int32_t>& out, const std::vector<int32_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace

std::vector<int64_t> context_lengths(int64_t min, int64_t max, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(count == 1 ? min
                             : int64_t(double(min) + double(max - min) * double(i) / double(count - 1)));
  return out;
}

std::string ordinal_word(int64_t n) {
  static const char* const kWords[] = {
      "first",       "second",     "third",      "fourth",     "fifth",
      "sixth",       "seventh",    "eighth",     "ninth",      "tenth",
      "eleventh",    "twelfth",    "thirteenth", "fourteenth", "fifteenth",
      "sixteenth",   "seventeenth", "eighteenth", "nineteenth", "twentieth"};
  if (n >= 1 && n <= 20) return kWords[n - 1];
  const int64_t last_two = n % 100, last = n % 10;
  const char* ending = (last_two >= 11 && last_two <= 13) ? "th"
                       : last == 1                        ? "st"
                       : last == 2                        ? "nd"
                       : last == 3                        ? "rd"
                                                          : "th";
  return std::to_string(n) + ending;
}

PasskeyGenerator::PasskeyGenerator(PasskeyConfig config, Tokenizer tokenizer)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)) {
  check(config_);
  lengths_ = synth::context_lengths(config_.context_min, config_.context_max, config_.context_count);

  // BOS exactly when the tokenizer's own post-processor would add it to a text.
  const std::optional<int32_t> bos = tokenizer_.bos_id();
  const std::vector<int32_t> probe = tokenizer_.encode("a", true);
  if (bos && !probe.empty() && probe.front() == *bos) head_.push_back(*bos);
  append(head_, encode(config_.prefix));
  suffix_ = encode(config_.suffix);
  separator_ = encode(config_.separator);
  for (int64_t i = 0; i < config_.num_passkeys; ++i) {
    needles_.push_back(encode(fill(config_.needle, i)));
    questions_.push_back(encode(fill(config_.question, i) + config_.answer_prefix));
  }

  // A context_min that some samples cannot meet should fail now, not at a later step: bound
  // the fixed part from above with every passkey word at its most tokens.
  int64_t first_word = 0, next_word = 0;
  for (const std::string& w : config_.word_list) {
    const int64_t alone = int64_t(encode(w).size());
    first_word = std::max(first_word, alone);
    next_word = std::max(next_word, int64_t(encode(w + " " + w).size()) - alone);
  }
  const int64_t longest_passkey = first_word + (config_.passkey_words - 1) * next_word;
  int64_t most_fixed = int64_t(head_.size() + suffix_.size());
  for (int64_t i = 0; i < config_.num_passkeys; ++i)
    most_fixed += int64_t(3 * separator_.size() + needles_[i].size() + questions_[i].size()) +
                  2 * longest_passkey;
  if (config_.context_min <= most_fixed)
    throw Error("passkey data: context_min (" + std::to_string(config_.context_min) +
                ") is too short: " + std::to_string(config_.num_passkeys) + " passkeys of " +
                std::to_string(config_.passkey_words) +
                " words with their sentences and questions can take up to " +
                std::to_string(most_fixed) +
                " tokens of this tokenizer, leaving no haystack; raise context_min or use fewer or "
                "shorter passkeys");

  haystack_ = tokenize_haystack(read_haystack_documents(config_.haystack), tokenizer_,
                                config_.context_max);
  if (haystack_.empty()) throw Error("passkey data: the haystack holds no text");
}

std::vector<int32_t> PasskeyGenerator::encode(const std::string& text) const {
  return text.empty() ? std::vector<int32_t>() : tokenizer_.encode(text, false);
}

std::string PasskeyGenerator::fill(const std::string& text, int64_t passkey) const {
  std::string out = text;
  replace_all(out, "{ordinal}", ordinal_word(passkey + 1));
  replace_all(out, "{index}", std::to_string(passkey + 1));
  return out;
}

int64_t PasskeyGenerator::context_length(int64_t index) const {
  const int64_t count = int64_t(lengths_.size());
  const int64_t epoch = index / count, position = index % count;
  if (!config_.shuffle) return lengths_[position];
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  Rng(config_.seed, 2 * uint64_t(epoch) + 1).partial_shuffle(order, order.size());
  return lengths_[order[position]];
}

PasskeySample PasskeyGenerator::sample(int64_t index) const {
  return sample(index, context_length(index));
}

PasskeySample PasskeyGenerator::sample(int64_t index, int64_t context_length) const {
  const PasskeyConfig& c = config_;
  const int64_t n = c.num_passkeys;
  // Even streams are samples, odd ones the epochs' length orders (context_length above).
  Rng rng(c.seed, 2 * uint64_t(index));

  PasskeySample s;
  s.index = index;
  s.context_length = context_length;
  std::vector<std::vector<int32_t>> passkey_ids;
  for (int64_t i = 0; i < n; ++i) {
    std::string passkey;
    for (int64_t w = 0; w < c.passkey_words; ++w) {
      if (w) passkey += ' ';
      passkey += c.word_list[rng.below(c.word_list.size())];
    }
    passkey_ids.push_back(encode(passkey));
    s.passkeys.push_back(std::move(passkey));
  }
  std::vector<int64_t> grid(c.depth_count);
  std::iota(grid.begin(), grid.end(), 0);
  rng.partial_shuffle(grid, std::size_t(n));
  std::sort(grid.begin(), grid.begin() + n);
  for (int64_t i = 0; i < n; ++i)
    s.depths.push_back(c.depth_count == 1 ? c.depth_min
                                          : c.depth_min + (c.depth_max - c.depth_min) *
                                                              double(grid[i]) / double(c.depth_count - 1));

  int64_t fixed = int64_t(head_.size() + suffix_.size());
  for (int64_t i = 0; i < n; ++i)
    fixed += int64_t(3 * separator_.size() + needles_[i].size() + questions_[i].size() +
                     2 * passkey_ids[i].size());
  const int64_t h = context_length - fixed;
  if (h < 0)
    throw Error("passkey data: a context of " + std::to_string(context_length) +
                " tokens cannot hold the prompt, the " + std::to_string(n) +
                " needles and the question/answer block, which take " + std::to_string(fixed) +
                " tokens for this sample");
  if (h > int64_t(haystack_.size()))
    throw Error("passkey data: the haystack has only " + std::to_string(haystack_.size()) +
                " tokens, and a sample of " + std::to_string(context_length) + " tokens needs " +
                std::to_string(h) + "; add haystack text");
  s.haystack_tokens = h;

  std::vector<int32_t>& ids = s.ids;
  ids.reserve(context_length);
  append(ids, head_);
  int64_t last = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = std::clamp<int64_t>(int64_t(std::floor(double(h) * s.depths[i])), last, h);
    ids.insert(ids.end(), haystack_.begin() + last, haystack_.begin() + at);
    append(ids, separator_);
    const int64_t start = int64_t(ids.size());
    append(ids, needles_[i]);
    append(ids, passkey_ids[i]);
    s.needle_spans.push_back({start, int64_t(ids.size())});
    append(ids, separator_);
    last = at;
  }
  ids.insert(ids.end(), haystack_.begin() + last, haystack_.begin() + h);
  append(ids, suffix_);

  s.label_span.start = int64_t(ids.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t q = int64_t(ids.size());
    append(ids, questions_[i]);
    s.question_spans.push_back({q, int64_t(ids.size())});
    append(ids, passkey_ids[i]);
    s.answer_spans.push_back({s.question_spans.back().end, int64_t(ids.size())});
    append(ids, separator_);
  }
  s.label_span.end = int64_t(ids.size());
  s.label_mask.assign(ids.size(), 0);
  std::fill(s.label_mask.begin() + s.label_span.start, s.label_mask.end(), uint8_t(1));
  return s;
}

}  // namespace duo::synth
