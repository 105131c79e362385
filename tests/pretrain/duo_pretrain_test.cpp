// duo-pretrain end to end on the CPU: a few steps of a very small model at a short context,
// then transformers loads the output directory and generates the same greedy tokens as duo,
// the curve and the passkey evaluation are written, SIGTERM leaves a checkpoint, and a bad
// configuration fails cleanly; the committed models/tiny loads in transformers and generates
// what duo generates.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "model/decoder.h"
#include "model/llama.h"
#include "file_limit.h"
#include "scratch.h"
#include "tokenizer/tokenizer.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) { return std::getenv(name); }

std::string pretrain_command(const fs::path& dir, const std::string& extra) {
  return env("DUO_BIN_DIR") + "/duo-pretrain --config " + env("DUO_SOURCE_DIR") + "/configs/pretrain-tiny.yaml" +
         " --set model.tokenizer=" + env("DUO_SOURCE_DIR") + "/models/tiny-random" +
         " --set data.haystack_files=[" + (dir / "haystack.txt").string() + "]" +
         " --set train.device=cpu --set train.precision=fp32 --set model.hidden_size=32"
         " --set model.intermediate_size=64 --set model.num_layers=2 --set model.num_heads=4"
         " --set model.num_kv_heads=2 --set model.head_dim=8 --set data.context=512"
         " --set data.passkey_context_min=320 --set data.num_passkeys=1 --set data.passkey_words=4"
         " --set train.batch=2 --set train.steps=6 --set train.warmup_steps=2 --set train.time_budget_s=0"
         " --set train.log_every=2 --set train.save_every=4 --set eval.lengths=[320,512] --set eval.samples=3"
         " --set eval.batch=2 " + extra;
}

// transformers loads the checkpoint `model`, tokenizes `text` as duo does and continues it with
// the same `n` greedy tokens as duo (fp32 both).
void expect_generates_like_transformers(const fs::path& model_dir, const std::string& text, int n,
                                        const fs::path& scratch) {
  const std::vector<int32_t> ids32 = Tokenizer::from_dir(model_dir).encode(text);
  const std::vector<int64_t> prompt(ids32.begin(), ids32.end());
  std::string joined;
  for (int64_t id : prompt) joined += (joined.empty() ? "" : ",") + std::to_string(id);
  const auto py = test::run_command(env("DUO_PYTHON") + " " + env("DUO_SOURCE_DIR") +
                                    "/tests/pretrain/check_hf_checkpoint.py " + model_dir.string() + " " + joined +
                                    " " + std::to_string(n) + " '" + text + "'", scratch);
  ASSERT_EQ(py.code, 0) << py.out << py.err;
  const auto ref = nlohmann::json::parse(py.out);
  EXPECT_EQ(ref["encoded"].get<std::vector<int32_t>>(), ids32) << "transformers' tokenizer disagrees with duo's";
  const LlamaModel model = LlamaModel::load(model_dir, at::kFloat, at::kCPU);
  const Generation g = generate_greedy(model, prompt, {.max_new_tokens = n, .stop_at_eos = false});
  EXPECT_EQ(g.tokens, ref["generated"].get<std::vector<int64_t>>());
}

