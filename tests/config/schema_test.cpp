// The configuration engine (config/schema.h) on a small schema of its own: every kind of key read,
// checked and written back, errors naming file:line, key and problem, the nearest name of an
// unknown key, keys and sections given twice, UTF-8, --set, open and passed-over sections.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace duo::config;

namespace {

enum class Colour { red, dark_blue };
std::string_view to_string(Colour c) { return c == Colour::red ? "red" : "dark_blue"; }

struct Settings {
  bool on = false;
  int64_t count = 3;
  uint64_t seed = 7;
  double rate = 0.5;
  std::string name = "x";
  std::string note;
  std::string mode = "fast";
  fs::path dir = "d";
  std::vector<std::string> words = {"a"};
  std::vector<fs::path> files;
  std::vector<int64_t> sizes = {16};
  Colour colour = Colour::red;
  std::string other_path;
  bool operator==(const Settings&) const = default;
};

Schema schema(Settings& s) {
  Schema out;
  out.add({"a",
           {flag("on", s.on), integer("count", s.count, 1, 100), integer("seed", s.seed), number("rate", s.rate, kPositive),
            text("name", s.name, Empty::refused), text("note", s.note, Empty::allowed),
            one_of("mode", s.mode, {"fast", "slow"}), path("dir", s.dir, Empty::refused)}});
  out.add({"b",
           {text_list("words", s.words, Empty::refused), path_list("files", s.files, Empty::allowed),
            integer_list("sizes", s.sizes, 16, 1024), choice("colour", s.colour, {Colour::red, Colour::dark_blue})}});
  out.pass_over("theirs");
  out.add({"shared", {text("path", s.other_path, Empty::allowed)}, /*open=*/true});
  return out;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string parse_error(const std::string& yaml) {
  Settings s;
  return error_of([&] { schema(s).parse(yaml, "f.yaml"); });
}

std::string set_error(const std::string& assignment) {
  Settings s;
  return error_of([&] { schema(s).set(assignment); });
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

}  // namespace

TEST(ConfigSchema, ReadsEveryKindOfKey) {
  Settings s;
  schema(s).parse(
      "a:\n  on: true\n  count: 100\n  seed: 18446744073709551615\n  rate: 2.5e-3\n  name: n\n  note:\n"
      "  mode: slow\n  dir: some/dir\n"
      "b:\n  words: [x, \"y z\"]\n  files: [f1, f2]\n  sizes: [16, 1024]\n  colour: dark_blue\n",
      "f.yaml");
  EXPECT_TRUE(s.on);
  EXPECT_EQ(s.count, 100);
  EXPECT_EQ(s.seed, 18446744073709551615ull);
  EXPECT_DOUBLE_EQ(s.rate, 2.5e-3);
  EXPECT_EQ(s.name, "n");
  EXPECT_EQ(s.note, "");
  EXPECT_EQ(s.mode, "slow");
  EXPECT_EQ(s.dir, fs::path("some/dir"));
  EXPECT_EQ(s.words, (std::vector<std::string>{"x", "y z"}));
  EXPECT_EQ(s.files, (std::vector<fs::path>{"f1", "f2"}));
  EXPECT_EQ(s.sizes, (std::vector<int64_t>{16, 1024}));
  EXPECT_EQ(s.colour, Colour::dark_blue);
}

TEST(ConfigSchema, EmptyTextChangesNothing) {
  Settings s;
  schema(s).parse("", "f.yaml");
  schema(s).parse("# only a comment\n", "f.yaml");
  schema(s).parse("a:\n", "f.yaml");
  EXPECT_EQ(s, Settings());
}

TEST(ConfigSchema, ErrorsNameFileLineKeyAndProblem) {
  EXPECT_CONTAINS(parse_error("a:\n  count: 0\n"), "f.yaml:2: a.count: expected an integer in [1, 100], got 0");
  EXPECT_CONTAINS(parse_error("a:\n  count: 1.5\n"), "f.yaml:2: a.count: expected an integer in [1, 100], got '1.5'");
  EXPECT_CONTAINS(parse_error("a:\n  count: 99999999999999999999\n"),
                  "a.count: expected an integer in [1, 100], got 99999999999999999999");
  EXPECT_CONTAINS(parse_error("a:\n  seed: -1\n"), "a.seed: expected an integer in [0, 18446744073709551615], got '-1'");
  EXPECT_CONTAINS(parse_error("a:\n  rate: 0\n"), "a.rate: expected a number > 0.0, got 0");
  EXPECT_CONTAINS(parse_error("a:\n  rate: .nan\n"), "a.rate: expected a number > 0.0, got '.nan'");
  EXPECT_CONTAINS(parse_error("a:\n  on: maybe\n"), "a.on: expected true or false, got 'maybe'");
  EXPECT_CONTAINS(parse_error("a:\n  name: ''\n"), "a.name: expected a non-empty string, got nothing");
  EXPECT_CONTAINS(parse_error("a:\n  name: [x]\n"), "a.name: expected a non-empty string, got a list");
  EXPECT_CONTAINS(parse_error("a:\n  mode: quick\n"), "a.mode: expected one of fast, slow, got 'quick'");
  EXPECT_CONTAINS(parse_error("a:\n  dir:\n"), "a.dir: expected a non-empty string, got nothing");
  EXPECT_CONTAINS(parse_error("b:\n  words: []\n"), "b.words: expected a non-empty list of strings, got []");
  EXPECT_CONTAINS(parse_error("b:\n  words:\n    - x\n    - ''\n"), "f.yaml:4: b.words[1]: expected a non-empty string, got ''");
  EXPECT_CONTAINS(parse_error("b:\n  files: f1\n"), "b.files: expected a list of paths, got 'f1'");
  EXPECT_CONTAINS(parse_error("b:\n  sizes: []\n"), "b.sizes: expected a non-empty list of integers, got []");
  EXPECT_CONTAINS(parse_error("b:\n  sizes: [16, 8]\n"), "b.sizes[1]: expected an integer in [16, 1024], got 8");
  EXPECT_CONTAINS(parse_error("b:\n  colour: blue\n"), "b.colour: expected one of red, dark_blue, got 'blue'");
  EXPECT_CONTAINS(parse_error("a: 3\n"), "f.yaml:1: a: expected a mapping of keys (on, count, seed");
  EXPECT_CONTAINS(parse_error("[a]\n"), "f.yaml: expected a mapping of sections (a, b, theirs, shared), got a list");
  EXPECT_CONTAINS(parse_error("a:\n  count: [1\n"), "not valid YAML");
  EXPECT_EQ(parse_error("a:\n  count: [1\n").rfind("f.yaml:", 0), 0u);
  EXPECT_CONTAINS(parse_error("a:\n  ? [x]\n  : 1\n"), "f.yaml:2: expected a key name, got a list");
}

TEST(ConfigSchema, UnknownKeysListTheKnownOnesAndTheNearest) {
  EXPECT_EQ(parse_error("a:\n  cuont: 3\n"),
            "f.yaml:2: a.cuont: unknown key; a has on, count, seed, rate, name, note, mode, dir; did you mean count?");
  EXPECT_EQ(parse_error("a:\n  zzzzzz: 3\n"), "f.yaml:2: a.zzzzzz: unknown key; a has on, count, seed, rate, name, note, mode, dir");
  EXPECT_EQ(parse_error("shard:\n  path: 3\n"), "f.yaml:1: shard: unknown key; the sections are a, b, theirs, shared; did you mean shared?");
  EXPECT_EQ(nearest("lrr", {"lr", "weight_decay"}), "lr");
  EXPECT_EQ(nearest("hiden_size", {"hidden_size", "head_dim"}), "hidden_size");
  EXPECT_EQ(nearest("sed", {"seed"}), "seed");
  EXPECT_EQ(nearest("batch", {"lr", "steps"}), "");
  EXPECT_EQ(nearest("x", {"on", "count"}), "");
  EXPECT_EQ(nearest("optimizer", {"model", "optim", "run"}), "optim");
}

TEST(ConfigSchema, KeysAndSectionsGivenTwiceAreRefused) {
  EXPECT_EQ(parse_error("a:\n  count: 3\n  count: 4\n"), "f.yaml:3: a.count: given twice");
  EXPECT_EQ(parse_error("a:\n  count: 3\nb:\n  words: [x]\na:\n  on: true\n"), "f.yaml:5: a: given twice");
  EXPECT_EQ(parse_error("theirs:\n  k: 1\n  k: 2\n"), "f.yaml:3: theirs.k: given twice");
}

TEST(ConfigSchema, TextMustBeUtf8) {
  EXPECT_EQ(parse_error("a:\n  name: \xff\n"), "f.yaml: not UTF-8 (invalid byte at offset 11)");
  EXPECT_CONTAINS(parse_error("a:\n  name: \"\\N\"\n"), "f.yaml:2: a.name: expected a non-empty string, got text that is not UTF-8");
  EXPECT_CONTAINS(parse_error("b:\n  files: [\"\\_\"]\n"), "b.files[0]: expected a non-empty string, got text that is not UTF-8");
  EXPECT_EQ(parse_error("a:\n  name: \"\\u00e9\"\n"), "(no error)");
}

TEST(ConfigSchema, OverridesCheckLikeAFile) {
  Settings s;
  const Schema keys = schema(s);
  keys.set("a.count=9");
  keys.set("a.name=Q: which one?");  // text is literal unless quoted
  keys.set("a.note=\"\\t\"");
  keys.set("a.dir=a b");
  keys.set("b.words=[p, q]");
  keys.set("b.colour=dark_blue");
  keys.set("shared.path=/m");
  EXPECT_EQ(s.count, 9);
  EXPECT_EQ(s.name, "Q: which one?");
  EXPECT_EQ(s.note, "\t");
  EXPECT_EQ(s.dir, fs::path("a b"));
  EXPECT_EQ(s.words, (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(s.colour, Colour::dark_blue);
  EXPECT_EQ(s.other_path, "/m");
  EXPECT_EQ(set_error("a.count=x"), "--set a.count=x: a.count: expected an integer in [1, 100], got 'x'");
  EXPECT_EQ(set_error("a.count"), "--set a.count: expected key.path=value");
  EXPECT_EQ(set_error("a.count="), "--set a.count=: a.count: expected an integer in [1, 100], got nothing");
  EXPECT_CONTAINS(set_error("b.words=[x"), "--set b.words=[x: b.words: the value is not valid YAML");
  EXPECT_EQ(set_error("a.cont=1"), "--set a.cont=1: a.cont: unknown key; a has on, count, seed, rate, name, note, mode, dir; did you mean count?");
  EXPECT_EQ(set_error("count=1"), "--set count=1: count: unknown key; the sections are a, b, theirs, shared");
  EXPECT_EQ(set_error("theirs.k=1"),
            "--set theirs.k=1: theirs.k: not read here (theirs is another program's section; the sections read here are "
            "a, b, shared)");
  EXPECT_EQ(set_error("shared.dtype=1"), "--set shared.dtype=1: shared.dtype: not read here (of shared, only path is)");
}

TEST(ConfigSchema, OtherProgramsKeysArePassedOver) {
  Settings s;
  schema(s).parse("theirs:\n  anything: [1, {x: y}]\n  more: 2\nshared:\n  path: p\n  dtype: whatever\n", "f.yaml");
  EXPECT_EQ(s.other_path, "p");
  EXPECT_CONTAINS(parse_error("theirs: 3\n"), "f.yaml:1: theirs: expected a mapping of keys, got '3'");
  EXPECT_EQ(schema(s).to_yaml().find("theirs"), std::string::npos);
}

TEST(ConfigSchema, ToYamlReadsBackAsTheSameValues) {
  Settings s;
  s.on = true;
  s.count = 1;
  s.seed = 18446744073709551615ull;
  s.rate = 0.1 + 0.2;
  s.name = "true";  // reads as a boolean unless quoted
  s.note = "null";
  s.dir = "a: b/~";
  s.words = {"yes", "1", "é", "[x]"};
  s.files = {"f 1", "#f2"};
  s.sizes = {16, 17, 1024};
  s.colour = Colour::dark_blue;
  s.other_path = "o";
  const std::string yaml = schema(s).to_yaml();
  Settings back;
  schema(back).parse(yaml, "to_yaml");
  EXPECT_EQ(back, s) << yaml;
  EXPECT_CONTAINS(yaml, "rate: 0.30000000000000004\n");
  EXPECT_CONTAINS(yaml, "colour: dark_blue\n");
  EXPECT_EQ(format_double(2), "2.0");
  EXPECT_EQ(format_double(1e-12), "1e-12");
}

TEST(ConfigSchema, LoadNamesTheFile) {
  Settings s;
  const fs::path dir = fs::path(testing::TempDir()) / "duo_schema_test";
  fs::create_directories(dir);
  EXPECT_EQ(error_of([&] { schema(s).load(dir / "none.yaml"); }), (dir / "none.yaml").string() + ": no such configuration file");
  EXPECT_EQ(error_of([&] { schema(s).load(dir); }), dir.string() + ": is a directory, not a configuration file");
  std::ofstream(dir / "bad.yaml") << "a:\n  count: 0\n";
  EXPECT_EQ(error_of([&] { schema(s).load(dir / "bad.yaml"); }),
            (dir / "bad.yaml").string() + ":2: a.count: expected an integer in [1, 100], got 0");
}
