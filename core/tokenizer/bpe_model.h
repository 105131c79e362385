// The BPE model of tokenizer.json: turns one pre-tokenized word into ids by starting from its
// characters (or bytes) and applying merges in rank order, as the `tokenizers` library does.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace duo {

// Hash for std::string keys that also accepts std::string_view lookups without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  struct Options {
    std::optional<std::string> unk_token;
    bool fuse_unk = false;
    bool byte_fallback = false;
    // A word found whole in the vocabulary is one token, without merging (Llama-3).
    bool ignore_merges = false;
    // Words arrive as raw bytes from a ByteLevel pre-tokenizer: the model matches them against
    // the vocabulary mapped back from the byte-level alphabet, which saves mapping every input
    // byte to its alphabet character.
    bool byte_level_input = false;
  };

  // merges: pairs of vocabulary tokens, highest priority first. Throws duo::Error when a merge
  // names a token (or produces one) that is not in the vocabulary.
  BpeModel(StringMap<int32_t> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           Options options);

  // Appends the ids of one word (non-empty) to out.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // nullptr when the id is not in the vocab
  int32_t id_bound() const { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct MergeTable;  // open-addressing map from (left id, right id) to (rank, merged id)
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the word, -1 at the ends
    int32_t len;         // bytes covered; 0 once merged into its left neighbour
  };

  void initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge(std::vector<Symbol>& symbols) const;
  // Merges one word (or a part of a long word) and appends its ids, through the memo.
  void merge_memoized(std::string_view word, std::vector<int32_t>& out) const;
  // Length in bytes of the input unit (byte or UTF-8 character) at word[i].
  size_t unit_length(std::string_view word, size_t i) const;

  StringMap<int32_t> vocab_;         // as written in tokenizer.json
  StringMap<int32_t> input_vocab_;   // keyed as words arrive (raw bytes for byte-level input)
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  std::shared_ptr<const MergeTable> merges_;
  std::array<int32_t, 256> byte_fallback_ids_{};  // id of "<0xXX>", -1 when absent
  std::array<int32_t, 256> byte_ids_{};           // byte-level input: id of each single byte
  std::optional<int32_t> unk_id_;
  Options options_;
  // Pairs of input units (code points, or bytes for byte-level input) that occur next to each
  // other inside some vocabulary token. No merge can join two units that never do, so a long
  // word is cut there into parts that are tokenized (and memoized) separately.
  std::unordered_set<uint64_t> adjacent_units_;

  // Words already tokenized. The model is shared and immutable apart from this memo, so it
  // has its own lock.
  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<int32_t>> cache_;
};

}  // namespace duo
