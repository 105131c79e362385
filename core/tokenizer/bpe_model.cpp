// BPE word tokenization (see bpe_model.h). The merge loop follows the `tokenizers` library's
// Word::merge_all: a priority queue of candidate merges ordered by (rank, position), where a
// popped candidate is applied only if the pair at its position still merges into the same id.
#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace duo {

namespace {

// Words longer than this are not memoized: they are rare and would bloat the cache (a
// SentencePiece tokenizer without pre-tokenizer sees whole lines as words).
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 18;

// The code point of the input unit word[i..i+len): the byte itself for byte-level input.
char32_t unit_value(std::string_view word, size_t i, bool byte_level) {
  if (byte_level) return static_cast<unsigned char>(word[i]);
  return utf8::next(word, i);
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

struct BpeModel::MergeTable {
  struct Slot {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t merged_id = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<Slot> slots;
  uint64_t mask = 0;
  int shift = 0;

  explicit MergeTable(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    slots.resize(capacity);
    mask = capacity - 1;
    shift = 64 - __builtin_ctzll(capacity);
  }
  size_t home(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ULL) >> shift; }
  // A later duplicate of a pair replaces the earlier one, as in the library's hash map.
  void put(uint64_t key, int32_t rank, int32_t merged_id) {
    for (size_t i = home(key);; i = (i + 1) & mask) {
      if (slots[i].key == kEmpty || slots[i].key == key) {
        slots[i] = {key, rank, merged_id};
        return;
      }
    }
  }
  const Slot* find(uint64_t key) const {
    for (size_t i = home(key);; i = (i + 1) & mask) {
      if (slots[i].key == key) return &slots[i];
      if (slots[i].key == kEmpty) return nullptr;
    }
  }
};

BpeModel::BpeModel(StringMap<int32_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, Options options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab_) {
    if (id < 0) throw Error("model vocab: negative id " + std::to_string(id) + " for \"" + token + "\"");
    max_id = std::max(max_id, id);
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  has_id_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : vocab_) {
    id_to_token_[id] = token;
    has_id_[id] = true;
  }

  if (options_.byte_level_input) {
    input_vocab_.reserve(vocab_.size());
    // Tokens outside the byte-level alphabet (none in practice) can never match such input.
    for (const auto& [token, id] : vocab_)
      if (auto bytes = byte_level::to_bytes(token)) input_vocab_.emplace(std::move(*bytes), id);
  } else {
    input_vocab_ = vocab_;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = vocab_.find(std::string_view(name));
    byte_fallback_ids_[b] = it == vocab_.end() ? -1 : it->second;
    auto bit = input_vocab_.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    byte_ids_[b] = bit == input_vocab_.end() ? -1 : bit->second;
  }
  if (options_.unk_token) {
    auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end())
      throw Error("model: unk_token \"" + *options_.unk_token + "\" is not in the vocab");
    unk_id_ = it->second;
  }

  for (const auto& [token, id] : input_vocab_) {
    char32_t previous = 0;
    for (size_t i = 0; i < token.size(); i += unit_length(token, i)) {
      const char32_t unit = unit_value(token, i, options_.byte_level_input);
      if (i > 0) adjacent_units_.insert((static_cast<uint64_t>(previous) << 32) | unit);
      previous = unit;
    }
  }

  auto table = std::make_shared<MergeTable>(merges.size());
  std::string merged_token;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Named references rather than a structured binding, which clang 14 (the fuzz build) cannot
    // capture in the lambda.
    const std::string& left = merges[rank].first;
    const std::string& right = merges[rank].second;
    auto lookup = [&](std::string_view token) {
      auto it = vocab_.find(token);
      if (it == vocab_.end())
        throw Error("model merges: \"" + left + " " + right + "\" (merge " + std::to_string(rank) +
                    ") uses \"" + std::string(token) + "\", which is not in the vocab");
      return it->second;
    };
    merged_token.assign(left).append(right);
    const int32_t merged = lookup(merged_token);
    table->put(pair_key(lookup(left), lookup(right)), static_cast<int32_t>(rank), merged);
  }
  merges_ = std::move(table);
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= id_bound() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

size_t BpeModel::unit_length(std::string_view word, size_t i) const {
  return options_.byte_level_input ? 1 : utf8::sequence_length(static_cast<unsigned char>(word[i]));
}

