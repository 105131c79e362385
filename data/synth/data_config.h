// The synthetic-data section of a configuration, `data.*` (config/schema.h): the passkey samples'
// shape, the haystack, the tokenizer. Defined once, here: duo-train's configuration holds it as its
// data section, and duo-synth and duo-analyze attention read it from the same files.
// docs/configuration.md lists the keys.
#pragma once
#include <filesystem>
#include <string>

#include "config/schema.h"
#include "synth/passkey.h"

namespace duo::synth {

// What PasskeyGenerator takes (its defaults are the section's: the DuoAttention reference
// values), plus where the tokenizer is.
struct DataConfig : PasskeyConfig {
  std::string tokenizer;  // tokenizer directory; empty: the model's (model.path)
  bool operator==(const DataConfig&) const = default;
};

// data.haystack, data.format, data.jsonl_field, data.tokenizer, data.seed, data.num_passkeys,
// data.passkey_words, data.word_list, data.depth_min, data.depth_max, data.depth_count,
// data.context_min, data.context_max, data.context_count, data.shuffle, data.prefix,
// data.suffix, data.separator, data.needle, data.question, data.answer_prefix.
config::Section data_section(DataConfig& data);

// Checks between the section's keys (depth_min <= depth_max, a depth per passkey, a needle and a
// question that say which passkey with several, ...). Throws duo::Error at `at`:
// "c1.yaml: data.depth_min: must not exceed data.depth_max (0.9 > 0.5)".
void check_data(const DataConfig& data, const config::Origin& at);

// data.tokenizer, or `model_dir` when that is empty.
std::filesystem::path tokenizer_dir(const DataConfig& data, const std::filesystem::path& model_dir);

// The paths the section names, checked before anything loads (util/path_check.h): data.tokenizer
// (when set) a directory, every data.haystack entry a file.
void check_data_paths(const DataConfig& data);

std::string_view to_string(HaystackFormat format);

}  // namespace duo::synth
