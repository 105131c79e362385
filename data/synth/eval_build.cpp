// Exact-length fitting and the haystacks of the evaluation tasks; see eval_build.h.
#include "synth/eval_build.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <numeric>
#include <unordered_set>

#include "util/error.h"

namespace duo::synth::eval {
namespace {

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Where piece i goes among `slots` + 1 gaps (before slot floor(slots * depth)).
std::vector<int64_t> gaps(const std::vector<Piece>& pieces, int64_t slots) {
  std::vector<int64_t> out;
  for (const Piece& p : pieces)
    out.push_back(std::clamp<int64_t>(int64_t(std::floor(double(slots) * p.depth)), 0, slots));
  return out;
}

// Pieces in the order they appear: by gap, then by their own order.
std::vector<std::size_t> order_by_gap(const std::vector<int64_t>& gap) {
  std::vector<std::size_t> order(gap.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return gap[a] < gap[b]; });
  return order;
}

bool ends_sentence(std::string_view word) {
  while (!word.empty() && std::string_view("\"')]").find(word.back()) != std::string_view::npos)
    word.remove_suffix(1);
  return !word.empty() && (word.back() == '.' || word.back() == '!' || word.back() == '?');
}

}  // namespace

std::string fill(std::string_view text, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (std::size_t at = 0; at < text.size();) {
    bool replaced = false;
    if (text[at] == '{') {
      for (const auto& [name, value] : fields) {
        if (text.compare(at + 1, name.size(), name) == 0 && at + 1 + name.size() < text.size() &&
            text[at + 1 + name.size()] == '}') {
          out += value;
          at += name.size() + 2;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += text[at++];
  }
  return out;
}

Split split_at_context(const std::string& filled) {
  const std::size_t at = filled.find("{context}");
  if (at == std::string::npos) throw Error("internal: a task template without {context}");
  return {filled.substr(0, at), filled.substr(at + 9)};
}

Rng sample_rng(uint64_t seed, std::string_view task, int64_t index, uint64_t sub) {
  return Rng(seed ^ fnv1a(task), uint64_t(index) * 16 + sub);
}

double uniform(Rng& rng) { return double(rng.next() >> 11) * 0x1.0p-53; }

void append_prefix(std::string& out, std::string_view text, std::size_t count) {
  count = std::min(count, text.size());
  while (count > 0 && count < text.size() && (static_cast<unsigned char>(text[count]) & 0xC0) == 0x80) --count;
  out.append(text.substr(0, count));
}

// ---- Essay ----

Essay::Essay(const std::vector<std::string>& documents) {
  for (const std::string& document : documents) {
    std::size_t at = 0;
    while (at < document.size()) {
      while (at < document.size() && std::isspace(static_cast<unsigned char>(document[at]))) ++at;
      const std::size_t begin = at;
      while (at < document.size() && !std::isspace(static_cast<unsigned char>(document[at]))) ++at;
      if (at == begin) continue;
      if (!text_.empty()) text_ += ' ';
      starts_.push_back(uint32_t(text_.size()));
      sizes_.push_back(uint32_t(at - begin));
      text_.append(document, begin, at - begin);
      ends_sentence_.push_back(ends_sentence(std::string_view(document).substr(begin, at - begin)));
    }
  }
  if (starts_.empty()) throw Error("the haystack holds no text");
}

std::string_view Essay::word(int64_t i) const {
  const std::size_t k = std::size_t(i % words());
  return std::string_view(text_).substr(starts_[k], sizes_[k]);
}

void Essay::render(int64_t n, const std::vector<Piece>& pieces, std::size_t filler, Rendered& out) const {
  // Sentence s starts at word first[s].
  std::vector<int64_t> first;
  for (int64_t i = 0; i < n; ++i)
    if (i == 0 || ends_sentence_[std::size_t((i - 1) % words())]) first.push_back(i);
  const std::vector<int64_t> gap = gaps(pieces, int64_t(first.size()));
  const std::vector<std::size_t> order = order_by_gap(gap);
  out.piece_offsets.assign(pieces.size(), 0);
  std::string& text = out.prompt;
  bool any = false;
  const auto put = [&](std::string_view piece) {
    if (any) text += ' ';
    any = true;
    text += piece;
  };
  std::size_t next = 0;  // next piece in `order`
  int64_t sentence = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (sentence < int64_t(first.size()) && first[std::size_t(sentence)] == i) {
      for (; next < order.size() && gap[order[next]] == sentence; ++next) {
        if (any) text += ' ';
        out.piece_offsets[order[next]] = text.size();
        any = true;
        text += pieces[order[next]].text;
      }
      ++sentence;
    }
    put(word(i));
  }
  for (; next < order.size(); ++next) {
    if (any) text += ' ';
    out.piece_offsets[order[next]] = text.size();
    any = true;
    text += pieces[order[next]].text;
  }
  std::string more;
  for (int64_t i = n; i < n + 64; ++i) (more += ' ') += word(i);
  out.filler_available = more.size();
  append_prefix(text, more, filler);
}

std::vector<std::string> Essay::vocabulary(std::size_t min_letters) const {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (int64_t i = 0; i < words(); ++i) {
    std::string_view w = word(i);
    while (!w.empty() && !std::isalpha(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
    while (!w.empty() && !std::isalpha(static_cast<unsigned char>(w.front()))) w.remove_prefix(1);
    if (w.size() < min_letters) continue;
    std::string lower;
    bool letters = true;
    for (char c : w) {
      if (!std::isalpha(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80) letters = false;
      lower += char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (letters && seen.insert(lower).second) out.push_back(std::move(lower));
  }
  return out;
}

// ---- Lines ----

void render_lines(int64_t n, const std::function<std::string(int64_t)>& line,
                  const std::vector<Piece>& pieces, std::size_t filler, int variant, Rendered& out) {
  const std::vector<int64_t> gap = gaps(pieces, n);
  const std::vector<std::size_t> order = order_by_gap(gap);
  out.piece_offsets.assign(pieces.size(), 0);
  std::string& text = out.prompt;
  bool any = false;
  std::size_t next = 0;
  const auto put_pieces_at = [&](int64_t slot) {
    for (; next < order.size() && gap[order[next]] == slot; ++next) {
      if (any) text += '\n';
      out.piece_offsets[order[next]] = text.size();
      any = true;
      text += pieces[order[next]].text;
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    put_pieces_at(i);
    if (any) text += '\n';
    any = true;
    text += line(i);
  }
  put_pieces_at(n);
  std::string more;
  const int64_t from = n + 1000003 * int64_t(variant / 2);
  for (int64_t i = from; i < from + 4; ++i) (more += variant % 2 ? ' ' : '\n') += line(i);
  out.filler_available = more.size();
  append_prefix(text, more, filler);
}

// ---- Fitting ----

EvalSample fit(const Draft& draft, const Tokenizer& tokenizer, int64_t length) {
  std::map<std::tuple<int64_t, std::size_t, int>, int64_t> memo;
  int variant = 0;
  const auto count = [&](int64_t units, std::size_t filler) {
    const auto key = std::make_tuple(units, filler, variant);
    const auto found = memo.find(key);
    if (found != memo.end()) return found->second;
    const int64_t n = int64_t(tokenizer.encode(draft.render(units, filler, variant).prompt, true).size());
    memo[key] = n;
    return n;
  };
  const std::string& task = draft.meta.task;
  const int64_t bare = count(0, 0);
  const int64_t least = count(draft.min_units(), 0);
  if (least > length)
    throw Error(task + ": a prompt of " + std::to_string(length) + " tokens is too short: the task's text " +
                (draft.min_units() ? "with its smallest haystack " : "without haystack ") + "takes " +
                std::to_string(least) + " tokens");

  // The most whole units whose prompt fits (RULER's rule): bracket from an estimate, then bisect.
  const int64_t top = draft.max_units();
  const int64_t probe = std::min(top, std::max(draft.probe_units(), draft.min_units() + 1));
  const double per_unit = std::max(1e-3, double(count(probe, 0) - bare) / double(probe));
  int64_t lo = draft.min_units(), hi = -1;  // count(lo) <= length < count(hi)
  int64_t guess = std::clamp<int64_t>(int64_t(double(length - bare) / per_unit), lo, top);
  for (int64_t step = std::max<int64_t>(2, guess / 64);; step *= 2) {
    if (count(guess, 0) <= length) {
      lo = guess;
      if (guess == top) break;
      guess = std::min(top, guess + step);
    } else {
      hi = guess;
      break;
    }
  }
  if (hi < 0) {
    if (count(top, 0) < length)
      throw Error(task + ": a prompt of " + std::to_string(length) + " tokens needs more haystack: " +
                  draft.out_of_units());
    hi = top + 1;  // count(top) == length, reached below with no filler
  }
  // When the first guess was too long, come down from it the same way.
  for (int64_t step = std::max<int64_t>(2, guess / 64); lo + step < hi; step *= 2) {
    if (count(hi - step, 0) > length) {
      hi -= step;
    } else {
      lo = hi - step;
      break;
    }
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (count(mid, 0) <= length ? lo : hi) = mid;
  }

  // Then the filler: the fewest characters of the next units that reach the length exactly. A
  // character can add two tokens (llama3 splits " 1234567" into " ", "123", "456", "7"), so
  // some counts are skipped; other filler variants, or fewer whole units, skip others.
  for (int64_t units = lo; units >= std::max(draft.min_units(), lo - 2); --units)
  for (variant = 0; variant < draft.filler_variants(); ++variant) {
    const std::size_t available = draft.render(units, 0, variant).filler_available;
    std::size_t a = 0, b = available;  // count(a) < length <= count(b), when monotone
    if (count(units, 0) == length) {
      b = 0;
    } else if (count(units, available) >= length) {
      while (b - a > 1) {
        const std::size_t mid = a + (b - a) / 2;
        (count(units, mid) < length ? a : b) = mid;
      }
    } else {
      continue;
    }
    std::vector<std::size_t> tries = {b};
    for (std::size_t d = 1; d <= 12; ++d) {
      if (b + d <= available) tries.push_back(b + d);
      if (d <= 6 && b >= d) tries.push_back(b - d);
    }
    for (std::size_t filler : tries) {
      if (count(units, filler) != length) continue;
      Rendered r = draft.render(units, filler, variant);
      EvalSample s = draft.meta;
      s.length = length;
      s.haystack_units = units;
      s.filler_chars = int64_t(filler);
      const auto tokens_before = [&](std::size_t offset) {
        return int64_t(tokenizer.encode(std::string_view(r.prompt).substr(0, offset), true).size());
      };
      s.context_begin_token = tokens_before(r.context_begin);
      s.context_end_token = tokens_before(r.context_end);
      std::vector<std::size_t> order(draft.pieces.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t x, std::size_t y) { return r.piece_offsets[x] < r.piece_offsets[y]; });
      s.needles.clear();
      s.depths.clear();
      for (std::size_t i : order) {
        s.needles.push_back(draft.pieces[i].text);
        s.depths.push_back(draft.pieces[i].depth);
        s.needle_tokens.push_back(tokens_before(r.piece_offsets[i]));
      }
      s.prompt = std::move(r.prompt);
      return s;
    }
  }
  variant = 0;
  throw Error(task + ": found no haystack size that makes a prompt of exactly " + std::to_string(length) +
              " tokens with this tokenizer (" + std::to_string(lo) + " units give " +
              std::to_string(count(lo, 0)) + ")");
}

}  // namespace duo::synth::eval
