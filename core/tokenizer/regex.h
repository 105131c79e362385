// A compiled PCRE2 pattern (UTF, Unicode properties, JIT) standing in for the Oniguruma
// regexes of tokenizer.json, with a non-overlapping match iterator over valid UTF-8 text.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace duo {

class Regex {
 public:
  // pattern: an Oniguruma regex, or a literal string when literal is true. Where the two
  // engines differ in meaning the pattern is rewritten: Oniguruma's \s is the Unicode
  // White_Space property, while PCRE2's \s (with UCP) also takes U+180E, which Unicode no
  // longer counts as a space. (\S inside a character class is left as it is.)
  // Throws duo::Error with PCRE2's message and offset when the pattern does not compile.
  Regex(std::string_view pattern, bool literal);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) = delete;
  Regex(const Regex&) = delete;

  struct Match {
    size_t start, end;
  };
  // Appends the non-empty, non-overlapping matches in text, left to right. text must be
  // valid UTF-8 (the tokenizer validates its input once, so matching skips the check).
  void find_all(std::string_view text, std::vector<Match>& out) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace duo
