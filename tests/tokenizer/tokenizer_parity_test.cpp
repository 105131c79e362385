// Parity with the Hugging Face `tokenizers` library: for the real Llama-3 and Llama-2 style
// tokenizer files and for tiny tokenizers trained by make_reference.py, duo's ids and decodes
// must equal the library's on a >= 1 MB multilingual text, on each of its lines, on random
// slices and on edge cases; decodes of arbitrary id windows must match too (they cut UTF-8
// characters in half). Invalid UTF-8 must fail at the offset Python's strict decoder reports.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kReference = DUO_TOKENIZER_REFERENCE_DIR;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path tokenizer_dir(const std::string& name) {
  if (name.starts_with("tiny_")) return kReference / name;
  const char* fixtures = std::getenv("DUO_FIXTURES_DIR");
  if (fixtures == nullptr) throw std::runtime_error("DUO_FIXTURES_DIR is not set");
  return fs::path(fixtures) / "tokenizers" / name;
}

std::string show(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (size_t i = 0; i < ids.size() && i < 40; ++i) s << (i ? " " : "") << ids[i];
  if (ids.size() > 40) s << " ...";
  return s.str();
}

std::string quoted(const std::string& text) { return json(text).dump(); }

// Index of the first difference, for messages on long sequences.
size_t first_difference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

class Parity : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    reference_ = json::parse(read_file(kReference / (GetParam() + ".json")));
    tokenizer_ = std::make_unique<duo::Tokenizer>(duo::Tokenizer::from_dir(tokenizer_dir(GetParam())));
  }
  json reference_;
  std::unique_ptr<duo::Tokenizer> tokenizer_;
};

TEST_P(Parity, WholeTextIds) {
  const std::string text = read_file(kReference / "text.txt");
  ASSERT_GE(text.size(), 1u << 20);
  for (const bool special : {true, false}) {
    const auto expected = reference_["whole"][special ? "ids" : "ids_plain"].get<std::vector<int32_t>>();
    const auto ids = tokenizer_->encode(text, special);
    const size_t at = first_difference(ids, expected);
    ASSERT_EQ(ids.size(), expected.size()) << "add_special_tokens=" << special << ", first difference at " << at;
    ASSERT_EQ(at, ids.size()) << "add_special_tokens=" << special << ": id " << at << " is " << ids[at]
                              << ", library " << expected[at];
  }
}

TEST_P(Parity, WholeTextDecode) {
  const auto ids = reference_["whole"]["ids"].get<std::vector<int32_t>>();
  EXPECT_TRUE(tokenizer_->decode(ids, false) == reference_["whole"]["decoded"].get<std::string>());
  EXPECT_TRUE(tokenizer_->decode(ids, true) == reference_["whole"]["decoded_skip"].get<std::string>());
}

TEST_P(Parity, Snippets) {
  int failures = 0;
  for (const json& s : reference_["snippets"]) {
    const auto text = s["text"].get<std::string>();
    const auto expected = s["ids"].get<std::vector<int32_t>>();
    const auto ids = tokenizer_->encode(text);
    const auto plain = tokenizer_->encode(text, false);
    const auto decoded = tokenizer_->decode(expected, false);
    const auto decoded_skip = tokenizer_->decode(expected, true);
    const bool ok = ids == expected && plain == s["ids_plain"].get<std::vector<int32_t>>() &&
                    decoded == s["decoded"].get<std::string>() &&
                    decoded_skip == s["decoded_skip"].get<std::string>();
    if (!ok && ++failures <= 5) {
      ADD_FAILURE() << "text " << quoted(text) << "\n  duo     " << show(ids) << "\n  library "
                    << show(expected) << "\n  duo decode     " << quoted(decoded)
                    << "\n  library decode " << s["decoded"].dump();
    }
  }
  EXPECT_EQ(failures, 0) << "of " << reference_["snippets"].size() << " snippets";
  EXPECT_GE(reference_["snippets"].size(), 1000u);
}

TEST_P(Parity, DecodeOfIdWindows) {
  int failures = 0;
  for (const json& w : reference_["windows"]) {
    const auto ids = w["ids"].get<std::vector<int32_t>>();
    const auto decoded = tokenizer_->decode(ids);
    if (decoded != w["decoded"].get<std::string>() && ++failures <= 5)
      ADD_FAILURE() << "ids " << show(ids) << ": duo " << quoted(decoded) << ", library " << w["decoded"].dump();
  }
  EXPECT_EQ(failures, 0);
}

// The word memo is shared between threads; encodes from several threads must not disturb it.
TEST_P(Parity, ConcurrentEncodesAgree) {
  const json& snippets = reference_["snippets"];
  constexpr size_t kThreads = 4;
  std::vector<size_t> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < snippets.size(); i += kThreads) {
        const auto ids = tokenizer_->encode(snippets[i]["text"].get<std::string>());
        if (ids != snippets[i]["ids"].get<std::vector<int32_t>>()) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0u) << "thread " << t;
}

TEST_P(Parity, VocabSize) { EXPECT_EQ(tokenizer_->vocab_size(), reference_["vocab_size"].get<int32_t>()); }

INSTANTIATE_TEST_SUITE_P(tokenizer, Parity,
                         testing::Values("llama3", "llama2", "tiny_bytelevel", "tiny_gpt2",
                                         "tiny_splits", "tiny_spm", "tiny_spm_unk",
                                         "tiny_metaspace", "tiny_metaspace_always"),
                         [](const testing::TestParamInfo<std::string>& param_info) { return param_info.param; });

TEST(tokenizer_utf8, ErrorNamesTheOffsetPythonReports) {
  const json cases = json::parse(read_file(kReference / "invalid_utf8.json"));
  ASSERT_GE(cases.size(), 40u);
  const auto tokenizer = duo::Tokenizer::from_dir(tokenizer_dir("llama3"));
  for (const json& c : cases) {
    const std::string hex = c["hex"].get<std::string>();
    std::string bytes;
    for (size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    const std::string expected = "at byte offset " + std::to_string(c["offset"].get<size_t>());
    try {
      tokenizer.encode(bytes);
      ADD_FAILURE() << "no error for " << hex;
    } catch (const duo::Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what() << " for " << hex;
    }
  }
}

}  // namespace
