// duo-tokenize, run as a user would: its ids equal the library-checked duo::Tokenizer's for
// text given as an argument, in a file or on stdin; bad input ends in "duo-tokenize: error:"
// and exit status 1.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out, err;
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) throw std::runtime_error(std::string(name) + " is not set");
  return v;
}

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("duo_tokenize_test_" + std::to_string(::getpid()) + "_" + name);
}

// Runs duo-tokenize with shell-quoted arguments (and optional shell stdin redirection).
Result run(const std::string& args) {
  const fs::path err = scratch("stderr");
  const std::string command = env("DUO_BIN_DIR") + "/duo-tokenize " + args + " 2>" + err.string();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  Result r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  fs::remove(err);
  return r;
}

std::string fixture(const std::string& name) { return env("DUO_FIXTURES_DIR") + "/tokenizers/" + name; }

std::string joined(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
  s << "\n";
  return s.str();
}

const std::string kText = "Hello <s> world, 1234567 你好 😀";

TEST(tokenizer_cli, IdsFromArgumentFileAndStdin) {
  const auto tok = duo::Tokenizer::from_dir(fixture("llama2"));
  const std::string dir = "--tokenizer '" + fixture("llama2") + "' --ids-only";
  const Result arg = run(dir + " '" + kText + "'");
  ASSERT_EQ(arg.status, 0) << arg.err;
  EXPECT_EQ(arg.out, joined(tok.encode(kText)));

  const fs::path file = scratch("text.txt");
  std::ofstream(file, std::ios::binary) << kText;
  const Result from_file = run(dir + " --file '" + file.string() + "'");
  EXPECT_EQ(from_file.out, joined(tok.encode(kText)));
  const Result from_stdin = run(dir + " --no-special < '" + file.string() + "'");
  EXPECT_EQ(from_stdin.out, joined(tok.encode(kText, false)));
  fs::remove(file);
}

TEST(tokenizer_cli, PrintsOneLinePerTokenAndACount) {
  const auto tok = duo::Tokenizer::from_dir(fixture("llama3"));
  const auto ids = tok.encode(kText);
  const Result r = run("--tokenizer '" + fixture("llama3") + "' '" + kText + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  for (const int32_t id : ids) {
    ASSERT_TRUE(std::getline(lines, line));
    EXPECT_EQ(line.substr(0, line.find('\t')), std::to_string(id));
  }
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(line, std::to_string(ids.size()) + " tokens, " + std::to_string(kText.size()) + " bytes");
}

TEST(tokenizer_cli, ErrorsExitWithStatusOne) {
  const Result missing = run("--tokenizer /nonexistent-duo-dir 'x'");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err.rfind("duo-tokenize: error: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("tokenizer.json"), std::string::npos) << missing.err;

  const Result invalid = run("--tokenizer '" + fixture("llama3") + "' \"$(printf 'ab\\377')\"");
  EXPECT_EQ(invalid.status, 1);
  EXPECT_NE(invalid.err.find("invalid UTF-8 in text at byte offset 2"), std::string::npos) << invalid.err;
}

}  // namespace
