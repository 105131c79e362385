// UTF-8 helpers the tokenizer needs: validation with the offending byte offset, code point
// iteration, Rust's lossy decoding (one U+FFFD per maximal invalid subpart, as the
// `tokenizers` library's decoders produce) and the character classes its added-token rules use.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace duo::utf8 {

inline constexpr size_t npos = std::string_view::npos;

// Byte offset of the first byte that does not start a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are ill-formed), or npos.
size_t find_invalid(std::string_view s);

// Length in bytes of the sequence starting with lead byte b (1 for continuation bytes, so a
// loop over unvalidated input still advances).
inline size_t sequence_length(unsigned char b) {
  if (b < 0xC0) return 1;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  return 4;
}

// Decodes the code point at s[i] of a valid string and advances i past it.
char32_t next(std::string_view s, size_t& i);
// The last code point of a valid, non-empty string.
char32_t last(std::string_view s);

// Like Rust's String::from_utf8_lossy.
std::string from_lossy(std::string_view bytes);

// Rust's char::is_whitespace (the Unicode White_Space property).
bool is_whitespace(char32_t cp);
// The regex class \w: letters, marks, decimal and letter numbers, connector punctuation.
bool is_word_char(char32_t cp);

}  // namespace duo::utf8
