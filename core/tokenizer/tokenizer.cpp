// duo::Tokenizer: the encode pipeline of the `tokenizers` library (added tokens, normalizer,
// pre-tokenizer, BPE model, post-processor) and decode (token strings through the decoder).
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace duo {

Tokenizer Tokenizer::from_dir(const std::filesystem::path& dir) {
  const auto config = dir / "tokenizer_config.json";
  return from_files(dir / "tokenizer.json", std::filesystem::exists(config) ? config : std::filesystem::path{});
}

Tokenizer Tokenizer::from_files(const std::filesystem::path& tokenizer_json,
                                const std::filesystem::path& tokenizer_config) {
  return Tokenizer(load_tokenizer(tokenizer_json, tokenizer_config));
}

namespace {

// Pre-tokenizes one piece of text between added tokens and appends the model's ids.
void encode_text(const Tokenizer::Impl& impl, std::string_view text, bool at_start,
                 std::vector<int32_t>& ids) {
  if (text.empty()) return;
  std::vector<Piece> pieces{{text, at_start}};
  PieceArena arena;
  if (impl.pre_tokenizer) impl.pre_tokenizer->pre_tokenize(pieces, arena);
  for (const Piece& piece : pieces) impl.model->tokenize(piece.text, ids);
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& impl = *impl_;
  // The library only accepts Python str (always valid Unicode), so invalid input is an error
  // here rather than a guess at what the caller meant.
  if (const size_t bad = utf8::find_invalid(text); bad != utf8::npos)
    throw Error("tokenizer: invalid UTF-8 in text at byte offset " + std::to_string(bad));

  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  if (add_special_tokens)
    ids.insert(ids.end(), impl.post_processor.prefix.begin(), impl.post_processor.prefix.end());

  std::vector<AddedVocabulary::Split> raw;
  impl.added.split(text, /*normalized=*/false, raw);
  std::vector<AddedVocabulary::Split> inner;
  std::string normalized;
  for (const auto& split : raw) {
    if (split.id >= 0) {
      ids.push_back(split.id);
      continue;
    }
    std::string_view piece = text.substr(split.start, split.end - split.start);
    const bool at_start = split.start == 0;
    if (impl.normalizer) {
      normalized.assign(piece);
      impl.normalizer->normalize(normalized);
      piece = normalized;
    }
    if (!impl.added.has_normalized_tokens()) {
      encode_text(impl, piece, at_start, ids);
      continue;
    }
    inner.clear();
    impl.added.split(piece, /*normalized=*/true, inner);
    for (const auto& s : inner) {
      if (s.id >= 0) ids.push_back(s.id);
      else encode_text(impl, piece.substr(s.start, s.end - s.start), at_start && s.start == 0, ids);
    }
  }
  if (add_special_tokens)
    ids.insert(ids.end(), impl.post_processor.suffix.begin(), impl.post_processor.suffix.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& impl = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    const std::string* token = nullptr;
    if (const AddedToken* added = impl.added.find_id(id)) token = &impl.added.decode_form(*added);
    else token = impl.model->id_to_token(id);
    if (token == nullptr)
      throw Error("tokenizer: cannot decode id " + std::to_string(id) + ": not in the vocabulary (size " +
                  std::to_string(vocab_size()) + ")");
    if (skip_special_tokens && impl.added.is_special_content(*token)) continue;
    tokens.push_back(*token);
  }
  if (!impl.decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  impl.decoder->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos_id; }

int32_t Tokenizer::vocab_size() const {
  return std::max(impl_->model->id_bound(), impl_->added.id_bound());
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.find_content(token)) return id;
  return impl_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* added = impl_->added.find_id(id)) return added->content;
  if (const std::string* token = impl_->model->id_to_token(id)) return *token;
  throw Error("tokenizer: id " + std::to_string(id) + " is not in the vocabulary");
}

}  // namespace duo
