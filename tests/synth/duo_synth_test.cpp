// duo-synth, the program: help, a marked sample, config + flags, and errors on stderr with exit 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <sys/wait.h>

#include "synth_test_util.h"

namespace {

struct Result {
  int status;
  std::string output;  // stdout and stderr
};

Result run(const std::string& args) {
  const std::string command = synth_test::program("duo-synth") + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  Result r{-1, ""};
  if (!pipe) return r;
  std::array<char, 4096> buffer;
  for (std::size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) r.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string prose_file() {
  static const std::string path =
      synth_test::write_file("cli-prose.txt", synth_test::make_prose(80 * 1024, 5)).string();
  return path;
}

std::string llama3() { return (synth_test::fixtures_dir() / "tokenizers/llama3").string(); }

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

}  // namespace

TEST(DuoSynth, Help) {
  const Result r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_CONTAINS(r.output, "--tokenizer");
  EXPECT_CONTAINS(r.output, "--config");
  EXPECT_CONTAINS(r.output, "--index");
  EXPECT_CONTAINS(r.output, "--task");
  EXPECT_CONTAINS(r.output, "--tasks");
  EXPECT_CONTAINS(r.output, "--depth");
  EXPECT_CONTAINS(r.output, "--instructions");
  EXPECT_CONTAINS(r.output, "RULER");
}

TEST(DuoSynth, ListsTheEvaluationTasks) {
  const Result r = run("--tasks");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* task : {"ruler:niah_single_1\n", "ruler:niah_multikey_2\n", "ruler:vt\n", "ruler:cwe\n",
                           "ruler:fwe\n", "retention:instructions\n", "retention:system_prompt\n"})
    EXPECT_CONTAINS(r.output, task);
}

// duo-synth --task prints JSONL that the tokenizers library agrees with
// (tests/synth/check_eval_samples.py).
TEST(DuoSynth, PrintsEvaluationSamplesAsJsonLines) {
  const Result r = run("--task ruler:niah_multikey_2 --length 2048 --seed 1 --count 2 --tokenizer " + llama3());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2);
  EXPECT_EQ(r.output.rfind("{\"answer_prefix\":\" The special magic number for ", 0), 0u) << r.output.substr(0, 200);
  for (const char* key : {"\"task\":\"ruler:niah_multikey_2\"", "\"length\":2048", "\"seed\":1", "\"index\":1",
                          "\"prompt\":\"A special magic number is hidden", "\"answers\":[\"", "\"depths\":[",
                          "\"needle_tokens\":[", "\"metric\":\"string_match_all\"", "\"tokens_to_generate\":128"})
    EXPECT_CONTAINS(r.output, key);
  EXPECT_EQ(run("--task ruler:niah_multikey_2 --length 2048 --seed 1 --count 2 --tokenizer " + llama3()).output,
            r.output) << "the same seed, the same samples";
  EXPECT_NE(run("--task ruler:niah_multikey_2 --length 2048 --seed 2 --count 2 --tokenizer " + llama3()).output,
            r.output);

  const std::string python = synth_test::python();
  const std::string checker = (synth_test::source_dir() / "tests/synth/check_eval_samples.py").string();
  for (const std::string tokenizer : {"llama3", "llama2"}) {
    const std::string dir = (synth_test::fixtures_dir() / "tokenizers" / tokenizer).string();
    std::string lines;
    for (const std::string task : {"ruler:niah_single_1", "ruler:niah_single_2", "ruler:niah_multiquery",
                                   "ruler:niah_multikey_3", "ruler:vt", "ruler:cwe", "ruler:fwe",
                                   "retention:instructions"}) {
      const Result samples = run("--task " + task + " --length 3100 --count 2 --haystack " + prose_file() +
                                 " --tokenizer " + dir);
      ASSERT_EQ(samples.status, 0) << samples.output;
      lines += samples.output;
    }
    const std::string file = synth_test::write_file("eval-" + tokenizer + ".jsonl", lines).string();
    FILE* pipe = popen((python + " " + checker + " " + dir + " " + file + " 2>&1").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> buffer;
    for (std::size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
    EXPECT_EQ(pclose(pipe), 0) << output;
    EXPECT_CONTAINS(output, "16 samples match");
  }
}

TEST(DuoSynth, EvaluationErrors) {
  const Result no_length = run("--task ruler:vt --tokenizer " + llama3());
  EXPECT_EQ(no_length.status, 1);
  EXPECT_CONTAINS(no_length.output, "duo-synth: error: --task needs --length");
  const Result unknown = run("--task ruler:qa_1 --length 1000 --tokenizer " + llama3());
  EXPECT_EQ(unknown.status, 1);
  EXPECT_CONTAINS(unknown.output, "duo-synth: error: unknown task 'ruler:qa_1'; the tasks are ruler:niah_single_1");
  const Result depth = run("--task ruler:niah_single_1 --length 1000 --depth 2 --tokenizer " + llama3());
  EXPECT_NE(depth.status, 0);
  EXPECT_CONTAINS(depth.output, "--depth");
}

TEST(DuoSynth, PrintsAMarkedSample) {
  const Result r = run("--tokenizer " + llama3() + " --haystack " + prose_file() +
                       " --context-min 3000 --context-max 3000 --context-count 1 --index 2 --color never");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "sample 2: 3000 tokens");
  EXPECT_CONTAINS(r.output, "«Remeber this sequence of words, it's the first passkey to the vault: ");
  EXPECT_CONTAINS(r.output, "⟦Based on the content of the book, what is the first passkey to the vault?\nPasskey: ");
  EXPECT_CONTAINS(r.output, "tenth passkey");
  EXPECT_EQ(r.output.find("\x1b["), std::string::npos) << "no colour with --color never";
}

