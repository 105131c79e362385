// duo-generate end to end: greedy ids and dumped hidden states/logits against transformers'
// reference (read back with numpy and h5py), a text prompt against the tokenizers library, and
// bad input giving exit 1 with one line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "model/safetensors.h"
#include "file_limit.h"
#include "model_test_util.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

struct ToolRun {
  int code;
  std::string out, err;
};

ToolRun run_tool(const std::string& args, const fs::path& dir) {
  const fs::path bin = fs::path(std::getenv("DUO_BIN_DIR")) / "duo-generate";
  const std::string cmd = bin.string() + " " + args + " >" + (dir / "out").string() + " 2>" + (dir / "err").string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(dir / "out"), test::read_file(dir / "err")};
}

TEST(ModelDuoGenerate, BadCheckpointExitsOneWithOneLine) {
  const fs::path dir = test::fresh_dir();
  test::write_file(dir / "model.safetensors", test::safetensors_bytes(test::tiny_llama_tensors()));
  ToolRun r = run_tool("--model " + dir.string() + " --ids 1,2,3", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("duo-generate: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  // A truncated weight file, and ids outside the vocabulary: same shape of failure.
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  std::string bytes = test::read_file(dir / "model.safetensors");
  test::write_file(dir / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  r = run_tool("--model " + dir.string() + " --ids 1,2,3", dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  for (const std::string id : {"99", "100000000", "2147483647"}) {
    r = run_tool("--model " + dir.string() + " --ids 1," + id, dir);
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "duo-generate: error: generate: token id " + id + " is outside the vocabulary [0, 16)\n");
  }
}

// A dump the disk refuses (here: a file size limit, as on a full disk) is one error line naming
// the file and the reason, exit 1; no temporary file is left and an older dump stays as it was.
TEST(ModelDuoGenerate, ADumpThatCannotBeWrittenIsOneErrorNamingTheFile) {
  const fs::path dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  std::string ids = "1";
  for (int i = 0; i < 39; ++i) ids += "," + std::to_string(i % 16);  // hidden states of 40 tokens: 1.4 KB
  for (const std::string name : {"dump.hidden.npy", "dump.h5"}) {
    test::write_file(dir / name, "an older dump");
    const fs::path dump = dir / (name == "dump.h5" ? "dump.h5" : "dump.npy");
    ToolRun r = [&] {
      test::FileSizeLimit limit(1024);
      return run_tool("--model " + dir.string() + " -n 1 --ids " + ids + " --dump " + dump.string(), dir);
    }();
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.err, "duo-generate: error: " + (dir / name).string() + ": write failed: File too large\n");
    EXPECT_EQ(test::read_file(dir / name), "an older dump");
    EXPECT_FALSE(fs::exists(dir / (name + ".partial"))) << name;
  }
}

// Prompt + new tokens beyond max_position_embeddings (64 here): generated all the same, with one
// warning line naming both numbers and the config.json.
TEST(ModelDuoGenerate, WarnsWhenTheContextPassesTheModelsPositions) {
  const fs::path dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  ToolRun r = run_tool("--model " + dir.string() + " --ignore-eos -n 61 --ids 1,2,3", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  r = run_tool("--model " + dir.string() + " --ignore-eos -n 62 --ids 1,2,3", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "duo-generate: warning: the prompt's 3 tokens + 62 new ones (65) exceed the model's "
                   "max_position_embeddings of 64 (" + (dir / "config.json").string() +
                   "); past it the model runs on positions it was not trained for\n");
  EXPECT_NE(r.out.find("generated: "), std::string::npos) << r.out;
}

// Paths of the wrong kind, and dumps that could not be written, are one line each before the
// model loads: naming the flag and the path.
TEST(ModelDuoGenerate, PathsOfTheWrongKindExitOneWithOneLineBeforeLoading) {
  const fs::path dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  const fs::path weights = dir / "model.safetensors";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--model " + weights.string(), "--model expects a checkpoint directory; " + weights.string() + " is a file"},
      {"--random-config " + dir.string(), "--random-config expects a config.json file; " + dir.string() + " is a directory"},
      {"--model " + dir.string() + " --tokenizer " + weights.string(),
       "--tokenizer expects a tokenizer directory; " + weights.string() + " is a file"},
      {"--model " + dir.string() + " --dump " + (weights / "dump.h5").string(),
       "--dump " + (weights / "dump.h5").string() + ": cannot be created: " + weights.string() + " is a file"},
      {"--model " + dir.string() + " --dump " + (weights / "dump.npy").string(),
       "--dump " + (weights / "dump.hidden.npy").string() + ": cannot be created: " + weights.string() + " is a file"},
      {"--model " + dir.string() + " --dump " + dir.string() + ".h5",
       "--dump expects a file; " + dir.string() + ".h5 is a directory"},
  };
  fs::create_directories(dir.string() + ".h5");
  for (const auto& [args, want] : cases) {
    ToolRun r = run_tool(args + " --ids 1,2,3", dir);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(r.err, "duo-generate: error: " + want + "\n") << args;
    EXPECT_EQ(r.out, "") << args;
  }
  // A dump into a directory that does not exist yet: it is made.
  ToolRun r = run_tool("--model " + dir.string() + " -n 1 --ids 1,2,3 --dump " + (dir / "new" / "dump.h5").string(), dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "new" / "dump.h5"));
}

TEST(ModelDuoGenerate, GeneratesAndDumpsLikeTransformers) {
  const fs::path dir = test::fresh_dir();
  const fs::path ckpt = fs::path(DUO_MODEL_CHECKPOINTS) / "qwen3-bf16";
  SafetensorsFile ref(ckpt / "reference.safetensors");
  at::Tensor ids = test::read_tensor(ref, "ids")[0], gen = test::read_tensor(ref, "generated");
  auto join = [](const at::Tensor& t) {
    std::string s;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (i) s += ',';
      s += std::to_string(t[i].item<int64_t>());
    }
    return s;
  };
  for (const char* ext : {".npy", ".h5"}) {
    ToolRun r = run_tool("--model " + ckpt.string() + " --dtype fp32 -n 32 --ignore-eos --ids " + join(ids) +
                    " --dump " + (dir / (std::string("dump") + ext)).string(),
                dir);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("generated: " + join(gen) + "\n"), std::string::npos) << r.out;
  }
  // The dumps, read by numpy and h5py, against transformers' prompt outputs.
  const std::string check =
      "import sys, numpy as np, h5py\n"
      "from safetensors.numpy import load_file\n"
      "r = load_file(sys.argv[1]); d = sys.argv[2]\n"
      "h5 = h5py.File(d + '/dump.h5', 'r')\n"
      "for k in ('hidden', 'logits'):\n"
      "    for a in (np.load(d + '/dump.' + k + '.npy'), h5[k][()]):\n"
      "        assert a.dtype == np.float32 and a.shape == r[k][0].shape, (k, a.dtype, a.shape)\n"
      "        assert np.abs(a - r[k][0]).max() <= 1e-4, (k, np.abs(a - r[k][0]).max())\n";
  test::write_file(dir / "check.py", check);
  const std::string cmd = std::string(std::getenv("DUO_PYTHON")) + " " + (dir / "check.py").string() + " " +
                          (ckpt / "reference.safetensors").string() + " " + dir.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(ModelDuoGenerate, TextPromptIsEncodedLikeTheTokenizersLibrary) {
  const fs::path dir = test::fresh_dir();
  const fs::path tok = fs::path(std::getenv("DUO_FIXTURES_DIR")) / "tokenizers" / "llama2";
  const std::string text = "Hello world, this is duo.";
  test::write_file(dir / "config.json",
                   R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 32000})");
  ToolRun r = run_tool("--random-config " + (dir / "config.json").string() + " --tokenizer " + tok.string() +
                           " -n 3 --prompt '" + text + "'",
                       dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string py = std::string(std::getenv("DUO_PYTHON")) +
                         " -c \"import sys, tokenizers; t = tokenizers.Tokenizer.from_file(sys.argv[1]); "
                         "print('prompt: ' + ','.join(map(str, t.encode(sys.argv[2]).ids)))\" " +
                         (tok / "tokenizer.json").string() + " '" + text + "' >" + (dir / "py").string();
  ASSERT_EQ(std::system(py.c_str()), 0);
  const std::string want = test::read_file(dir / "py");
  EXPECT_EQ(r.out.substr(0, want.size()), want) << r.out;
  EXPECT_NE(r.out.find("\ntext: "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace duo
