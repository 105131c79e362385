// duo::Tokenizer: Hugging Face tokenizer.json (byte-level BPE and SentencePiece-style BPE)
// in C++, producing exactly the ids of the `tokenizers` library.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace duo {

class Tokenizer {
 public:
  // Reads <dir>/tokenizer.json and, when present, <dir>/tokenizer_config.json (BOS/EOS,
  // add_bos_token). Throws duo::Error naming the file and the problem, including any
  // tokenizer.json feature that is not supported.
  static Tokenizer from_dir(const std::filesystem::path& dir);
  // tokenizer_config may be empty (no config file).
  static Tokenizer from_files(const std::filesystem::path& tokenizer_json,
                              const std::filesystem::path& tokenizer_config = {});

  // add_special_tokens: apply the post-processor (e.g. prepend BOS), as the library does.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  int32_t vocab_size() const;  // including added tokens
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable after load, so copies share it
};

}  // namespace duo
