// Normalizer implementations (see normalizers.h); Unicode forms come from utf8proc.
#include "tokenizer/normalizers.h"

#include <cstdlib>

#include <utf8proc.h>

#include "util/error.h"

namespace duo {

void UnicodeNormalizer::normalize(std::string& text) const {
  if (text.empty()) return;
  int options = UTF8PROC_STABLE;
  switch (form_) {
    case UnicodeForm::NFC: options |= UTF8PROC_COMPOSE; break;
    case UnicodeForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case UnicodeForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case UnicodeForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &result,
                   static_cast<utf8proc_option_t>(options));
  if (n < 0) throw Error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  text.assign(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
  std::free(result);
}

void PrependNormalizer::normalize(std::string& text) const {
  if (!text.empty()) text.insert(0, prefix_);
}

void ReplaceNormalizer::normalize(std::string& text) const {
  std::vector<Regex::Match> matches;
  pattern_.find_all(text, matches);
  if (matches.empty()) return;
  std::string out;
  out.reserve(text.size() + matches.size() * content_.size());
  size_t prev = 0;
  for (const auto& m : matches) {
    out.append(text, prev, m.start - prev);
    out += content_;
    prev = m.end;
  }
  out.append(text, prev, std::string::npos);
  text = std::move(out);
}

void SequenceNormalizer::normalize(std::string& text) const {
  for (const auto& step : steps_) step->normalize(text);
}

}  // namespace duo
