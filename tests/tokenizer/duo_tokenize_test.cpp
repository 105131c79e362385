// duo-tokenize, run as a user would: its ids equal the library-checked duo::Tokenizer's for
// text given as an argument, in a file or on stdin; --decode gives back the text and equals the
// `tokenizers` library's decode; --jsonl converts each line as a separate run would; bad input
// ends in one line "duo-tokenize: error: ..." and exit status 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
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

// Single-quoted for sh.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path write(const std::string& name, const std::string& content) {
  const fs::path path = scratch(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A refused input: exit status 1 and exactly one line on stderr, holding every `needle`.
void expect_error(const Result& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err.rfind("duo-tokenize: error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  for (const std::string& needle : needles) EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

const std::string kText = "Hello <s> world, 1234567 你好 😀";

// Non-ASCII scripts, emoji sequences, combining marks, whitespace runs and code.
const std::vector<std::string> kTexts = {
    kText,
    "Grüße, naïve café — Ελληνικά, Русский",
    "  two  spaces\n\ttab\r\n",
    "مَرْحَبًا بالعالم, שלום, नमस्ते, 日本語のテキスト",
    "👩‍👩‍👧 e\u0301 🇩🇪 ∑ x² ≤ ∞",
    "def f(x):\n    return x ** 2  # it's\n",
};

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

// The ids duo-tokenize gives each text (encoded in one --jsonl run), space-separated.
std::vector<std::string> encoded_by_tool(const std::string& tokenizer, const std::vector<std::string>& texts,
                                         const std::string& options) {
  std::string input;
  for (const std::string& text : texts) input += nlohmann::json{{"text", text}}.dump() + "\n";
  const fs::path file = write("texts.jsonl", input);
  const Result r = run(tokenizer + " --jsonl " + options + " --file " + quote(file.string()));
  fs::remove(file);
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<std::string> ids;
  for (const std::string& line : lines_of(r.out)) {
    const auto object = nlohmann::json::parse(line);
    std::string spaced;
    for (const auto& id : object.at("ids")) spaced += (spaced.empty() ? "" : " ") + id.dump();
    ids.push_back(spaced);
  }
  return ids;
}

TEST(tokenizer_cli, DecodeGivesBackTheEncodedText) {
  // Llama-3 keeps every text byte for byte, special-token strings included.
  const std::string llama3 = "--tokenizer " + quote(fixture("llama3"));
  std::vector<std::string> texts;
  for (const std::string& text : kTexts) texts.push_back(text + " <|begin_of_text|> <|eot_id|>");
  const std::vector<std::string> ids = encoded_by_tool(llama3, texts, "");
  ASSERT_EQ(ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Result r = run(llama3 + " --decode " + ids[i]);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, texts[i] + "\n");
  }
  // The same ids comma-separated, on stdin and in a file.
  std::string commas = ids[0];
  std::replace(commas.begin(), commas.end(), ' ', ',');
  EXPECT_EQ(run(llama3 + " --decode " + quote(commas)).out, texts[0] + "\n");
  const fs::path file = write("ids.txt", ids[0] + "\n");
  EXPECT_EQ(run(llama3 + " --decode < " + quote(file.string())).out, texts[0] + "\n");
  EXPECT_EQ(run(llama3 + " --decode --file " + quote(file.string())).out, texts[0] + "\n");
  fs::remove(file);

  // Llama-2 prepends "▁" when encoding and strips it when decoding; without BOS it round-trips.
  const std::string llama2 = "--tokenizer " + quote(fixture("llama2"));
  texts.assign(kTexts.begin() + 1, kTexts.end());
  const std::vector<std::string> llama2_ids = encoded_by_tool(llama2, texts, "--no-special");
  ASSERT_EQ(llama2_ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Result r = run(llama2 + " --decode " + llama2_ids[i]);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, texts[i] + "\n");
  }
}

TEST(tokenizer_cli, DecodeEqualsTheTokenizersLibrary) {
  // Random ids over the whole vocabulary, a tenth of them from its ends (byte tokens, special
  // tokens), and windows of an encoded text that cut characters apart.
  for (const std::string name : {"llama3", "llama2"}) {
    SCOPED_TRACE(name);
    const auto tok = duo::Tokenizer::from_dir(fixture(name));
    std::mt19937 rng(13);
    std::uniform_int_distribution<int32_t> any(0, tok.vocab_size() - 1), end(0, 299), length(1, 24);
    std::vector<std::vector<int32_t>> lists;
    for (int i = 0; i < 60; ++i) {
      std::vector<int32_t> ids(length(rng));
      for (int32_t& id : ids) {
        const int32_t e = end(rng);
        id = rng() % 10 ? any(rng) : e < 150 ? e : tok.vocab_size() - 300 + e;
      }
      lists.push_back(ids);
    }
    std::string all_text;
    for (const std::string& text : kTexts) all_text += text;
    const auto all = tok.encode(all_text);
    for (int i = 0; i < 40; ++i) {
      const size_t start = rng() % all.size(), n = 1 + rng() % 6;
      lists.emplace_back(all.begin() + start, all.begin() + std::min(all.size(), start + n));
    }
    std::string input;
    for (size_t i = 0; i < lists.size(); ++i)
      input += nlohmann::json{{"n", i}, {"ids", lists[i]}}.dump() + "\n";
    const fs::path ids_file = write("ids.jsonl", input);
    const fs::path script =
        write("decode.py",
              "import json, sys, tokenizers\n"
              "t = tokenizers.Tokenizer.from_file(sys.argv[1])\n"
              "with open(sys.argv[2]) as f, open(sys.argv[3], 'w', encoding='utf-8') as out:\n"
              "    for line in f:\n"
              "        ids = json.loads(line)['ids']\n"
              "        out.write(json.dumps([t.decode(ids, skip_special_tokens=False),\n"
              "                              t.decode(ids, skip_special_tokens=True)],\n"
              "                             ensure_ascii=False) + '\\n')\n");
    const fs::path want_file = scratch("want.jsonl");
    const std::string python = env("DUO_PYTHON") + " " + quote(script.string()) + " " +
                               quote(fixture(name) + "/tokenizer.json") + " " + quote(ids_file.string()) +
                               " " + quote(want_file.string());
    ASSERT_EQ(std::system(python.c_str()), 0) << python;
    std::ifstream want_in(want_file);
    const std::vector<std::string> want =
        lines_of(std::string(std::istreambuf_iterator<char>(want_in), std::istreambuf_iterator<char>()));
    ASSERT_EQ(want.size(), lists.size());

    const std::string args = "--tokenizer " + quote(fixture(name)) + " --decode";
    for (const bool skip : {false, true}) {
      const Result r =
          run(args + " --jsonl --file " + quote(ids_file.string()) + (skip ? " --no-special" : ""));
      ASSERT_EQ(r.status, 0) << r.err;
      const std::vector<std::string> got = lines_of(r.out);
      ASSERT_EQ(got.size(), lists.size());
      for (size_t i = 0; i < lists.size(); ++i) {
        const auto object = nlohmann::json::parse(got[i]);
        EXPECT_EQ(object.at("n"), i);
        EXPECT_EQ(object.at("text"), nlohmann::json::parse(want[i])[skip ? 1 : 0]) << got[i];
      }
    }
    for (size_t i = 0; i < 3; ++i) {
      std::string ids;
      for (const int32_t id : lists[i]) ids += " " + std::to_string(id);
      const Result r = run(args + ids);
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(r.out, nlohmann::json::parse(want[i])[0].get<std::string>() + "\n");
    }
    for (const fs::path& p : {ids_file, script, want_file}) fs::remove(p);
  }
}

TEST(tokenizer_cli, JsonlEncodesEachLineAsASeparateRunWould) {
  const std::string tokenizer = "--tokenizer " + quote(fixture("llama2"));
  // No special-token strings, so decoding without special tokens gives the texts back.
  const std::vector<std::string> texts(kTexts.begin() + 1, kTexts.begin() + 5);
  std::string input;
  std::vector<nlohmann::ordered_json> objects;
  for (size_t i = 0; i < texts.size(); ++i) {
    // Fields before and after the text, of several JSON types, must come back in place.
    nlohmann::ordered_json object = {{"id", "doc-" + std::to_string(i)},
                                     {"text", texts[i]},
                                     {"meta", {{"n", i}, {"tags", {"a", nullptr, 1.5}}}}};
    objects.push_back(object);
    input += object.dump() + (i == 1 ? "\n\n  \n" : "\n");  // blank lines are skipped
  }
  const fs::path file = write("corpus.jsonl", input);
  const Result r = run(tokenizer + " --jsonl --file " + quote(file.string()));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), texts.size()) << r.out;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto got = nlohmann::ordered_json::parse(lines[i]);
    const Result alone = run(tokenizer + " --ids-only " + quote(texts[i]));
    ASSERT_EQ(alone.status, 0) << alone.err;
    std::vector<int32_t> want;
    std::istringstream ids(alone.out);
    for (int32_t id; ids >> id;) want.push_back(id);
    nlohmann::ordered_json expected = {{"id", objects[i]["id"]}, {"ids", want}, {"meta", objects[i]["meta"]}};
    EXPECT_EQ(got, expected) << lines[i];
  }
  // --decode --jsonl turns the output back into the input; --field names the text field.
  const fs::path encoded = write("encoded.jsonl", r.out);
  const Result back = run(tokenizer + " --jsonl --decode --no-special --file " + quote(encoded.string()));
  ASSERT_EQ(back.status, 0) << back.err;
  const std::vector<std::string> back_lines = lines_of(back.out);
  ASSERT_EQ(back_lines.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(nlohmann::ordered_json::parse(back_lines[i]), objects[i]);
  const Result content = run(tokenizer + " --jsonl --decode --field content < " + quote(encoded.string()));
  ASSERT_EQ(content.status, 0) << content.err;
  EXPECT_EQ(nlohmann::json::parse(lines_of(content.out).at(0)).at("content"), "<s> " + texts[0]);
  const fs::path renamed = write("content.jsonl", "{\"content\": \"Hello\"}\n");
  const Result by_field = run(tokenizer + " --jsonl --field content --file " + quote(renamed.string()));
  EXPECT_EQ(by_field.out,
            "{\"ids\":" + nlohmann::json(duo::Tokenizer::from_dir(fixture("llama2")).encode("Hello")).dump() +
                "}\n");
  for (const fs::path& p : {file, encoded, renamed}) fs::remove(p);
}

