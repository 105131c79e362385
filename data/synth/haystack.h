// The haystack: the long filler text that passkeys are hidden in. Read from plain-text files,
// from JSONL files (one JSON object a line, its text in a named field), or, when no file is
// named, from the King James Bible that Debian's bible-kjv-text package installs.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace duo::synth {

enum class HaystackFormat { text, jsonl };

struct HaystackSource {
  std::vector<std::filesystem::path> files;  // empty: the KJV Bible (kjv_bible.h)
  HaystackFormat format = HaystackFormat::text;
  std::string jsonl_field = "text";
  bool operator==(const HaystackSource&) const = default;
};

// The documents in order: each plain-text file, each JSONL record, or the Bible (also when a
// text file named is a copy of bible-kjv-text's data file). Throws
// duo::Error naming the file (and line) for a missing file, a line that is not a JSON object,
// or a record without a string field `jsonl_field`.
std::vector<std::string> read_haystack_documents(const HaystackSource& source);

// Token ids of the documents, in order, until at least `needed` tokens (or the text runs out).
// Documents are cut into pieces of some kilobytes at paragraph breaks and each piece is
// tokenized on its own (without special tokens), so only the text that is used gets tokenized.
std::vector<int32_t> tokenize_haystack(const std::vector<std::string>& documents,
                                       const Tokenizer& tokenizer, int64_t needed);

}  // namespace duo::synth
