// Added tokens of tokenizer.json ("added_tokens"): strings such as "<|begin_of_text|>" that are
// found in the text before the model runs and become one id each, with the library's
// lstrip / rstrip / single_word / normalized rules.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tokenizer/bpe_model.h"
#include "tokenizer/normalizers.h"

namespace duo {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;      // skipped by decode(skip_special_tokens)
  bool lstrip = false;       // also takes the whitespace before it
  bool rstrip = false;       // also takes the whitespace after it
  bool single_word = false;  // only matches when not inside a word
  bool normalized = false;   // matched in normalized text (by its normalized form)
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  // normalizer: the tokenizer's, or null; it gives the form of normalized tokens.
  AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  struct Split {
    size_t start, end;
    int32_t id;  // -1: plain text for the model
  };
  // Cuts text at tokens with normalized = false (on raw text) or true (on normalized text).
  void split(std::string_view text, bool normalized, std::vector<Split>& out) const;
  bool has_normalized_tokens() const { return !normalized_.patterns.empty(); }

  const AddedToken* find_id(int32_t id) const;
  std::optional<int32_t> find_content(std::string_view content) const;
  // The string decode uses for an added token: its normalized form when it has one.
  const std::string& decode_form(const AddedToken& token) const;
  bool is_special_content(std::string_view token) const { return special_contents_.contains(token); }
  int32_t id_bound() const;

 private:
  // Byte trie for leftmost-longest matching of a set of patterns.
  struct Matcher {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
      int32_t token = -1;  // index into tokens_ of the pattern ending here
    };
    std::vector<Node> nodes;
    std::vector<std::string> patterns;
    std::array<bool, 256> first_byte{};
    void add(const std::string& pattern, int32_t token);
    // The longest pattern starting at text[pos]: (length, token index), length 0 when none.
    std::pair<size_t, int32_t> longest_at(std::string_view text, size_t pos) const;
  };

  std::vector<AddedToken> tokens_;
  std::vector<std::string> decode_forms_;
  StringMap<int32_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> special_contents_;
  Matcher raw_, normalized_;
};

}  // namespace duo
