// Post-processors of tokenizer.json, for one sequence: the special tokens put around the
// encoded text when add_special_tokens is set (TemplateProcessing's BOS/EOS; ByteLevel adds
// none, it only trims offsets, which duo does not compute).
#pragma once
#include <cstdint>
#include <vector>

namespace duo {

struct PostProcessor {
  std::vector<int32_t> prefix, suffix;
  // Applies `after` to the output of this one (a Sequence of post-processors).
  void then(const PostProcessor& after) {
    prefix.insert(prefix.begin(), after.prefix.begin(), after.prefix.end());
    suffix.insert(suffix.end(), after.suffix.begin(), after.suffix.end());
  }
};

}  // namespace duo
