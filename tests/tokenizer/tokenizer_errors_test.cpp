// Loading and input errors: each must be a duo::Error naming the file (or byte offset) and
// the problem, never a crash or a silently wrong tokenizer. Also small hand-checked encodes
// of a tokenizer.json written here (both merge formats, byte fallback, unk fusing).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class tokenizer_files : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("duo_tokenizer_test_" + std::to_string(::getpid()) + "_" +
            testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return dir_ / name;
  }

  // A tiny valid SentencePiece-style tokenizer; tests change one part at a time.
  static json tiny() {
    json vocab = {{"<unk>", 0}, {"<s>", 1}, {"a", 2}, {"b", 3}, {"c", 4}, {"ab", 5}, {"abc", 6},
                  {"▁", 7}, {"▁ab", 8}, {"<0xC3>", 9}, {"<0xA9>", 10}};
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", json::array({{{"id", 1}, {"content", "<s>"}, {"single_word", false},
                                           {"lstrip", false}, {"rstrip", false},
                                           {"normalized", false}, {"special", true}}})},
            {"normalizer", {{"type", "Sequence"},
                            {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                                                         {{"type", "Replace"},
                                                          {"pattern", {{"String", " "}}},
                                                          {"content", "▁"}}})}}},
            {"pre_tokenizer", nullptr},
            {"post_processor", {{"type", "TemplateProcessing"},
                                {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                                {"pair", json::array()},
                                {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
            {"decoder", {{"type", "Sequence"},
                         {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                                                   {{"type", "ByteFallback"}},
                                                   {{"type", "Fuse"}},
                                                   {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"},
                       {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                       {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab},
                       {"merges", json::array({"a b", "ab c", "▁ ab"})}}}};
  }

  duo::Tokenizer load(const json& j) { return duo::Tokenizer::from_files(write("tokenizer.json", j.dump())); }

  // Loading j must fail with a message holding the file path and every one of `words`.
  void expect_load_error(const json& j, std::initializer_list<std::string> words) {
    const fs::path path = write("tokenizer.json", j.dump());
    try {
      duo::Tokenizer::from_files(path);
      ADD_FAILURE() << "no error";
    } catch (const duo::Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      for (const auto& w : words) EXPECT_NE(message.find(w), std::string::npos) << message << " lacks " << w;
    }
  }

  fs::path dir_;
};

TEST_F(tokenizer_files, EncodesAndDecodesTheTinyTokenizer) {
  const auto tok = load(tiny());
  // Expected values checked with the `tokenizers` library. "a b" (rank 0) then "ab c" make
  // "▁" "abc"; é is not in the vocab, so it falls back to its two bytes; "x" and "y" are
  // unknown and fuse into one <unk>.
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{1, 7, 6}));
  EXPECT_EQ(tok.encode("é", false), (std::vector<int32_t>{7, 9, 10}));
  EXPECT_EQ(tok.encode("xy", false), (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(tok.encode("", true), (std::vector<int32_t>{1}));
  // Strip removes the leading space of the whole text only, which here starts with "<s>".
  const std::vector<int32_t> ids = {1, 7, 6, 9, 10};
  EXPECT_EQ(tok.decode(ids), "<s> abcé");
  EXPECT_EQ(tok.decode(ids, true), "abcé");
  EXPECT_EQ(tok.token_to_id("abc"), 6);
  EXPECT_EQ(tok.id_to_token(8), "▁ab");
  EXPECT_EQ(tok.vocab_size(), 11);
}

TEST_F(tokenizer_files, MergesAsPairsEqualMergesAsStrings) {
  json pairs = tiny();
  pairs["model"]["merges"] = json::array({{"a", "b"}, {"ab", "c"}, {"▁", "ab"}});
  const auto a = load(tiny()).encode("abc abcab cba");
  const auto b = load(pairs).encode("abc abcab cba");
  EXPECT_EQ(a, b);
  // Ranks decide: with "▁ ab" first, "▁" takes "ab" before "ab c" can apply.
  json reordered = tiny();
  reordered["model"]["merges"] = json::array({"▁ ab", "a b", "ab c"});
  EXPECT_EQ(load(reordered).encode("abc", false), (std::vector<int32_t>{8, 4}));
}

TEST_F(tokenizer_files, MissingFileNamesIt) {
  try {
    duo::Tokenizer::from_dir(dir_ / "nowhere");
    ADD_FAILURE() << "no error";
  } catch (const duo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere/tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST_F(tokenizer_files, BadJson) {
  const auto path = write("tokenizer.json", "{\"model\": [1, 2,");
  try {
    duo::Tokenizer::from_files(path);
    ADD_FAILURE() << "no error";
  } catch (const duo::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
}

TEST_F(tokenizer_files, MalformedFieldIsAnError) {
  json j = tiny();
  j["model"]["vocab"]["a"] = "not a number";
  expect_load_error(j, {"model vocab: \"a\" has id \"not a number\", not an integer"});
  j = tiny();
  j["added_tokens"][0]["content"] = 5;
  expect_load_error(j, {"malformed"});
}

// Ids the `tokenizers` library refuses (2.0, -1) are refused; so are ids it would not use as
// listed (it gives added tokens their own ids, so duo's encoding would differ), two tokens sharing
// an id, and ids far beyond the tokens the file defines (1e8 had duo allocate 1e8 entries, 2^31-1
// ended in std::bad_alloc). Each message names the file and the token.
TEST_F(tokenizer_files, TokenIdsMustBeTheIdsTheLibraryUses) {
  auto vocab = [](const std::string& token, const json& id) {
    json j = tiny();
    j["model"]["vocab"][token] = id;
    return j;
  };
  expect_load_error(vocab("b", 3.0), {"model vocab: \"b\" has id 3.0, not an integer"});
  expect_load_error(vocab("b", 2.5), {"model vocab: \"b\" has id 2.5, not an integer"});
  expect_load_error(vocab("b", -1), {"model vocab: \"b\" has id -1, outside [0, 12): the file defines 12 tokens"});
  expect_load_error(vocab("b", 100000000), {"model vocab: \"b\" has id 100000000, outside [0, 12)"});
  expect_load_error(vocab("b", 2147483647), {"model vocab: \"b\" has id 2147483647, outside [0, 12)"});
  expect_load_error(vocab("b", 4294967296), {"model vocab: \"b\" has id 4294967296, outside [0, 12)"});
  expect_load_error(vocab("b", 4), {"model vocab: ", "\"b\"", "\"c\"", "both have id 4"});

  auto added = [](const std::vector<json>& extra, const json& first_id = 1) {
    json j = tiny();
    j["added_tokens"][0]["id"] = first_id;
    for (const json& t : extra) j["added_tokens"].push_back(t);
    return j;
  };
  auto token = [](const std::string& content, const json& id) {
    return json{{"id", id}, {"content", content}, {"special", true}, {"normalized", false}};
  };
  expect_load_error(added({}, 1.0), {"added_tokens: \"<s>\" has id 1.0, not an integer"});
  expect_load_error(added({}, 2), {"added_tokens: \"<s>\" has id 2, but the model vocab gives it id 1"});
  expect_load_error(added({token("<t>", 2)}), {"added_tokens: \"<t>\" has id 2, which the model vocab gives to \"a\""});
  expect_load_error(added({token("<t>", 11), token("<u>", 11)}),
                    {"added_tokens: \"<u>\" has id 11, which is also the id of \"<t>\""});
  expect_load_error(added({token("<t>", 11), token("<t>", 12)}),
                    {"added_tokens: \"<t>\" has id 12, but it is listed before with id 11"});
  expect_load_error(added({token("<u>", 12), token("<t>", 11)}),
                    {"added_tokens: \"<u>\" has id 12, but the tokenizers library numbers new added tokens on from "
                     "the model vocab in file order and gives it id 11"});
  expect_load_error(added({token("<t>", 100000000)}), {"added_tokens: \"<t>\" has id 100000000, outside [0, 13)"});
  // What the library numbers the same way loads: new tokens after the vocab, in file order.
  const auto tok = load(added({token("<t>", 11), token("<u>", 12)}));
  EXPECT_EQ(tok.encode("<u>a<t>", false), (std::vector<int32_t>{12, 7, 2, 11}));
  EXPECT_EQ(tok.vocab_size(), 13);
}

TEST_F(tokenizer_files, UnsupportedModelType) {
  json j = tiny();
  j["model"]["type"] = "WordPiece";
  expect_load_error(j, {"unsupported model type", "WordPiece"});
}

TEST_F(tokenizer_files, UnsupportedComponents) {
  json j = tiny();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_load_error(j, {"normalizer", "Lowercase"});
  j = tiny();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_load_error(j, {"pre_tokenizer", "Whitespace"});
  j = tiny();
  j["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
  expect_load_error(j, {"decoder", "WordPiece"});
  j = tiny();
  j["post_processor"] = {{"type", "BertProcessing"}};
  expect_load_error(j, {"post_processor", "BertProcessing"});
  j = tiny();
  j["truncation"] = {{"max_length", 8}};
  expect_load_error(j, {"truncation"});
  j = tiny();
  j["model"]["dropout"] = 0.1;
  expect_load_error(j, {"dropout"});
  j = tiny();
  j["model"]["continuing_subword_prefix"] = "##";
  expect_load_error(j, {"continuing_subword_prefix"});
  j = tiny();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", json::array({{{"type", "ByteLevel"}, {"add_prefix_space", false}},
                                                       {{"type", "Metaspace"}, {"replacement", "▁"}}})}};
  expect_load_error(j, {"ByteLevel must be the last"});
}

TEST_F(tokenizer_files, MergeWithUnknownToken) {
  json j = tiny();
  j["model"]["merges"].push_back("c zz");
  expect_load_error(j, {"merges", "zz"});
}

TEST_F(tokenizer_files, BadRegex) {
  json j = tiny();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}, {"invert", false}};
  expect_load_error(j, {"pre_tokenizer Split", "(unclosed"});
}

TEST_F(tokenizer_files, InvalidUtf8GivesTheByteOffset) {
  const auto tok = load(tiny());
  for (const auto& [text, offset] : std::vector<std::pair<std::string, size_t>>{
           {"ab\xff", 2}, {"\xc3", 0}, {"abc\xe2\x82", 3}, {"\xed\xa0\x80", 0}, {"a\xc0\xaf", 1}}) {
    try {
      tok.encode(text);
      ADD_FAILURE() << "no error at " << offset;
    } catch (const duo::Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8 in text at byte offset " + std::to_string(offset)),
                std::string::npos) << e.what();
    }
  }
}

TEST_F(tokenizer_files, UnknownIdOnDecode) {
  const auto tok = load(tiny());
  const std::vector<int32_t> ids = {2, 99};
  EXPECT_THROW(tok.decode(ids), duo::Error);
  EXPECT_THROW(tok.id_to_token(-1), duo::Error);
}

TEST_F(tokenizer_files, ConfigGivesBosAndEos) {
  const auto json_path = write("tokenizer.json", tiny().dump());
  const auto config = write("tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": {"content": "<unk>"}})");
  const auto tok = duo::Tokenizer::from_files(json_path, config);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 0);
  EXPECT_FALSE(duo::Tokenizer::from_files(json_path).bos_id().has_value());
  const auto bad = write("tokenizer_config.json", R"({"bos_token": "<nope>"})");
  EXPECT_THROW(duo::Tokenizer::from_files(json_path, bad), duo::Error);
}

}  // namespace
