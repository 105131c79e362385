// duo-generate: loads a Hugging Face checkpoint (or a random model from a config.json), greedily
// generates N tokens from a prompt, and can dump the prompt's final hidden states and logits to
// .npy or HDF5, so that a user can check a model loads and runs right against another tool.
#include <CLI/CLI.hpp>
#include <hdf5.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "history/hdf5_util.h"
#include "model/decoder.h"
#include "model/llama.h"
#include "model/model_memory.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/path_check.h"
#include "util/text_file.h"

namespace {

namespace fs = std::filesystem;

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0)
      throw duo::Error("--ids: '" + item + "' is not a token id (expected comma-separated integers)");
    ids.push_back(v);
  }
  if (ids.empty()) throw duo::Error("--ids: no token ids given");
  return ids;
}

at::ScalarType parse_dtype(const std::string& name, const std::string& stored) {
  const std::string n = name == "auto" ? stored : name;
  if (n == "bf16" || n == "bfloat16") return at::kBFloat16;
  if (n == "fp16" || n == "float16") return at::kHalf;
  if (n == "fp32" || n == "float32") return at::kFloat;
  if (name == "auto") return at::kFloat;  // no torch_dtype, or one duo does not compute in
  throw duo::Error("--dtype: '" + name + "' is not one of auto, bf16, fp16, fp32");
}

// NumPy .npy version 1.0: magic, header length, a Python dict literal padded so that the data
// starts on a 64-byte boundary, then the raw little-endian float32 values in C order.
void write_npy(const fs::path& path, const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  std::string shape;
  for (int64_t d : c.sizes()) shape += std::to_string(d) + ", ";
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  const uint16_t hlen = static_cast<uint16_t>(dict.size());
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(hlen & 0xff);
  header += static_cast<char>(hlen >> 8);
  header += dict;
  // A temporary file renamed into place: a full disk is one error naming the file.
  const std::string_view parts[] = {header, std::string_view(static_cast<const char*>(c.data_ptr()), c.numel() * 4)};
  duo::write_file_parts(path, parts);
}

// Built in memory (HDF5's core driver) and written by write_text_file, so that a full disk is one
// error naming the file (HDF5 writing to the disk itself crashed at exit when its close failed).
void write_h5(const fs::path& path, const at::Tensor& hidden, const at::Tensor& logits) {
  namespace h5 = duo::h5;
  h5::silence_errors();
  h5::Id file = h5::create_memory_file(path);
  for (auto [name, t] : {std::pair{"hidden", hidden}, std::pair{"logits", logits}}) {
    at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
    std::vector<hsize_t> dims(c.sizes().begin(), c.sizes().end());
    const std::string what = std::string("cannot write dataset '") + name + "'";
    h5::Id space(h5::check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), path, what));
    h5::Id set(h5::check(H5Dcreate2(file.get(), name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT),
                         path, what));
    h5::check_status(H5Dwrite(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data_ptr()), path, what);
  }
  duo::write_text_file(path, h5::finish_memory_file(std::move(file), path));
}

// The files --dump writes: FILE.hidden.npy and FILE.logits.npy for FILE.npy, FILE.h5 itself,
// none without --dump.
std::vector<fs::path> dump_files(const fs::path& dump) {
  if (dump.empty()) return {};
  if (dump.extension() != ".npy") return {dump};
  fs::path stem = dump;
  stem.replace_extension();
  return {stem.string() + ".hidden.npy", stem.string() + ".logits.npy"};
}