void BpeModel::initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  auto add = [&](int32_t id, size_t len) {
    const auto pos = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, pos - 1, pos + 1, static_cast<int32_t>(len)});
  };
  // An unknown character becomes the unk token; with fuse_unk a run of them becomes one.
  std::optional<std::pair<int32_t, size_t>> pending_unk;
  for (size_t i = 0; i < word.size();) {
    const size_t char_len = unit_length(word, i);
    const std::string_view piece = word.substr(i, char_len);
    i += char_len;
    int32_t id = -1;
    if (options_.byte_level_input) {
      id = byte_ids_[static_cast<unsigned char>(piece[0])];
    } else if (auto it = input_vocab_.find(piece); it != input_vocab_.end()) {
      id = it->second;
    }
    if (id >= 0) {
      if (pending_unk) add(pending_unk->first, pending_unk->second);
      pending_unk.reset();
      add(id, char_len);
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (char c : piece) all_bytes_known &= byte_fallback_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes_known) {
        // Like the library, a pending unk is not flushed before the byte tokens.
        for (char c : piece) add(byte_fallback_ids_[static_cast<unsigned char>(c)], 1);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && options_.fuse_unk) {
        pending_unk->second += char_len;
      } else {
        if (pending_unk) add(pending_unk->first, pending_unk->second);
        pending_unk = std::pair{*unk_id_, char_len};
      }
    }
  }
  if (pending_unk) add(pending_unk->first, pending_unk->second);
  if (!symbols.empty()) symbols.back().next = -1;
}

void BpeModel::merge(std::vector<Symbol>& symbols) const {
  struct Candidate {
    int32_t rank, pos, merged_id;
    bool operator<(const Candidate& o) const {  // the queue pops the lowest (rank, pos)
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Candidate> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Candidate> queue(std::less<Candidate>(), std::move(storage));
  const MergeTable& table = *merges_;
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const auto* m = table.find(pair_key(symbols[i].id, symbols[i + 1].id)))
      queue.push({m->rank, static_cast<int32_t>(i), m->merged_id});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next < 0) continue;
    const int32_t right_pos = cur.next;
    Symbol& right = symbols[right_pos];
    const auto* m = table.find(pair_key(cur.id, right.id));
    if (m == nullptr || m->merged_id != top.merged_id) continue;

    cur.id = top.merged_id;
    cur.len += right.len;
    cur.next = right.next;
    right.len = 0;
    if (cur.next >= 0) symbols[cur.next].prev = top.pos;

    if (cur.prev >= 0) {
      if (const auto* p = table.find(pair_key(symbols[cur.prev].id, cur.id)))
        queue.push({p->rank, cur.prev, p->merged_id});
    }
    if (cur.next >= 0) {
      if (const auto* n = table.find(pair_key(cur.id, symbols[cur.next].id)))
        queue.push({n->rank, top.pos, n->merged_id});
    }
  }
}

void BpeModel::merge_memoized(std::string_view word, std::vector<int32_t>& out) const {
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  initial_symbols(word, symbols);
  merge(symbols);
  const size_t first = out.size();
  for (const Symbol& s : symbols)
    if (s.len > 0) out.push_back(s.id);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() < kMaxCacheEntries)
      cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + first, out.end()));
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (options_.ignore_merges) {
    if (auto it = input_vocab_.find(word); it != input_vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (word.size() <= kMaxCachedWordBytes) {
    merge_memoized(word, out);
    return;
  }
  // A long word (a whole line for SentencePiece-style tokenizers) is cut between units that no
  // token joins. Both units must be vocabulary tokens themselves: an unknown one becomes byte
  // fallback or <unk> symbols, whose merges the character pairs do not describe.
  auto known = [&](size_t i, size_t len) {
    return options_.byte_level_input ? byte_ids_[static_cast<unsigned char>(word[i])] >= 0
                                     : input_vocab_.contains(word.substr(i, len));
  };
  size_t start = 0;
  size_t i = 0;
  size_t len = unit_length(word, 0);
  bool previous_known = known(0, len);
  char32_t previous = unit_value(word, 0, options_.byte_level_input);
  for (i += len; i < word.size(); i += len) {
    len = unit_length(word, i);
    const bool current_known = known(i, len);
    const char32_t current = unit_value(word, i, options_.byte_level_input);
    if (previous_known && current_known &&
        !adjacent_units_.contains((static_cast<uint64_t>(previous) << 32) | current)) {
      merge_memoized(word.substr(start, i - start), out);
      start = i;
    }
    previous_known = current_known;
    previous = current;
  }
  merge_memoized(word.substr(start), out);
}

}  // namespace duo
