// Pre-tokenizers of tokenizer.json: cut normalized text into the words the model tokenizes
// one by one (Split by regex, ByteLevel, Metaspace, Sequence).
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace duo {

struct Piece {
  std::string_view text;
  bool at_start;  // begins at byte 0 of the text being encoded (Metaspace's "first" scheme)
};

// Text rewritten by a pre-tokenizer lives here while its pieces are in use; a deque keeps
// earlier strings in place as it grows.
using PieceArena = std::deque<std::string>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces pieces with their splits; empty splits are dropped, as in the library.
  virtual void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const = 0;
};

// How a Split pre-tokenizer treats the delimiters it matched (SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const override;

 private:
  Regex pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// ByteLevel: optional GPT-2 split and leading space. The byte-to-alphabet mapping itself is
// folded into the BPE model (it matches raw bytes), so this step leaves the bytes as they are;
// it must therefore be the last pre-tokenizer, which the loader checks.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const override;

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> gpt2_split_;  // null without use_regex
};

enum class PrependScheme { First, Never, Always };

// Metaspace: spaces become the replacement character ("▁"), which is prepended per the scheme,
// and words are cut before each replacement character.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const override;

 private:
  std::string replacement_;  // one character, UTF-8
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const override;

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace duo