TEST(tokenizer_cli, JsonlErrorsNameTheLine) {
  const std::string tokenizer = "--tokenizer " + quote(fixture("llama2")) + " --jsonl";
  const std::string good = "{\"text\": \"fine\"}\n";
  const fs::path file = write("bad.jsonl", good + "\n" + "{\"text\": \"cut\n" + good);
  expect_error(run(tokenizer + " --file " + quote(file.string())), {file.string() + ":3: invalid JSON"});
  expect_error(run(tokenizer + " < " + quote(file.string())), {"stdin:3: invalid JSON"});
  const fs::path no_text = write("no_text.jsonl", good + good + "{\"body\": \"x\"}\n");
  expect_error(run(tokenizer + " --file " + quote(no_text.string())), {":3: ", "\"text\""});
  const fs::path array = write("array.jsonl", "[1, 2]\n");
  expect_error(run(tokenizer + " --file " + quote(array.string())), {":1: not a JSON object"});
  const fs::path bad_ids = write("bad_ids.jsonl", "{\"ids\": [1]}\n{\"ids\": [1, \"2\"]}\n");
  expect_error(run(tokenizer + " --decode --file " + quote(bad_ids.string())), {":2: ", "not a token id"});
  const fs::path clash = write("clash.jsonl", "{\"text\": \"x\", \"ids\": [1]}\n");
  expect_error(run(tokenizer + " < " + quote(clash.string())), {"stdin:1: already has a field \"ids\""});
  for (const fs::path& p : {file, no_text, array, bad_ids, clash}) fs::remove(p);
}

