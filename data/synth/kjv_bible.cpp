// Reads bible-kjv-text's data file. Its layout (bible-kjv's "text storage library", format 02):
//   bytes 0-1 "EC", 2-3 "02", 4-83 a description, 84-87 window size, 88-91 window count n,
//   then n+1 big-endian file offsets: window i's compressed bytes are [offset i, offset i+1).
// The three bytes before window 0 are a Unix `compress` header (1F 9D, then block mode and the
// maximum code width). Each window is an independent `compress` (LZW) stream that expands to
// exactly `window size` bytes of text (the last one to fewer). The text is one verse a line,
// "Ge1:1 In the beginning ...", after a title line.
#include "synth/kjv_bible.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "util/error.h"

namespace duo::synth {
namespace {

// The package's file uses windows of 64 KiB; a larger size than this is damage.
constexpr uint32_t kMaxWindowSize = 16u << 20;

uint32_t read_be32(const std::vector<uint8_t>& data, std::size_t at) {
  return uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 |
         uint32_t(data[at + 3]);
}

// Expands one `compress` stream. Quirk of that format which the decoder must mirror: codes are
// packed LSB-first in groups of n_bits bytes (8 codes), and whenever the code width grows or a
// CLEAR code arrives, the rest of the current group is skipped.
// Throws duo::Error for a stream that is not one `compress` could write or that expands past
// `limit` bytes.
std::string lzw_expand(const uint8_t* in, std::size_t size, int max_bits, bool block_mode, std::size_t limit) {
  constexpr int kInitBits = 9;
  constexpr int kClear = 256;
  const int32_t max_max_code = int32_t(1) << max_bits;
  std::vector<uint16_t> prefix(max_max_code, 0);
  std::vector<uint8_t> suffix(max_max_code, 0);
  for (int c = 0; c < 256; ++c) suffix[c] = uint8_t(c);

  int n_bits = kInitBits;
  int32_t max_code = (1 << n_bits) - 1;
  int32_t free_entry = block_mode ? 257 : 256;
  bool cleared = false;
  std::size_t pos = 0;        // next unread input byte
  std::size_t group = 0;      // start of the current group
  int64_t group_bits = 0;     // usable bits in the current group
  int64_t bit = 0;            // next bit within the current group

  auto next_code = [&]() -> int32_t {
    if (cleared || bit >= group_bits || free_entry > max_code) {
      if (free_entry > max_code) {
        ++n_bits;
        max_code = n_bits == max_bits ? max_max_code : (1 << n_bits) - 1;
      }
      if (cleared) {
        n_bits = kInitBits;
        max_code = (1 << n_bits) - 1;
        cleared = false;
      }
      const std::size_t take = std::min<std::size_t>(n_bits, size - pos);
      if (take == 0) return -1;
      group = pos;
      pos += take;
      group_bits = int64_t(take) * 8 - (n_bits - 1);  // only whole codes
      bit = 0;
    }
    int32_t code = 0;
    for (int b = 0; b < n_bits; ++b) {
      const int64_t at = bit + b;
      const std::size_t byte = group + std::size_t(at >> 3);
      if (byte < size && (in[byte] >> (at & 7) & 1)) code |= int32_t(1) << b;
    }
    bit += n_bits;
    return code;
  };

  std::string out;
  int32_t old_code = next_code();
  if (old_code < 0) return out;
  uint8_t last_char = uint8_t(old_code);
  out.push_back(char(last_char));
  std::string stack;
  for (int32_t code; (code = next_code()) >= 0;) {
    if (code == kClear && block_mode) {
      cleared = true;
      free_entry = 256;  // the code after CLEAR then defines entry 256, as compress does
      if ((code = next_code()) < 0) break;
    }
    const int32_t in_code = code;
    stack.clear();
    if (code >= free_entry) {  // the code being defined right now (the "KwKwK" case)
      if (code > free_entry) throw Error("corrupt compressed data");
      stack.push_back(char(last_char));
      code = old_code;
    }
    while (code >= 256) {
      stack.push_back(char(suffix[code]));
      code = prefix[code];
      // Entries left over from before a CLEAR can be redefined into a loop; a chain longer than
      // the table has one.
      if (stack.size() > std::size_t(max_max_code)) throw Error("corrupt compressed data (a code loops)");
    }
    last_char = suffix[code];
    stack.push_back(char(last_char));
    if (out.size() + stack.size() > limit) throw Error("compressed data expand past the window size");
    out.append(stack.rbegin(), stack.rend());
    if (free_entry < max_max_code) {
      prefix[free_entry] = uint16_t(old_code);
      suffix[free_entry] = last_char;
      ++free_entry;
    }
    old_code = in_code;
  }
  return out;
}

// "Ge1:1 In the beginning ..." -> reference "Ge1:1", chapter key "Ge1", text after the space.
void append_as_prose(std::string_view raw, std::string& out) {
  std::string chapter;
  std::size_t start = raw.find('\n') + 1;  // skip the title line
  while (start < raw.size()) {
    std::size_t end = raw.find('\n', start);
    if (end == std::string_view::npos) end = raw.size();
    const std::string_view line = raw.substr(start, end - start);
    start = end + 1;
    const std::size_t space = line.find(' ');
    const std::size_t colon = line.find(':');
    if (space == std::string_view::npos || colon == std::string_view::npos || colon > space) continue;
    const std::string_view key = line.substr(0, colon);
    if (key != chapter) {
      if (!out.empty()) out += "\n\n";
      chapter = std::string(key);
    } else {
      out += ' ';
    }
    out += line.substr(space + 1);
  }
  out += "\n";
}

}  // namespace

std::string read_kjv_bible(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error(file, "cannot open the default haystack (the King James Bible of Debian's "
                      "bible-kjv-text package; scripts/setup.sh installs it). Install it, or "
                      "name haystack text files in the data.haystack setting (duo-synth --haystack)");
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto bad = [&](const std::string& why) {
    return Error(file, "not a bible-kjv-text data file (" + why + ")");
  };
  if (data.size() < 92 || data[0] != 'E' || data[1] != 'C' || data[2] != '0' || data[3] != '2')
    throw bad("no EC02 header");
  const uint32_t window_size = read_be32(data, 84);
  const uint32_t windows = read_be32(data, 88);
  if (window_size == 0 || window_size > kMaxWindowSize) throw bad("window size " + std::to_string(window_size));
  if (windows == 0 || 92 + (std::size_t(windows) + 1) * 4 > data.size()) throw bad("bad window table");
  std::vector<uint32_t> offsets(std::size_t(windows) + 1);
  for (std::size_t i = 0; i <= windows; ++i) offsets[i] = read_be32(data, 92 + i * 4);
  if (offsets[0] < 3 || offsets[0] > data.size() || data[offsets[0] - 3] != 0x1F || data[offsets[0] - 2] != 0x9D)
    throw bad("no compress header");
  const int max_bits = data[offsets[0] - 1] & 0x1F;
  const bool block_mode = data[offsets[0] - 1] & 0x80;
  if (max_bits < 9 || max_bits > 16) throw bad("unsupported code width");

  std::string raw;
  for (uint32_t w = 0; w < windows; ++w) {
    if (offsets[w] > offsets[w + 1] || offsets[w + 1] > data.size()) throw bad("bad window table");
    std::string text;
    try {
      text = lzw_expand(data.data() + offsets[w], offsets[w + 1] - offsets[w], max_bits, block_mode, window_size);
    } catch (const Error& e) {
      throw bad(std::string(e.what()) + " in window " + std::to_string(w));
    }
    if (w + 1 < windows && text.size() != window_size)
      throw bad("window " + std::to_string(w) + " expands to the wrong size");
    raw += text;
  }
  std::string prose;
  prose.reserve(raw.size());
  append_as_prose(raw, prose);
  return prose;
}

}  // namespace duo::synth
