// The default haystack: Debian's bible-kjv-text data file decoded by duo equals gzip's expansion
// of the same `compress` windows (tests/synth/kjv_reference.py), and has the Bible's shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "synth/kjv_bible.h"
#include "synth_test_util.h"
#include "util/error.h"

namespace {

std::string error_of(const std::filesystem::path& file) {
  try {
    duo::synth::read_kjv_bible(file);
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

#define SKIP_WITHOUT_KJV()                                       \
  if (!std::filesystem::exists(duo::synth::kKjvBibleFile))       \
  GTEST_SKIP() << "bible-kjv-text is not installed on this host"

}  // namespace

TEST(KjvBible, MatchesGzipsExpansion) {
  SKIP_WITHOUT_KJV();
  const std::filesystem::path expected_file = synth_test::scratch_dir() / "kjv_reference.txt";
  const std::string command = synth_test::python() + " " +
                              (synth_test::source_dir() / "tests/synth/kjv_reference.py").string() +
                              " " + duo::synth::kKjvBibleFile.string() + " " + expected_file.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(expected_file, std::ios::binary);
  std::ostringstream expected;
  expected << in.rdbuf();
  const std::string text = duo::synth::read_kjv_bible();
  EXPECT_GT(text.size(), 4000000u);
  EXPECT_TRUE(text == expected.str()) << "duo's text differs from the reference";
}

TEST(KjvBible, IsProseWithoutVerseReferences) {
  SKIP_WITHOUT_KJV();
  const std::string text = duo::synth::read_kjv_bible();
  EXPECT_EQ(text.rfind("In the beginning God created the heaven and the earth. And the earth", 0), 0u);
  const std::string end = "The grace of our Lord Jesus Christ be with you all. Amen.\n";
  EXPECT_EQ(text.substr(text.size() - end.size()), end);
  std::size_t chapters = 1;
  for (std::size_t at = 0; (at = text.find("\n\n", at)) != std::string::npos; at += 2) ++chapters;
  EXPECT_EQ(chapters, 1189u);
  EXPECT_EQ(text.find("Ge1:1"), std::string::npos);
}

TEST(KjvBible, MissingOrForeignFileSaysWhatToDo) {
  const std::string missing = error_of(synth_test::scratch_dir() / "no-bible.data");
  EXPECT_NE(missing.find("no-bible.data: cannot open the default haystack"), std::string::npos) << missing;
  EXPECT_NE(missing.find("bible-kjv-text"), std::string::npos) << missing;
  EXPECT_NE(missing.find("data.haystack"), std::string::npos) << missing;
  const std::string foreign = error_of(synth_test::write_file("foreign.data", "EC01 something else"));
  EXPECT_NE(foreign.find("foreign.data: not a bible-kjv-text data file"), std::string::npos) << foreign;
}

TEST(KjvBible, CorruptWindowIsAnError) {
  SKIP_WITHOUT_KJV();
  std::ifstream in(duo::synth::kKjvBibleFile, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Window 0's compressed bytes start right after the offset table; scramble a stretch of them.
  for (std::size_t i = 2000; i < 2400; ++i) data[i] = char(0xFF);
  const std::string e = error_of(synth_test::write_file("corrupt.data", data));
  EXPECT_NE(e.find("corrupt.data: not a bible-kjv-text data file"), std::string::npos) << e;
}