TEST(tokenizer_cli, DecodeRefusesIdsOutsideTheVocabulary) {
  const std::string tokenizer = "--tokenizer " + quote(fixture("llama3")) + " --decode";
  expect_error(run(tokenizer + " 9906 128256"), {"id 128256", "size 128256"});
  expect_error(run(tokenizer + " 9906,99999999999999999999"), {"id 99999999999999999999", "size 128256"});
  expect_error(run(tokenizer + " 9906 2147483647"), {"id 2147483647", "size 128256"});
  expect_error(run(tokenizer + " 100000000"), {"id 100000000", "size 128256"});
  expect_error(run(tokenizer + " -- -1"), {"id -1", "size 128256"});
  expect_error(run(tokenizer + " 12x"), {"\"12x\" is not a token id"});
  const fs::path file = write("oov.jsonl", "{\"ids\": [1]}\n{\"ids\": [1, 300000]}\n");
  expect_error(run(tokenizer + " --jsonl --file " + quote(file.string())),
               {":2: ", "id 300000", "size 128256"});
  fs::remove(file);
}

// Output that cannot be written (stdout on a full disk; /dev/full is one) is an error, exit 1,
// not a silent success (every program's run_main checks stdout).
TEST(tokenizer_cli, OutputThatCannotBeWrittenIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  const std::string tokenizer = "--tokenizer " + quote(fixture("llama3"));
  for (const std::string mode : {" --ids-only", "", " --decode"}) {
    const Result r = run(tokenizer + mode + " " + (mode == " --decode" ? "9906" : quote(kText)) + " >/dev/full");
    EXPECT_EQ(r.status, 1) << mode;
    EXPECT_EQ(r.err, "duo-tokenize: error: stdout: write failed: No space left on device\n") << mode;
  }
}

