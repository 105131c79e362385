// Haystack reading: plain text, JSONL with a named field, a copied bible-kjv-text data file,
// the errors for missing files and bad JSONL, and tokenizing only as much as is needed.
#include <gtest/gtest.h>

#include "synth/haystack.h"
#include "synth/kjv_bible.h"
#include "synth/passkey.h"
#include "synth_test_util.h"
#include "util/error.h"

using duo::synth::HaystackFormat;
using duo::synth::HaystackSource;
using duo::synth::read_haystack_documents;

namespace {

std::string error_of(const HaystackSource& source) {
  try {
    read_haystack_documents(source);
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

}  // namespace

TEST(Haystack, PlainTextFilesInOrder) {
  const auto a = synth_test::write_file("a.txt", "First file.\n");
  const auto b = synth_test::write_file("b.txt", "Second file, ünïcode.\n");
  EXPECT_EQ(read_haystack_documents({{a, b}}),
            (std::vector<std::string>{"First file.\n", "Second file, ünïcode.\n"}));
}

TEST(Haystack, JsonlRecordsByField) {
  const auto file = synth_test::write_file(
      "books.jsonl",
      "{\"content\": \"Chapter one.\", \"id\": 1}\n\n{\"id\": 2, \"content\": \"Chapter \\\"two\\\".\"}\n");
  EXPECT_EQ(read_haystack_documents({{file}, HaystackFormat::jsonl, "content"}),
            (std::vector<std::string>{"Chapter one.", "Chapter \"two\"."}));
}

TEST(Haystack, BadJsonlNamesFileAndLine) {
  const auto broken = synth_test::write_file("broken.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"no end}\n");
  EXPECT_CONTAINS(error_of({{broken}, HaystackFormat::jsonl, "text"}), "broken.jsonl:2: not valid JSON");
  const auto no_field = synth_test::write_file("nofield.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n");
  EXPECT_CONTAINS(error_of({{no_field}, HaystackFormat::jsonl, "text"}),
                  "nofield.jsonl:2: the record has no string field \"text\"");
  const auto not_string = synth_test::write_file("number.jsonl", "{\"text\": 5}\n");
  EXPECT_CONTAINS(error_of({{not_string}, HaystackFormat::jsonl, "text"}),
                  "number.jsonl:1: the record has no string field");
  const auto array = synth_test::write_file("array.jsonl", "[\"text\"]\n");
  EXPECT_CONTAINS(error_of({{array}, HaystackFormat::jsonl, "text"}),
                  "array.jsonl:1: expected a JSON object, one per line");
}

TEST(Haystack, MissingFileIsAnError) {
  const auto missing = synth_test::scratch_dir() / "no-such-book.txt";
  EXPECT_CONTAINS(error_of({{missing}}), "no-such-book.txt: cannot open the haystack file");
  EXPECT_CONTAINS(error_of({{missing}, HaystackFormat::jsonl}), "no-such-book.txt: cannot open");
}

TEST(Haystack, CopiedBibleDataFileIsDecoded) {
  if (!std::filesystem::exists(duo::synth::kKjvBibleFile))
    GTEST_SKIP() << "bible-kjv-text is not installed on this host";
  const auto copy = synth_test::scratch_dir() / "copied-bible.data";
  std::filesystem::copy_file(duo::synth::kKjvBibleFile, copy,
                             std::filesystem::copy_options::overwrite_existing);
  const auto documents = read_haystack_documents({{copy}});
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(documents[0], duo::synth::read_kjv_bible());
}

TEST(Haystack, TokenizesOnlyWhatIsNeeded) {
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  const std::string prose = synth_test::make_prose(200 * 1024);
  const auto some = duo::synth::tokenize_haystack({prose}, tok, 1000);
  EXPECT_GE(some.size(), 1000u);
  EXPECT_LT(some.size(), 20000u) << "one piece of some kilobytes, not the whole text";
  const std::string decoded = tok.decode(some);
  EXPECT_EQ(prose.substr(0, decoded.size()), decoded);

  // Across documents, a paragraph break separates them; when the text runs out, all of it.
  const auto all = duo::synth::tokenize_haystack({"One.", "Two."}, tok, 1000000);
  EXPECT_EQ(tok.decode(all), "One.\n\nTwo.\n\n");
}

TEST(Haystack, JsonlHaystackFeedsTheGenerator) {
  std::string jsonl;
  const std::string prose = synth_test::make_prose(60 * 1024, 3);
  for (std::size_t at = 0; at < prose.size(); at += 4000) {
    std::string escaped;  // the prose has no quotes or backslashes, only line breaks
    for (char ch : prose.substr(at, 4000)) escaped += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    jsonl += "{\"text\": \"" + escaped + "\"}\n";
  }
  duo::synth::PasskeyConfig config;
  config.haystack = {{synth_test::write_file("prose.jsonl", jsonl)}, HaystackFormat::jsonl, "text"};
  config.context_min = config.context_max = 4000;
  config.context_count = 1;
  const duo::Tokenizer tok = synth_test::tokenizer("llama3");
  const duo::synth::PasskeyGenerator gen(config, tok);
  const auto s = gen.sample(0);
  EXPECT_EQ(s.ids.size(), 4000u);
  const std::size_t head = std::size_t(synth_test::head_tokens(tok, config.prefix));
  const std::string start = tok.decode(std::span<const int32_t>(s.ids.data() + head, 20));
  EXPECT_EQ(prose.substr(0, start.size()), start);
}
