// Test helpers (see model_test_util.h).
#include "model_test_util.h"

#include <ftw.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"

namespace duo::test {

at::Tensor read_tensor(const SafetensorsFile& file, const std::string& name) {
  const StTensor* t = file.find(name);
  if (!t) throw Error(file.path(), "no tensor " + name);
  at::ScalarType type;
  switch (t->dtype) {
    case StDtype::F32: type = at::kFloat; break;
    case StDtype::BF16: type = at::kBFloat16; break;
    case StDtype::I64: type = at::kLong; break;
    default: throw Error(file.path(), "unexpected dtype for " + name);
  }
  at::Tensor out = at::empty(t->shape, at::TensorOptions().dtype(type));
  std::memcpy(out.data_ptr(), file.data(*t), t->end - t->begin);
  return out;
}

std::string safetensors_bytes(const std::string& header_json, const std::string& data) {
  std::string header = header_json;
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string safetensors_bytes(const std::vector<StEntry>& entries) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  std::string data;
  for (const StEntry& e : entries) {
    h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data += e.bytes;
  }
  return safetensors_bytes(h.dump(), data);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// libtorch.so exports its own copies of some std::filesystem functions, and its remove_all
// crashes when called from a program linked against it; so directories are removed with nftw.
void remove_tree(const std::filesystem::path& dir) {
  ::nftw(
      dir.c_str(), [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string leaf = std::string(info->test_suite_name()) + "." + info->name() + (name.empty() ? "" : "." + name);
  for (char& c : leaf)
    if (c == '/') c = '_';
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "duo-model-tests" / leaf;
  remove_tree(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<StEntry> tiny_llama_tensors() {
  auto f32 = [](const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = 0.01f * static_cast<float>((i * 7919) % 23 - 11);
    return StEntry{name, "F32", shape, std::string(reinterpret_cast<const char*>(v.data()), n * 4)};
  };
  return {
      f32("model.embed_tokens.weight", {16, 8}),
      f32("model.layers.0.input_layernorm.weight", {8}),
      f32("model.layers.0.self_attn.q_proj.weight", {8, 8}),
      f32("model.layers.0.self_attn.k_proj.weight", {8, 8}),
      f32("model.layers.0.self_attn.v_proj.weight", {8, 8}),
      f32("model.layers.0.self_attn.o_proj.weight", {8, 8}),
      f32("model.layers.0.post_attention_layernorm.weight", {8}),
      f32("model.layers.0.mlp.gate_proj.weight", {12, 8}),
      f32("model.layers.0.mlp.up_proj.weight", {12, 8}),
      f32("model.layers.0.mlp.down_proj.weight", {8, 12}),
      f32("model.norm.weight", {8}),
      f32("lm_head.weight", {16, 8}),
  };
}

std::string tiny_llama_config(const std::string& architecture) {
  nlohmann::json c = {{"architectures", {architecture}}, {"hidden_size", 8}, {"intermediate_size", 12},
                      {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"num_key_value_heads", 2},
                      {"vocab_size", 16}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0},
                      {"max_position_embeddings", 64}, {"hidden_act", "silu"}, {"eos_token_id", 2},
                      {"tie_word_embeddings", false}};
  return c.dump(2);
}

void write_tiny_checkpoint(const std::filesystem::path& dir, const std::vector<StEntry>& tensors) {
  write_file(dir / "config.json", tiny_llama_config());
  write_file(dir / "model.safetensors", safetensors_bytes(tensors));
}

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected duo::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected a duo::Error";
}

}  // namespace duo::test