TEST(DuoPretrain, SmokeRunLoadsInTransformersAndGeneratesLikeDuo) {
  const fs::path dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(1500));
  const fs::path out = dir / "out";
  const auto r = test::run_command(pretrain_command(dir, "--out " + out.string()), dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("step      6/6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tok/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "curve.csv",
                        "passkey_eval.csv", "pretrain.yaml"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  std::istringstream curve(test::slurp(out / "curve.csv"));
  std::string line;
  int rows = -1;
  while (std::getline(curve, line)) ++rows;
  EXPECT_EQ(rows, 3) << "a row every 2 of 6 steps";
  const std::string eval = test::slurp(out / "passkey_eval.csv");
  EXPECT_EQ(eval.rfind("length,correct,total,accuracy\n320,", 0), 0u) << eval;
  EXPECT_NE(eval.find("\n512,"), std::string::npos) << eval;

  expect_generates_like_transformers(out, "And the shepherd walked to the river", 24, dir);
}

// SIGTERM (what `timeout` sends) ends a run after the current step with a loadable checkpoint.
TEST(DuoPretrain, SigtermSavesACheckpoint) {
  const fs::path dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(1500));
  const fs::path out = dir / "out";
  const auto r = test::run_command(
      "timeout -s TERM 8 " + pretrain_command(dir, "--set train.steps=1000000 --out " + out.string()), dir);
  EXPECT_EQ(r.code, 124) << "timeout reports that it had to stop the program\n" << r.out << r.err;
  EXPECT_NE(r.out.find("stopped by a signal"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("passkey accuracy"), std::string::npos) << "no evaluation after a signal";
  const LlamaModel model = LlamaModel::load(out, at::kFloat, at::kCPU);
  EXPECT_EQ(model.config().num_hidden_layers, 2);
}

// The committed built-in model: transformers loads it and continues a prompt exactly as duo does.
TEST(BuiltInTinyModel, LoadsInTransformersAndGeneratesLikeDuo) {
  expect_generates_like_transformers(fs::path(env("DUO_SOURCE_DIR")) / "models/tiny",
                                     "In the beginning God created the heaven and the earth. The first passkey is: kilo",
                                     32, test::scratch_dir());
}

// A full disk (here: a file size limit, which also holds the captured output, a few hundred bytes)
// stops the run at its first checkpoint with one error line naming the file, not a silently
// short checkpoint, and no temporary file is left behind.
TEST(DuoPretrain, AFullDiskIsOneErrorNamingTheFile) {
  const fs::path dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(1500));
  const fs::path out = dir / "out";
  const auto r = [&] {
    test::FileSizeLimit limit(8 * 1024);
    return test::run_command(pretrain_command(dir, "--out " + out.string()), dir);
  }();
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(r.err, "duo-pretrain: error: " + (out / "model.safetensors").string() + ": write failed: File too large\n")
      << r.out;
  EXPECT_EQ(r.out.find("checkpoint in"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  EXPECT_FALSE(fs::exists(out / "model.safetensors.partial"));
}

TEST(DuoPretrain, BadConfigurationExitsOneWithOneLine) {
  const fs::path dir = test::scratch_dir();
  const auto r = test::run_command(pretrain_command(dir, "--set train.lr=-1 --out " + (dir / "out").string()), dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("duo-pretrain: error: --set train.lr=-1: train.lr: expected a number in [0.0, 10.0], got -1", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// Paths of the wrong kind and outputs that cannot be made: one line naming the flag (or key) and
// the path, before the haystack is read or a step trained.
TEST(DuoPretrain, PathsOfTheWrongKindExitOneWithOneLine) {
  const fs::path dir = test::scratch_dir();
  test::spit(dir / "haystack.txt", test::synthetic_haystack(1500));
  const fs::path file = dir / "haystack.txt";
  const std::string model = env("DUO_SOURCE_DIR") + "/models/tiny";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--out " + (file / "out").string(),
       "--out " + (file / "out").string() + ": cannot be created: " + file.string() + " is a file"},
      {"--out " + file.string(), "--out expects a directory; " + file.string() + " is a file"},
      {"--eval " + model + "/model.safetensors",
       "--eval expects a checkpoint directory; " + model + "/model.safetensors is a file"},
      {"--set model.tokenizer=" + model + "/tokenizer.json --out " + (dir / "never").string(),
       "model.tokenizer expects a tokenizer directory; " + model + "/tokenizer.json is a file"},
      {"--set data.haystack_files=[" + dir.string() + "] --out " + (dir / "never").string(),
       "data.haystack_files expects text files; " + dir.string() + " is a directory"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = test::run_command(pretrain_command(dir, args), dir);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(r.err, "duo-pretrain: error: " + want + "\n") << args;
    EXPECT_EQ(r.out, "") << args;
  }
  EXPECT_FALSE(fs::exists(dir / "never"));
  const auto r = test::run_command(env("DUO_BIN_DIR") + "/duo-pretrain --config " + dir.string() + " --out " +
                                       (dir / "never").string(),
                                   dir);
  EXPECT_EQ(r.err, "duo-pretrain: error: --config expects a YAML configuration file; " + dir.string() +
                       " is a directory\n");
}

}  // namespace
}  // namespace duo
