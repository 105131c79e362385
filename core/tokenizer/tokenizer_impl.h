// The parts of a loaded tokenizer, shared by the loader (tokenizer_json.cpp) and the
// encode/decode pipeline (tokenizer.cpp).
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoders.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processors.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace duo {

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;       // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null: the whole text is one word
  std::unique_ptr<BpeModel> model;
  AddedVocabulary added;
  PostProcessor post_processor;
  std::unique_ptr<Decoder> decoder;  // may be null: tokens are joined with spaces
  std::optional<int32_t> bos_id, eos_id;
};

// Builds a tokenizer from the two files; see Tokenizer::from_files.
std::shared_ptr<const Tokenizer::Impl> load_tokenizer(const std::filesystem::path& tokenizer_json,
                                                      const std::filesystem::path& tokenizer_config);

}  // namespace duo
