// Pre-tokenizer implementations (see pre_tokenizers.h). Delimiter handling follows the
// library's NormalizedString::split: the text is first cut into alternating match and
// non-match segments, which the behavior then keeps, drops or merges.
#include "tokenizer/pre_tokenizers.h"

#include <algorithm>

namespace duo {

namespace {

struct Segment {
  size_t start, end;
  bool is_match;
};

// Segments of text: the matches, and the gaps between them as non-matches.
void segment(std::string_view text, const std::vector<Regex::Match>& matches, bool invert,
             std::vector<Segment>& out) {
  size_t prev = 0;
  for (const auto& m : matches) {
    if (prev != m.start) out.push_back({prev, m.start, invert});
    out.push_back({m.start, m.end, !invert});
    prev = m.end;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), invert});
}

// Applies a delimiter behavior to segments of piece and appends the resulting splits.
void split_segments(const Piece& piece, const std::vector<Segment>& segments,
                    SplitBehavior behavior, std::vector<Piece>& out) {
  // (start, end) of the kept splits
  std::vector<std::pair<size_t, size_t>> kept;
  kept.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& s : segments) kept.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::Removed:
      for (const auto& s : segments)
        if (!s.is_match) kept.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::Contiguous:
      for (const auto& s : segments) {
        if (s.is_match == previous_match && !kept.empty()) kept.back().second = s.end;
        else kept.emplace_back(s.start, s.end);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& s : segments) {
        if (s.is_match && !previous_match && !kept.empty()) kept.back().second = s.end;
        else kept.emplace_back(s.start, s.end);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) kept.back().first = it->start;
        else kept.emplace_back(it->start, it->end);
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  for (const auto& [start, end] : kept)
    if (end > start) out.push_back({piece.text.substr(start, end - start), piece.at_start && start == 0});
}

// Runs fn(piece, out) over every piece, collecting what it emits in place of the pieces.
template <typename Fn>
void for_each_piece(std::vector<Piece>& pieces, Fn&& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (const Piece& p : pieces) fn(p, out);
  pieces.swap(out);
}

}  // namespace

void SplitPreTokenizer::pre_tokenize(std::vector<Piece>& pieces, PieceArena&) const {
  std::vector<Regex::Match> matches;
  std::vector<Segment> segments;
  for_each_piece(pieces, [&](const Piece& piece, std::vector<Piece>& out) {
    matches.clear();
    segments.clear();
    pattern_.find_all(piece.text, matches);
    segment(piece.text, matches, invert_, segments);
    split_segments(piece, segments, behavior_, out);
  });
}

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
    : add_prefix_space_(add_prefix_space) {
  if (use_regex)
    gpt2_split_ = std::make_unique<Regex>(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", false);
}

void ByteLevelPreTokenizer::pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const {
  if (!add_prefix_space_ && !gpt2_split_) return;
  std::vector<Regex::Match> matches;
  std::vector<Segment> segments;
  for_each_piece(pieces, [&](const Piece& original, std::vector<Piece>& out) {
    Piece piece = original;
    if (add_prefix_space_ && piece.text.front() != ' ') {
      arena.push_back(" " + std::string(piece.text));
      piece.text = arena.back();
    }
    if (!gpt2_split_) {
      out.push_back(piece);
      return;
    }
    matches.clear();
    segments.clear();
    gpt2_split_->find_all(piece.text, matches);
    segment(piece.text, matches, false, segments);
    split_segments(piece, segments, SplitBehavior::Isolated, out);
  });
}

void MetaspacePreTokenizer::pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const {
  for_each_piece(pieces, [&](const Piece& piece, std::vector<Piece>& out) {
    std::string text;
    text.reserve(piece.text.size() + replacement_.size());
    const bool starts_with_replacement =
        piece.text.starts_with(' ') || piece.text.starts_with(replacement_);
    const bool prepend = !starts_with_replacement &&
                         (scheme_ == PrependScheme::Always ||
                          (scheme_ == PrependScheme::First && piece.at_start));
    if (prepend) text += replacement_;
    for (char c : piece.text) {
      if (c == ' ') text += replacement_;
      else text += c;
    }
    arena.push_back(std::move(text));
    const std::string_view rewritten = arena.back();
    if (!split_) {
      out.push_back({rewritten, piece.at_start});
      return;
    }
    // MergedWithNext on each replacement character: every word starts at one.
    size_t start = 0;
    for (size_t pos = rewritten.find(replacement_, 1); pos != std::string_view::npos;
         pos = rewritten.find(replacement_, pos + replacement_.size())) {
      out.push_back({rewritten.substr(start, pos - start), piece.at_start && start == 0});
      start = pos;
    }
    out.push_back({rewritten.substr(start), piece.at_start && start == 0});
  });
}

void SequencePreTokenizer::pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena) const {
  for (const auto& step : steps_) step->pre_tokenize(pieces, arena);
}

}  // namespace duo
