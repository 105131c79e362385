// Byte-level alphabet table (see byte_level.h), built once: printable Latin-1 bytes stand for
// themselves, the other 68 bytes take code points 256, 257, ... in byte order.
#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

#include "tokenizer/utf8.h"

namespace duo::byte_level {

namespace {

struct Tables {
  std::array<int16_t, 324> byte_of{};  // indexed by code point; -1 where none
  Tables() {
    byte_of.fill(-1);
    char32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_of[printable ? static_cast<char32_t>(b) : next_extra++] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::optional<unsigned char> byte_of_char(char32_t cp) {
  if (cp >= tables().byte_of.size() || tables().byte_of[cp] < 0) return std::nullopt;
  return static_cast<unsigned char>(tables().byte_of[cp]);
}

std::optional<std::string> to_bytes(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    const auto b = byte_of_char(utf8::next(token, i));
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace duo::byte_level
