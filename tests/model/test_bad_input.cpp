// Bad checkpoints: each case the issue lists must end in one duo::Error naming the file and
// the problem (never a crash or another exception type).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "util/error.h"
#include "model/llama.h"
#include "model_test_util.h"

namespace duo {
namespace {

// A libtorch error reaches a user as its message alone: c10 appends the C++ stack frames.
TEST(UserMessage, DropsLibtorchStackFrames) {
  try {
    at::zeros({2, 3}).view({7});
    FAIL() << "view to a wrong size did not throw";
  } catch (const std::exception& e) {
    const std::string full = e.what(), shown = user_message(e);
    EXPECT_NE(shown.find("shape '[7]' is invalid"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("frame #"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("Exception raised from"), std::string::npos) << shown;
    EXPECT_LE(shown.size(), full.size());
  }
  EXPECT_EQ(user_message(std::runtime_error("plain")), "plain");
  // The allocator's enforce failure carries frames without "Exception raised from".
  try {
    at::empty({int64_t{1} << 60}, at::kByte);
    FAIL() << "an exabyte was allocated";
  } catch (const std::exception& e) {
    const std::string shown = user_message(e);
    EXPECT_NE(shown.find("can't allocate memory"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("frame #"), std::string::npos) << shown;
    EXPECT_EQ(shown.find('\n'), std::string::npos) << shown;
  }
}

using test::expect_error;

void load(const std::filesystem::path& dir) { LlamaModel::load(dir, at::kFloat, at::kCPU); }

TEST(ModelBadInput, TinyCheckpointLoads) {  // the baseline every case below damages
  auto dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  LlamaModel m = LlamaModel::load(dir, at::kFloat, at::kCPU);
  EXPECT_EQ(m.config().num_hidden_layers, 1);
}

TEST(ModelBadInput, MissingConfigJson) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "model.safetensors", test::safetensors_bytes(test::tiny_llama_tensors()));
  expect_error([&] { load(dir); }, {"config.json", "missing"});
}

TEST(ModelBadInput, MissingDirectory) {
  auto dir = test::fresh_dir() / "nowhere";
  expect_error([&] { load(dir); }, {"nowhere", "not a checkpoint directory"});
}

TEST(ModelBadInput, MissingWeightFile) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  expect_error([&] { load(dir); }, {dir.string(), "neither model.safetensors nor model.safetensors.index.json"});
}

TEST(ModelBadInput, UnknownArchitecture) {
  auto dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  test::write_file(dir / "config.json", test::tiny_llama_config("GPT2LMHeadModel"));
  expect_error([&] { load(dir); }, {"config.json", "unknown architecture 'GPT2LMHeadModel'"});
}

TEST(ModelBadInput, ConfigJsonNotJson) {
  auto dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  test::write_file(dir / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"");
  expect_error([&] { load(dir); }, {"config.json", "not valid JSON"});
}

TEST(ModelBadInput, ConfigKeyMissing) {
  auto dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  auto c = nlohmann::json::parse(test::tiny_llama_config());
  c.erase("hidden_size");
  test::write_file(dir / "config.json", c.dump());
  expect_error([&] { load(dir); }, {"config.json", "\"hidden_size\" is missing"});
}

TEST(ModelBadInput, TensorMissing) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t.erase(t.begin() + 8);  // mlp.up_proj
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); }, {"model.safetensors", "tensor 'model.layers.0.mlp.up_proj.weight' is missing"});
}

TEST(ModelBadInput, TensorOfWrongShape) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t[7].shape = {8, 12};  // gate_proj transposed: same bytes, wrong shape
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); },
               {"model.safetensors", "'model.layers.0.mlp.gate_proj.weight' has shape [8, 12], expected [12, 8]"});
}

TEST(ModelBadInput, TensorOfWrongDtype) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t[2].dtype = "I32";  // same byte size, so the header itself is consistent
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); },
               {"model.safetensors", "'model.layers.0.self_attn.q_proj.weight' has dtype I32", "BF16, F16 or F32"});
}

TEST(ModelBadInput, UnknownDtypeInHeader) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t[2].dtype = "F31";
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); }, {"model.safetensors", "unknown dtype 'F31'"});
}

TEST(ModelBadInput, TruncatedFile) {
  auto dir = test::fresh_dir();
  test::write_tiny_checkpoint(dir, test::tiny_llama_tensors());
  std::string bytes = test::read_file(dir / "model.safetensors");
  test::write_file(dir / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  expect_error([&] { load(dir); }, {"model.safetensors", "lm_head.weight", "truncated"});
  // Cut inside the header too.
  test::write_file(dir / "model.safetensors", bytes.substr(0, 50));
  expect_error([&] { load(dir); }, {"model.safetensors", "header length", "exceeds"});
  test::write_file(dir / "model.safetensors", bytes.substr(0, 5));
  expect_error([&] { load(dir); }, {"model.safetensors", "shorter than the 8-byte header length"});
}

TEST(ModelBadInput, HeaderLiesAboutSize) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t[1].shape = {9};  // 9 floats claimed, 8 stored
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); },
               {"model.safetensors", "'model.layers.0.input_layernorm.weight'", "span 32 bytes", "need 36"});
}

