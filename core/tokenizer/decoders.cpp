// Decoder implementations (see decoders.h).
#include "tokenizer/decoders.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace duo {

void ByteLevelDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string bytes;
  for (const std::string& token : tokens) {
    // A token with any character outside the alphabet (an added token such as "<|eot_id|>"
    // is inside it, but not every one is) contributes its UTF-8 bytes unchanged.
    if (auto raw = byte_level::to_bytes(token)) bytes += *raw;
    else bytes += token;
  }
  tokens.assign(1, utf8::from_lossy(bytes));
}

void MetaspaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const bool drop = i == 0 && scheme_ != PrependScheme::Never;
    std::string out;
    const std::string& token = tokens[i];
    for (size_t pos = 0; pos < token.size();) {
      if (token.compare(pos, replacement_.size(), replacement_) == 0) {
        if (!drop) out += ' ';
        pos += replacement_.size();
      } else {
        out += token[pos++];
      }
    }
    tokens[i] = std::move(out);
  }
}

void ReplaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::vector<Regex::Match> matches;
  for (std::string& token : tokens) {
    matches.clear();
    pattern_.find_all(token, matches);
    if (matches.empty()) continue;
    std::string out;
    size_t prev = 0;
    for (const auto& m : matches) {
      out.append(token, prev, m.start - prev);
      out += content_;
      prev = m.end;
    }
    out.append(token, prev, std::string::npos);
    token = std::move(out);
  }
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a "<0xXX>" token (hex digits in either case, as Rust's from_str_radix takes).
int fallback_byte(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  const int hi = hex_digit(token[3]), lo = hex_digit(token[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

void ByteFallbackDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string pending;
  size_t pending_count = 0;
  auto flush = [&] {
    if (pending_count == 0) return;
    if (utf8::find_invalid(pending) == utf8::npos) out.push_back(pending);
    else
      for (size_t k = 0; k < pending_count; ++k) out.emplace_back("\xEF\xBF\xBD");
    pending.clear();
    pending_count = 0;
  };
  for (std::string& token : tokens) {
    const int byte = fallback_byte(token);
    if (byte >= 0) {
      pending.push_back(static_cast<char>(byte));
      ++pending_count;
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  tokens = std::move(out);
}

void FuseDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string joined;
  for (const std::string& token : tokens) joined += token;
  tokens.assign(1, std::move(joined));
}

void StripDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (std::string& token : tokens) {
    std::vector<size_t> starts;  // byte offset of each character
    for (size_t i = 0; i < token.size(); i += utf8::sequence_length(static_cast<unsigned char>(token[i])))
      starts.push_back(i);
    auto char_at = [&](size_t k) {
      size_t i = starts[k];
      return utf8::next(token, i);
    };
    size_t first = 0;
    while (first < start_ && first < starts.size() && char_at(first) == content_) ++first;
    size_t last = starts.size();
    for (size_t k = 0; k < stop_ && last > first && char_at(last - 1) == content_; ++k) --last;
    const size_t begin = first < starts.size() ? starts[first] : token.size();
    const size_t end = last < starts.size() ? starts[last] : token.size();
    token = token.substr(begin, end - begin);
  }
}

void SequenceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (const auto& step : steps_) step->decode_chain(tokens);
}

}  // namespace duo
