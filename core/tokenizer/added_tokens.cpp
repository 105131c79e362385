// Added-token matching (see added_tokens.h). Mirrors AddedVocabulary::find_matches of the
// `tokenizers` library: leftmost-longest matches, a match failing single_word is skipped,
// lstrip/rstrip widen a match over adjacent whitespace (never into an earlier match).
#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace duo {

void AddedVocabulary::Matcher::add(const std::string& pattern, int32_t token) {
  if (pattern.empty()) return;
  if (nodes.empty()) nodes.emplace_back();
  patterns.push_back(pattern);
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
  int32_t node = 0;
  for (char ch : pattern) {
    const auto c = static_cast<unsigned char>(ch);
    auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::pair<unsigned char, int32_t>{c, -1});
    if (it != children.end() && it->first == c) {
      node = it->second;
    } else {
      const auto next = static_cast<int32_t>(nodes.size());
      children.insert(it, {c, next});
      nodes.emplace_back();
      node = next;
    }
  }
  // The library keeps the last of duplicate patterns.
  nodes[node].token = token;
}

std::pair<size_t, int32_t> AddedVocabulary::Matcher::longest_at(std::string_view text,
                                                                 size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::pair<unsigned char, int32_t>{c, -1});
    if (it == children.end() || it->first != c) break;
    node = it->second;
    if (nodes[node].token >= 0) best = {i + 1 - pos, nodes[node].token};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  decode_forms_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    std::string form = t.content;
    if (t.normalized && normalizer != nullptr) normalizer->normalize(form);
    (t.normalized ? normalized_ : raw_).add(form, static_cast<int32_t>(i));
    decode_forms_.push_back(std::move(form));
    by_content_[t.content] = t.id;
    by_id_[t.id] = i;
    if (t.special) special_contents_.insert(t.content);
  }
}

const AddedToken* AddedVocabulary::find_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::find_content(std::string_view content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

const std::string& AddedVocabulary::decode_form(const AddedToken& token) const {
  return decode_forms_[by_id_.at(token.id)];
}

int32_t AddedVocabulary::id_bound() const {
  int32_t bound = 0;
  for (const auto& t : tokens_) bound = std::max(bound, t.id + 1);
  return bound;
}

void AddedVocabulary::split(std::string_view text, bool normalized, std::vector<Split>& out) const {
  const Matcher& matcher = normalized ? normalized_ : raw_;
  size_t start_offset = 0;
  if (!matcher.patterns.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      if (!matcher.first_byte[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      const auto [length, index] = matcher.longest_at(text, pos);
      if (length == 0) {
        ++pos;
        continue;
      }
      size_t start = pos, stop = pos + length;
      pos = stop;
      const AddedToken& token = tokens_[index];
      if (token.single_word) {
        const bool word_before = start > 0 && utf8::is_word_char(utf8::last(text.substr(0, start)));
        size_t after = stop;
        const bool word_after = stop < text.size() && utf8::is_word_char(utf8::next(text, after));
        if (word_before || word_after) continue;
      }
      if (token.lstrip) {
        size_t new_start = start;
        while (new_start > 0) {
          size_t back = new_start - 1;
          while (back > 0 && (static_cast<unsigned char>(text[back]) & 0xC0) == 0x80) --back;
          size_t probe = back;
          if (!utf8::is_whitespace(utf8::next(text, probe))) break;
          new_start = back;
        }
        start = std::max(new_start, start_offset);
      }
      if (token.rstrip) {
        while (stop < text.size()) {
          size_t probe = stop;
          if (!utf8::is_whitespace(utf8::next(text, probe))) break;
          stop = probe;
        }
      }
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, token.id});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace duo