TEST(ModelBadInput, HeaderLiesAboutOffsets) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::string data(64, '\0');
  // Two tensors sharing bytes.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                                           R"("b":{"dtype":"F32","shape":[8],"data_offsets":[16,48]}})",
                                           data));
  expect_error([&] { load(dir); }, {"model.safetensors", "'a' and 'b' overlap"});
  // Offsets past the end of the data.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[32],"data_offsets":[0,128]}})", data));
  expect_error([&] { load(dir); }, {"model.safetensors", "'a'", "past the end of the data area"});
  // Offsets backwards.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[32,0]}})", data));
  expect_error([&] { load(dir); }, {"model.safetensors", "'a'", "backwards"});
  // A header length far beyond the file.
  std::string bytes = test::safetensors_bytes(test::tiny_llama_tensors());
  bytes[6] = 1;
  test::write_file(dir / "model.safetensors", bytes);
  expect_error([&] { load(dir); }, {"model.safetensors", "header length", "exceeds"});
}

// The data area must be covered exactly by the tensors, as the reference library requires.
TEST(ModelBadInput, HeaderLengthOneByteShortIsRefused) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> t = test::tiny_llama_tensors();
  std::string bytes = test::safetensors_bytes(t);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  // Re-pad so the JSON ends in spaces: one byte less of header is still valid JSON.
  const std::string padded = test::safetensors_bytes(bytes.substr(8, n) + "        ", bytes.substr(8 + n));
  bytes = padded;
  n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(((n - 1) >> (8 * i)) & 0xff);
  test::write_file(dir / "model.safetensors", bytes);
  expect_error([&] { load(dir); }, {"model.safetensors", "not fully covered", "tensors end at data offset"});
  test::write_file(dir / "model.safetensors", padded);
  EXPECT_NO_THROW(load(dir));
}

TEST(ModelBadInput, TrailingBytesAfterTheLastTensorAreRefused) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  test::write_file(dir / "model.safetensors", test::safetensors_bytes(test::tiny_llama_tensors()) + "junk");
  expect_error([&] { load(dir); }, {"model.safetensors", "not fully covered", "the data area holds", "trailing bytes"});
}

TEST(ModelBadInput, GapsAreRefused) {
  auto dir = test::fresh_dir();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  const std::string data(68, '\0');
  // Four bytes between 'a' and 'b'.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                                           R"("b":{"dtype":"F32","shape":[8],"data_offsets":[36,68]}})",
                                           data));
  expect_error([&] { load(dir); }, {"model.safetensors", "tensor 'b' starts at data offset 36, but 'a' ends at 32",
                                    "4 bytes belong to no tensor"});
  // Four bytes before the first tensor.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[4,36]}})",
                                           data.substr(0, 36)));
  expect_error([&] { load(dir); }, {"tensor 'a' starts at data offset 4, but the data area starts at 0"});
  // An empty tensor takes no bytes, but sits inside another one's.
  test::write_file(dir / "model.safetensors",
                   test::safetensors_bytes(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                                           R"("e":{"dtype":"F32","shape":[0],"data_offsets":[16,16]}})",
                                           data.substr(0, 32)));
  expect_error([&] { load(dir); }, {"'a' and 'e' overlap"});
}

// Every tensor of the checkpoint must be one the model uses.
TEST(ModelBadInput, LayersBeyondConfigJsonAreRefused) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  // A second layer: config.json says one.
  std::vector<test::StEntry> two = t;
  for (size_t i = 1; i <= 9; ++i) {
    auto e = t[i];
    e.name.replace(e.name.find(".0."), 3, ".1.");
    two.push_back(e);
  }
  test::write_tiny_checkpoint(dir, two);
  expect_error([&] { load(dir); },
               {"model.safetensors: tensor 'model.layers.1.input_layernorm.weight' is not used by the model "
                "config.json describes (9 unused tensors in all: config.json says num_hidden_layers 1, the weights "
                "hold 2 layers)"});

  // In a sharded checkpoint the shard holding it is named.
  auto sharded = test::fresh_dir("sharded");
  test::write_file(sharded / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> a(two.begin(), two.begin() + 12), b(two.begin() + 12, two.end());
  test::write_file(sharded / "model-00001-of-00002.safetensors", test::safetensors_bytes(a));
  test::write_file(sharded / "model-00002-of-00002.safetensors", test::safetensors_bytes(b));
  nlohmann::json map;
  for (size_t i = 0; i < two.size(); ++i)
    map[two[i].name] = i < 12 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  test::write_file(sharded / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error([&] { load(sharded); },
               {"model-00002-of-00002.safetensors: tensor 'model.layers.1.input_layernorm.weight' is not used"});
}

TEST(ModelBadInput, WeightsTheConfigDoesNotDescribeAreRefused) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  t.push_back({"model.layers.0.self_attn.q_proj.bias", "F32", {8}, std::string(32, '\0')});
  test::write_tiny_checkpoint(dir, t);
  expect_error([&] { load(dir); },
               {"model.safetensors: tensor 'model.layers.0.self_attn.q_proj.bias' is not used by the model config.json "
                "describes (1 unused tensor in all: config.json and the weights describe different models)"});
}