TEST(tokenizer_cli, FileMustBeReadableUtf8) {
  const std::string tokenizer = "--tokenizer " + quote(fixture("llama3"));
  const fs::path dir = scratch("dir");
  fs::create_directories(dir);
  for (const std::string mode : {"", " --decode", " --jsonl"})
    expect_error(run(tokenizer + mode + " --file " + quote(dir.string())),
                 {dir.string() + ": is a directory"});
  fs::remove(dir);
  expect_error(run(tokenizer + " --file " + quote(dir.string())), {dir.string() + ": cannot read"});
  const fs::path invalid = write("invalid.txt", "ab\xff");
  expect_error(run(tokenizer + " --file " + quote(invalid.string())),
               {invalid.string() + ": invalid UTF-8 at byte offset 2"});
  fs::remove(invalid);
}

TEST(tokenizer_cli, TokenizerIsAFolderOrItsTokenizerJson) {
  const std::string json = fixture("llama3") + "/tokenizer.json";
  const Result r = run("--tokenizer " + quote(json) + " --ids-only " + quote(kText));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, joined(duo::Tokenizer::from_dir(fixture("llama3")).encode(kText)));
  const std::string config = fixture("llama3") + "/tokenizer_config.json";
  expect_error(run("--tokenizer " + quote(config) + " x"),
               {config + ": not a tokenizer.json", "a directory holding tokenizer.json"});
  const fs::path text = write("prompt.txt", kText);
  expect_error(run("--tokenizer " + quote(text.string()) + " x"), {text.string() + ": not a tokenizer.json"});
  fs::remove(text);
}

}  // namespace