std::string join(const std::vector<int64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-generate", [&]() -> int {
    CLI::App app{
        "Load a Hugging Face Llama-family checkpoint, greedily generate tokens from a prompt, and "
        "optionally dump the prompt's final hidden states and logits."};
    std::string model_dir, random_config, tokenizer_dir, dtype_name = "auto", device_name = "cpu";
    std::string ids_text, prompt, dump;
    uint64_t seed = 0;
    int64_t n = 32, chunk = 4096;
    bool ignore_eos = false;
    auto* model_opt = app.add_option("--model", model_dir,
                                     "checkpoint directory: config.json plus model.safetensors or sharded "
                                     "weights with model.safetensors.index.json");
    auto* random_opt = app.add_option("--random-config", random_config,
                                      "build a model with random weights from this config.json instead");
    model_opt->excludes(random_opt);
    app.add_option("--seed", seed, "seed of the random weights (with --random-config)")->default_val(0);
    app.add_option("--dtype", dtype_name,
                   "auto (the checkpoint's torch_dtype), bf16, fp16 or fp32: weights are cast to it on load")
        ->default_val("auto");
    app.add_option("--device", device_name, "cpu or cuda")->default_val("cpu");
    auto* ids_opt = app.add_option("--ids", ids_text, "the prompt as comma-separated token ids, e.g. 1,2,3");
    auto* prompt_opt = app.add_option("--prompt", prompt,
                                      "the prompt as text, encoded with the tokenizer (BOS added as the "
                                      "tokenizer's config says)");
    ids_opt->excludes(prompt_opt);
    app.add_option("--tokenizer", tokenizer_dir,
                   "folder with tokenizer.json (default: the --model directory); needed for --prompt and to "
                   "print text");
    app.add_option("-n,--max-new-tokens", n, "number of tokens to generate (0: only run the prompt)")
        ->default_val(32)
        ->check(CLI::NonNegativeNumber);
    app.add_option("--chunk", chunk, "prefill the prompt in chunks of this many tokens")
        ->default_val(4096)
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
    app.add_flag("--ignore-eos", ignore_eos, "keep generating after an end-of-sequence token");
    app.add_option("--dump", dump,
                   "write the prompt's final hidden states [T, H] and logits [T, V] as float32: FILE.npy "
                   "gives FILE.hidden.npy and FILE.logits.npy; FILE.h5 gives one HDF5 file with datasets "
                   "'hidden' and 'logits'");
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      throw duo::Error(std::string(e.what()) + " (see --help)");
    }
    if (model_dir.empty() && random_config.empty()) throw duo::Error("give --model DIR or --random-config FILE");
    if (ids_text.empty() && prompt.empty()) throw duo::Error("give a prompt: --ids 1,2,3 or --prompt TEXT");
    const fs::path dump_path = dump;
    if (!dump.empty() && dump_path.extension() != ".npy" && dump_path.extension() != ".h5")
      throw duo::Error("--dump: '" + dump + "' must end in .npy or .h5");
    // Every path before the model loads, so that a wrong one is not found after the run.
    if (!model_dir.empty()) duo::require_directory(model_dir, "--model", "a checkpoint directory");
    if (!random_config.empty()) duo::require_file(random_config, "--random-config", "a config.json file");
    if (!tokenizer_dir.empty()) duo::require_directory(tokenizer_dir, "--tokenizer", "a tokenizer directory");
    const std::vector<fs::path> dumps = dump_files(dump_path);
    for (const fs::path& file : dumps) duo::prepare_output_file(file, "--dump");

    at::Device device(at::kCPU);
    if (device_name == "cuda") {
      if (!at::hasCUDA()) throw duo::Error("--device cuda: no CUDA device is available");
      device = at::Device(at::kCUDA);
    } else if (device_name != "cpu") {
      throw duo::Error("--device: '" + device_name + "' is not cpu or cuda");
    }

    // The tokenizer is optional unless the prompt is text: without one, only ids are printed.
    std::optional<duo::Tokenizer> tokenizer;
    const fs::path tok_dir = !tokenizer_dir.empty() ? fs::path(tokenizer_dir) : fs::path(model_dir);
    if (!tokenizer_dir.empty() || !prompt.empty() || (!model_dir.empty() && fs::exists(tok_dir / "tokenizer.json"))) {
      if (tok_dir.empty()) throw duo::Error("--prompt needs --tokenizer DIR with a random model");
      tokenizer = duo::Tokenizer::from_dir(tok_dir);
    }

    duo::LlamaModel model = [&] {
      const fs::path config_json = random_config.empty() ? fs::path(model_dir) / "config.json" : fs::path(random_config);
      const duo::ModelConfig cfg = duo::load_model_config(config_json);
      const at::ScalarType dtype = parse_dtype(dtype_name, cfg.torch_dtype);
      // One line saying what the weights need and what the device has, not the allocator's trace.
      duo::check_weights_fit(cfg, dtype, device, config_json);
      if (!random_config.empty()) return duo::LlamaModel::random(cfg, seed, dtype, device);
      return duo::LlamaModel::load(model_dir, dtype, device);
    }();

    std::vector<int64_t> ids;
    if (!prompt.empty()) {
      for (int32_t id : tokenizer->encode(prompt)) ids.push_back(id);
    } else {
      ids = parse_ids(ids_text);
    }

    // duo attends over the whole context in every layer (docs/models.md); past a model's
    // sliding window that differs from the reference implementation, so say so.
    const int64_t window = model.config().sliding_window;
    if (window > 0 && static_cast<int64_t>(ids.size()) + n > window)
      std::cerr << "duo-generate: note: " << ids.size() + n << " tokens exceed the model's sliding_window of "
                << window << "; duo attends over the whole context\n";

    // Past max_position_embeddings a model runs on positions it was not trained for. A warning,
    // not a refusal: running a model past it (RoPE extrapolation, a config.json that understates
    // its context) is a legitimate experiment, and the tokens still come out.
    const int64_t positions = model.config().max_position_embeddings;
    if (positions > 0 && static_cast<int64_t>(ids.size()) + n > positions)
      std::cerr << "duo-generate: warning: the prompt's " << ids.size() << " tokens + " << n << " new ones ("
                << ids.size() + n << ") exceed the model's max_position_embeddings of " << positions << " ("
                << (random_config.empty() ? (fs::path(model_dir) / "config.json").string() : random_config)
                << "); past it the model runs on positions it was not trained for\n";

    duo::GenerateOptions opts;
    opts.max_new_tokens = n;
    opts.stop_at_eos = !ignore_eos;
    opts.keep_prompt_outputs = !dump.empty();
    opts.chunk = chunk;
    duo::Generation g = duo::generate_greedy(model, ids, opts);

    std::cout << "prompt: " << join(ids) << "\n";
    std::cout << "generated: " << join(g.tokens) << "\n";
    if (tokenizer) {
      std::vector<int32_t> t32(g.tokens.begin(), g.tokens.end());
      std::cout << "text: " << tokenizer->decode(t32) << "\n";
    }
    if (dumps.size() == 2) {
      write_npy(dumps[0], g.prompt_hidden);
      write_npy(dumps[1], g.prompt_logits);
    } else if (dumps.size() == 1) {
      write_h5(dumps[0], g.prompt_hidden, g.prompt_logits);
    }
    return 0;
  });
}
