// What a model's weights take (checked before they are allocated): weight_bytes against the
// weights duo actually holds for every variant, and a model too large for the machine refused
// with one line by duo-generate, for random weights and for a checkpoint alike.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "model/llama.h"
#include "model/model_memory.h"
#include "model_test_util.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

TEST(ModelMemory, WeightBytesCountEveryWeightOfEachVariant) {
  for (const char* variant : {"llama_mha", "llama_gqa", "llama_tied", "mistral", "qwen2", "qwen3"}) {
    const LlamaModel model = LlamaModel::load(fs::path(DUO_MODEL_CHECKPOINTS) / (std::string(variant) + "-fp32"),
                                              at::kFloat, at::kCPU);
    double bytes = 0;
    for (const auto& [name, w] : model.named_weights()) bytes += double(w.numel()) * double(w.element_size());
    EXPECT_EQ(weight_bytes(model.config(), at::kFloat), bytes) << variant;
    EXPECT_EQ(weight_bytes(model.config(), at::kBFloat16), bytes / 2) << variant;
    const LlamaModel headless =
        LlamaModel::load(fs::path(DUO_MODEL_CHECKPOINTS) / (std::string(variant) + "-fp32"), at::kFloat, at::kCPU,
                         /*with_lm_head=*/false);
    double headless_bytes = 0;
    for (const auto& [name, w] : headless.named_weights())
      headless_bytes += double(w.numel()) * double(w.element_size());
    EXPECT_EQ(weight_bytes(headless.config(), at::kFloat, /*with_lm_head=*/false), headless_bytes) << variant;
  }
  EXPECT_EQ(format_bytes(512), "512 bytes");
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
  EXPECT_EQ(format_bytes(std::pow(1024.0, 4) * 2), "2.0 TiB");
}

// A config.json of a model far larger than any machine (2 TiB in fp32): with random weights and as
// a checkpoint whose header holds a matching 1 TiB tensor, one line saying what it needs and what
// the machine has, before anything is allocated.
TEST(ModelMemory, AModelTooLargeForTheMachineIsOneLine) {
  const fs::path dir = test::fresh_dir();
  nlohmann::json config = nlohmann::json::parse(test::tiny_llama_config());
  config["vocab_size"] = int64_t{1} << 32;
  config["hidden_size"] = 64;
  config["torch_dtype"] = "float32";
  test::write_file(dir / "config.json", config.dump());
  // The embedding alone: 2^32 x 64 floats, 1 TiB; the file holds only its header.
  const nlohmann::json header = {{"model.embed_tokens.weight",
                                  {{"dtype", "F32"}, {"shape", {int64_t{1} << 32, 64}}, {"data_offsets", {0, int64_t{1} << 40}}}}};
  test::write_file(dir / "model.safetensors", test::safetensors_bytes(header.dump(), ""));
  const fs::path bin = fs::path(std::getenv("DUO_BIN_DIR")) / "duo-generate";
  for (const std::string source : {"--random-config " + (dir / "config.json").string(), "--model " + dir.string()}) {
    const std::string cmd = bin.string() + " " + source + " --ids 1 -n 1 >" + (dir / "out").string() + " 2>" +
                            (dir / "err").string();
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << source;
    const std::string err = test::read_file(dir / "err");
    EXPECT_TRUE(std::regex_match(err, std::regex("duo-generate: error: " + (dir / "config.json").string() +
                                                 ": the model needs 2\\.0 TiB for its weights in fp32, but this "
                                                 "machine has [0-9.]+ [GT]iB of memory\n")))
        << source << ": " << err;
  }
}

}  // namespace
}  // namespace duo
