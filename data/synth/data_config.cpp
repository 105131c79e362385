#include "synth/data_config.h"

#include "util/path_check.h"

namespace duo::synth {

config::Section data_section(DataConfig& d) {
  using namespace config;
  return {"data",
          {path_list("haystack", d.haystack.files, Empty::allowed),
           choice("format", d.haystack.format, {HaystackFormat::text, HaystackFormat::jsonl}),
           text("jsonl_field", d.haystack.jsonl_field, Empty::refused),
           text("tokenizer", d.tokenizer, Empty::allowed),
           integer("seed", d.seed),
           integer("num_passkeys", d.num_passkeys, 1, 10000),
           integer("passkey_words", d.passkey_words, 1, 10000),
           text_list("word_list", d.word_list, Empty::refused),
           number("depth_min", d.depth_min, kUnit),
           number("depth_max", d.depth_max, kUnit),
           integer("depth_count", d.depth_count, 1, kMaxCount),
           integer("context_min", d.context_min, 1, kMaxTokens),
           integer("context_max", d.context_max, 1, kMaxTokens),
           integer("context_count", d.context_count, 1, kMaxCount),
           flag("shuffle", d.shuffle),
           text("prefix", d.prefix, Empty::allowed),
           text("suffix", d.suffix, Empty::allowed),
           text("separator", d.separator, Empty::allowed),
           text("needle", d.needle, Empty::refused),
           text("question", d.question, Empty::refused),
           text("answer_prefix", d.answer_prefix, Empty::allowed)}};
}

void check_data(const DataConfig& d, const config::Origin& at) {
  using config::fail;
  if (d.depth_min > d.depth_max)
    fail(at, "data.depth_min", "must not exceed data.depth_max (" + config::format_double(d.depth_min) + " > " +
                                   config::format_double(d.depth_max) + ")");
  if (d.context_min > d.context_max)
    fail(at, "data.context_min", "must not exceed data.context_max (" + std::to_string(d.context_min) + " > " +
                                     std::to_string(d.context_max) + ")");
  if (d.context_count == 1 && d.context_min != d.context_max)
    fail(at, "data.context_count", "is 1, so data.context_min and data.context_max must be equal");
  if (d.num_passkeys > d.depth_count)
    fail(at, "data.num_passkeys",
         "each passkey needs its own depth, but data.depth_count is " + std::to_string(d.depth_count));
  // With several passkeys, a question that does not say which one has no single answer.
  const auto names_passkey = [](const std::string& s) {
    return s.find("{ordinal}") != std::string::npos || s.find("{index}") != std::string::npos;
  };
  if (d.num_passkeys > 1 && !names_passkey(d.needle))
    fail(at, "data.needle", "must name the passkey with {ordinal} or {index}");
  if (d.num_passkeys > 1 && !names_passkey(d.question))
    fail(at, "data.question", "must name the passkey with {ordinal} or {index}");
}

std::filesystem::path tokenizer_dir(const DataConfig& d, const std::filesystem::path& model_dir) {
  return d.tokenizer.empty() ? model_dir : std::filesystem::path(d.tokenizer);
}

void check_data_paths(const DataConfig& d) {
  if (!d.tokenizer.empty()) require_directory(d.tokenizer, "data.tokenizer", "a tokenizer directory");
  for (const std::filesystem::path& file : d.haystack.files) require_file(file, "data.haystack", "text files");
}

std::string_view to_string(HaystackFormat v) { return v == HaystackFormat::text ? "text" : "jsonl"; }

}  // namespace duo::synth
