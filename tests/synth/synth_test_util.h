// Shared helpers of the synth tests: where the fixtures are, scratch files, and a generated
// haystack text so that most tests do not depend on the system's KJV package.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "synth/rng.h"
#include "tokenizer/tokenizer.h"

namespace synth_test {

// The variables tests/test_main.cpp exports.
inline std::string env(const char* name) { return std::getenv(name); }
inline std::filesystem::path fixtures_dir() { return env("DUO_FIXTURES_DIR"); }
inline std::filesystem::path source_dir() { return env("DUO_SOURCE_DIR"); }
inline std::string python() { return env("DUO_PYTHON"); }
inline std::string program(const std::string& name) { return env("DUO_BIN_DIR") + "/" + name; }

inline duo::Tokenizer tokenizer(const std::string& name) {
  if (name == "tiny-random") return duo::Tokenizer::from_dir(source_dir() / "models" / "tiny-random");
  return duo::Tokenizer::from_dir(fixtures_dir() / "tokenizers" / name);
}

// Tokens before the haystack: BOS when the tokenizer's post-processor adds one, then the prefix.
inline int64_t head_tokens(const duo::Tokenizer& tok, const std::string& prefix) {
  const std::vector<int32_t> probe = tok.encode("a", true);
  const bool bos = tok.bos_id() && !probe.empty() && probe.front() == *tok.bos_id();
  return int64_t(tok.encode(prefix, false).size()) + (bos ? 1 : 0);
}

inline std::filesystem::path scratch_dir() {
  const std::filesystem::path dir = std::filesystem::path(DUO_TEST_WORK_DIR) / "scratch";
  std::filesystem::create_directories(dir);
  return dir;
}

// ctest may run test cases in parallel processes that write the same file: each writes its own
// copy and renames it into place, so a reader never sees a half-written file.
inline std::filesystem::path write_file(const std::string& name, const std::string& text) {
  const std::filesystem::path path = scratch_dir() / name;
  const std::filesystem::path part = path.string() + "." + std::to_string(getpid()) + ".part";
  std::ofstream(part, std::ios::binary) << text;
  std::filesystem::rename(part, path);
  return path;
}

// Deterministic English-looking prose of about `bytes` bytes, in paragraphs.
inline std::string make_prose(std::size_t bytes, uint64_t seed = 1) {
  static const char* const kWords[] = {
      "the",   "river", "ran",   "past",  "a",      "quiet", "town",  "where", "old",
      "boats", "were",  "tied",  "and",   "people", "told",  "long",  "tales", "of",
      "storm", "light", "over",  "hills", "under",  "green", "sky",   "with",  "bread"};
  duo::synth::Rng rng(seed, 0);
  std::string text;
  for (int sentence = 0; text.size() < bytes; ++sentence) {
    const int n = 6 + int(rng.below(10));
    for (int w = 0; w < n; ++w) {
      std::string word = kWords[rng.below(std::size(kWords))];
      if (w == 0) word[0] = char(word[0] - 'a' + 'A');
      text += word + (w + 1 < n ? " " : ". ");
    }
    if (sentence % 7 == 6) text += "\n\n";
  }
  return text;
}

}  // namespace synth_test