TEST(DuoSynth, ReadsTheDataSectionOfATrainConfig) {
  const Result r = run("--config " + (synth_test::source_dir() / "configs/tiny.yaml").string() +
                       " --tokenizer " + (synth_test::source_dir() / "models/tiny-random").string() +
                       " --haystack " + prose_file() + " --lengths");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "context lengths:");
  const Result sample = run("--config " + (synth_test::source_dir() / "configs/tiny.yaml").string() +
                            " --tokenizer " + (synth_test::source_dir() / "models/tiny-random").string() +
                            " --haystack " + prose_file() + " --count 2 --color always");
  ASSERT_EQ(sample.status, 0) << sample.output;
  EXPECT_CONTAINS(sample.output, "sample 1:");
  EXPECT_CONTAINS(sample.output, "\x1b[32m");
  EXPECT_EQ(sample.output.find("third passkey"), std::string::npos) << "tiny.yaml has two passkeys";
}

// duo's samples, rebuilt independently from the tokenizers library and the reference's
// templates by tests/synth/check_samples.py, for three tokenizers.
TEST(DuoSynth, SamplesMatchTheTokenizersLibrary) {
  const std::string haystack =
      synth_test::write_file("small-prose.txt", synth_test::make_prose(12 * 1024, 8)).string();
  const std::string python = synth_test::python();
  const std::string checker = (synth_test::source_dir() / "tests/synth/check_samples.py").string();
  struct Case {
    std::string name, dir, flags;
  };
  const std::vector<Case> cases = {
      {"llama3", llama3(), "--context-min 3300 --context-max 3900 --context-count 4"},
      {"llama2", (synth_test::fixtures_dir() / "tokenizers/llama2").string(),
       "--context-min 3400 --context-max 4200 --context-count 4"},
      {"tiny-random", (synth_test::source_dir() / "models/tiny-random").string(),
       "--passkeys 3 --words 8 --context-min 1400 --context-max 2400 --context-count 4"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Result samples = run("--tokenizer " + c.dir + " --haystack " + haystack + " " + c.flags +
                               " --index 3 --count 5 --json");
    ASSERT_EQ(samples.status, 0) << samples.output;
    const std::string file = synth_test::write_file("samples-" + c.name + ".jsonl", samples.output).string();
    const std::string command = python + " " + checker + " " + c.dir + " " + haystack + " " + file + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> buffer;
    for (std::size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) output.append(buffer.data(), n);
    EXPECT_EQ(pclose(pipe), 0) << output;
    EXPECT_CONTAINS(output, "5 samples match");
  }
}

TEST(DuoSynth, ErrorsGoToStderrWithExitOne) {
  const Result short_context = run("--tokenizer " + llama3() + " --haystack " + prose_file() +
                                   " --context-min 3000 --context-max 3000 --context-count 1 --length 100");
  EXPECT_EQ(short_context.status, 1);
  EXPECT_CONTAINS(short_context.output, "duo-synth: error: passkey data: a context of 100 tokens cannot hold");
  const Result no_tokenizer = run("--haystack " + prose_file());
  EXPECT_EQ(no_tokenizer.status, 1);
  EXPECT_CONTAINS(no_tokenizer.output, "duo-synth: error: no tokenizer");
  const Result bad_set = run("--tokenizer " + llama3() + " --set data.num_passkeys=zero");
  EXPECT_EQ(bad_set.status, 1);
  EXPECT_CONTAINS(bad_set.output, "data.num_passkeys: expected an integer in [1, 10000], got 'zero'");
  const Result missing = run("--tokenizer " + llama3() + " --haystack no-such-file.txt");
  EXPECT_EQ(missing.status, 1);
  EXPECT_CONTAINS(missing.output, "no-such-file.txt: cannot open the haystack file");
}