TEST(ModelBadInput, TensorsTransformersIgnoresAreAccepted) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  // Older checkpoints saved the rotary inverse frequencies of every layer.
  t.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {2}, std::string(8, '\0')});
  test::write_tiny_checkpoint(dir, t);
  EXPECT_NO_THROW(load(dir));
  // A tied model's lm_head.weight: transformers replaces it by the embedding.
  auto c = nlohmann::json::parse(test::tiny_llama_config());
  c["tie_word_embeddings"] = true;
  test::write_file(dir / "config.json", c.dump());
  LlamaModel tied = LlamaModel::load(dir, at::kFloat, at::kCPU);
  EXPECT_EQ(tied.named_weights().back().first, "model.norm.weight");
}

TEST(ModelBadInput, ShardHoldingATensorTheIndexPlacesElsewhereIsRefused) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> a(t.begin(), t.begin() + 6), b(t.begin() + 5, t.end());  // t[5] in both
  test::write_file(dir / "model-00001-of-00002.safetensors", test::safetensors_bytes(a));
  test::write_file(dir / "model-00002-of-00002.safetensors", test::safetensors_bytes(b));
  nlohmann::json map;
  for (size_t i = 0; i < t.size(); ++i)
    map[t[i].name] = i < 6 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  test::write_file(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error([&] { load(dir); }, {"model-00002-of-00002.safetensors: holds tensor '" + t[5].name +
                                        "', which model.safetensors.index.json places in "
                                        "model-00001-of-00002.safetensors"});
  map.erase(t[5].name);  // listed nowhere
  test::write_file(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error([&] { load(dir); }, {"holds tensor '" + t[5].name + "', which model.safetensors.index.json does not list"});
}

TEST(ModelBadInput, IndexNamesAbsentShard) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> first(t.begin(), t.begin() + 6);
  test::write_file(dir / "model-00001-of-00002.safetensors", test::safetensors_bytes(first));
  nlohmann::json map;
  for (size_t i = 0; i < t.size(); ++i)
    map[t[i].name] = i < 6 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  test::write_file(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error([&] { load(dir); },
               {"model.safetensors.index.json", "shard 'model-00002-of-00002.safetensors'", "absent"});
}

TEST(ModelBadInput, IndexPlacesTensorInShardThatLacksIt) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> most(t.begin(), t.end() - 1);
  test::write_file(dir / "model-00001-of-00001.safetensors", test::safetensors_bytes(most));
  nlohmann::json map;
  for (const auto& e : t) map[e.name] = "model-00001-of-00001.safetensors";
  test::write_file(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  expect_error([&] { load(dir); }, {"model-00001-of-00001.safetensors", "tensor 'lm_head.weight' is missing"});
}

TEST(ModelBadInput, ShardedCheckpointLoads) {
  auto dir = test::fresh_dir();
  auto t = test::tiny_llama_tensors();
  test::write_file(dir / "config.json", test::tiny_llama_config());
  std::vector<test::StEntry> a(t.begin(), t.begin() + 6), b(t.begin() + 6, t.end());
  test::write_file(dir / "model-00001-of-00002.safetensors", test::safetensors_bytes(a));
  test::write_file(dir / "model-00002-of-00002.safetensors", test::safetensors_bytes(b));
  nlohmann::json map;
  for (size_t i = 0; i < t.size(); ++i)
    map[t[i].name] = i < 6 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  test::write_file(dir / "model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  LlamaModel whole = [&] {
    auto d2 = test::fresh_dir("single");
    test::write_tiny_checkpoint(d2, t);
    return LlamaModel::load(d2, at::kFloat, at::kCPU);
  }();
  LlamaModel sharded = LlamaModel::load(dir, at::kFloat, at::kCPU);
  EXPECT_TRUE(at::equal(whole.layers()[0].w_down, sharded.layers()[0].w_down));
  EXPECT_TRUE(at::equal(whole.lm_head(whole.layers()[0].input_norm), sharded.lm_head(sharded.layers()[0].input_norm)));
}

}  // namespace
}  // namespace duo
