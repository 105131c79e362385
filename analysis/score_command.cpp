#include "analysis/score_command.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "analysis/head_scores.h"
#include "analysis/on_the_fly_scores.h"
#include "model/llama.h"
#include "model/model_config.h"
#include "model/model_memory.h"
#include "synth/haystack.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/path_check.h"

namespace duo::analysis {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Samples given as token ids, one JSON object a line with an "ids" list (what
// `duo-tokenize --jsonl` writes), each checked against the model's vocabulary and positions.
std::vector<std::vector<int32_t>> read_id_samples(const fs::path& path, const ModelConfig& cfg, int64_t limit) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot be read");
  std::vector<std::vector<int32_t>> samples;
  std::string line;
  for (int64_t number = 1; std::getline(in, line) && int64_t(samples.size()) < limit; ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(number);
    const json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("ids") || !doc["ids"].is_array() || doc["ids"].empty())
      throw Error(where + ": expected a JSON object with a non-empty \"ids\" list");
    if (int64_t(doc["ids"].size()) > cfg.max_position_embeddings)
      throw Error(where + ": " + std::to_string(doc["ids"].size()) + " ids, more than the model's " +
                  std::to_string(cfg.max_position_embeddings) + " positions");
    std::vector<int32_t> ids;
    for (const json& v : doc["ids"]) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= cfg.vocab_size)
        throw Error(where + ": id " + v.dump() + " is not in the model's vocabulary [0, " +
                    std::to_string(cfg.vocab_size) + ")");
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    samples.push_back(std::move(ids));
  }
  if (samples.empty()) throw Error(path, "holds no samples");
  return samples;
}

// Samples cut from the haystack: consecutive spans of `tokens` tokens, each after the
// tokenizer's own leading special tokens (a BOS where it has one), as a document would start.
std::vector<std::vector<int32_t>> haystack_samples(const ScoreOptions& o, const Tokenizer& tokenizer) {
  synth::HaystackSource source;
  source.files = o.text;
  source.format = o.jsonl ? synth::HaystackFormat::jsonl : synth::HaystackFormat::text;
  const std::vector<int32_t> stream =
      synth::tokenize_haystack(synth::read_haystack_documents(source), tokenizer, o.samples * o.sample_tokens);
  if (int64_t(stream.size()) < o.samples * o.sample_tokens)
    throw Error((o.text.empty() ? std::string("the KJV Bible") : "--text") + " holds " +
                std::to_string(stream.size()) + " tokens, fewer than --samples x --sample-tokens = " +
                std::to_string(o.samples * o.sample_tokens) + "; give more text or ask for fewer tokens");
  const std::vector<int32_t> prefix = tokenizer.encode("", /*add_special_tokens=*/true);
  std::vector<std::vector<int32_t>> samples;
  for (int64_t i = 0; i < o.samples; ++i) {
    std::vector<int32_t> s = prefix;
    s.insert(s.end(), stream.begin() + i * o.sample_tokens, stream.begin() + (i + 1) * o.sample_tokens);
    samples.push_back(std::move(s));
  }
  return samples;
}

std::string model_name(const fs::path& dir) {
  const fs::path clean = dir.lexically_normal();
  return clean.filename().empty() ? clean.parent_path().filename().string() : clean.filename().string();
}

}  // namespace

ScoreCommand::ScoreCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "score",
      "Head scores without gate training, written as a head-score file (docs/head-scores.md) that pattern, export, "
      "compare, plot, attention and sweep read as gates. --method on-the-fly is NVIDIA kvpress's on-the-fly "
      "DuoAttention scoring: per layer and head, the samples' mean query and mean key, repeated over --q-len "
      "positions with RoPE; the last query's attention over them, and the area under its cumulated curve "
      "(near 1: attends to distant tokens, a retrieval head; near 0: to recent ones), mean over a KV head's query "
      "heads and the samples. Samples: --ids (JSONL of token ids), else --samples spans of --sample-tokens tokens "
      "of the --text haystack (default: the KJV Bible), each after the tokenizer's BOS.");
  ScoreOptions& o = options_;
  command_->add_option("--method", o.method, "on-the-fly")->capture_default_str()->check(CLI::IsMember({"on-the-fly"}));
  command_->add_option("--model,-m", o.model, "Hugging Face checkpoint directory")->required();
  command_->add_option("--out,-o", o.out, "head-score file to write (.json)")->required();
  command_->add_option("--ids", o.ids, "samples as token ids: JSONL, one {\"ids\": [...]} a line (duo-tokenize --jsonl)");
  command_->add_option("--text", o.text, "haystack text files the samples are cut from (default: the KJV Bible)");
  command_->add_flag("--jsonl", o.jsonl, "--text files are JSONL with the text in \"text\"");
  command_->add_option("--samples,-n", o.samples, "samples (the first N of --ids, or spans of the haystack)")
      ->capture_default_str();
  command_->add_option("--sample-tokens", o.sample_tokens, "tokens per haystack span")->capture_default_str();
  command_->add_option("--q-len", o.q_len, "positions the mean query and key are repeated over (kvpress: 500)")
      ->capture_default_str();
  command_->add_option("--dtype", o.dtype, "auto (fp32 on the CPU, bf16 on a GPU), bf16, fp16 or fp32")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "bf16", "fp16", "fp32"}));
  command_->add_option("--device", o.device, "auto, cpu or cuda")->capture_default_str()->check(
      CLI::IsMember({"auto", "cpu", "cuda"}));
}

void ScoreCommand::run() const {
  const ScoreOptions& o = options_;
  if (o.samples < 1) throw Error("--samples " + std::to_string(o.samples) + ": must be at least 1");
  if (o.sample_tokens < 1 || o.sample_tokens > (int64_t(1) << 24))
    throw Error("--sample-tokens " + std::to_string(o.sample_tokens) + ": expected an integer in [1, 16777216]");
  if (o.q_len < 1 || o.q_len > (int64_t(1) << 24))
    throw Error("--q-len " + std::to_string(o.q_len) + ": expected an integer in [1, 16777216]");
  if (!o.ids.empty() && !o.text.empty()) throw Error("--ids and --text: give one source of samples, not both");
  require_directory(o.model, "--model", "a checkpoint directory");
  if (!o.ids.empty()) require_file(o.ids, "--ids", "a JSONL file of token ids");
  for (const fs::path& t : o.text) require_file(t, "--text", "a text file");
  prepare_output_file(o.out, "--out");
  const fs::path config_json = o.model / "config.json";
  const ModelConfig declared = load_model_config(config_json);

  const bool cuda = torch::cuda::is_available();
  if (o.device == "cuda" && !cuda) throw Error("--device cuda: no CUDA device is available");
  const at::Device device = o.device == "cpu" || (o.device == "auto" && !cuda) ? at::Device(at::kCPU)
                                                                              : at::Device(at::kCUDA, 0);
  const at::ScalarType dtype = o.dtype == "bf16"   ? at::kBFloat16
                               : o.dtype == "fp16" ? at::kHalf
                               : o.dtype == "fp32" ? at::kFloat
                               : device.is_cuda()  ? at::kBFloat16
                                                   : at::kFloat;

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::vector<int32_t>> samples;
  if (!o.ids.empty()) {
    samples = read_id_samples(o.ids, declared, o.samples);
  } else {
    samples = haystack_samples(o, Tokenizer::from_dir(o.model));
    if (int64_t(samples.front().size()) > declared.max_position_embeddings)
      throw Error("--sample-tokens " + std::to_string(o.sample_tokens) + ": longer than the model's " +
                  std::to_string(declared.max_position_embeddings) + " positions (" + config_json.string() + ")");
  }
  check_weights_fit(declared, dtype, device, config_json, /*with_lm_head=*/false);
  const LlamaModel model = LlamaModel::load(o.model, dtype, device, /*with_lm_head=*/false);
  const ModelConfig& cfg = model.config();
  std::cout << "model      " << o.model.string() << ": " << cfg.num_hidden_layers << " layers, "
            << cfg.num_attention_heads << " query heads, " << cfg.num_key_value_heads << " KV heads, "
            << (dtype == at::kFloat ? "fp32" : dtype == at::kHalf ? "fp16" : "bf16") << " on " << device.str() << "\n"
            << "samples    " << samples.size() << (o.ids.empty() ? " haystack spans" : " from " + o.ids.string())
            << "; q_len " << o.q_len << "\n"
            << std::flush;

  HeadScores s;
  s.method = o.method;
  s.description = "kvpress on-the-fly DuoAttention scores: area under the cumulated attention of the mean query "
                  "over the mean key repeated at q_len positions with RoPE; mean over query heads and samples";
  s.model_name = model_name(o.model);
  s.num_layers = static_cast<int>(cfg.num_hidden_layers);
  s.num_kv_heads = static_cast<int>(cfg.num_key_value_heads);
  s.num_heads = static_cast<int>(cfg.num_attention_heads);
  s.fold = "mean";
  s.scores = on_the_fly_scores(model, samples, o.q_len);
  s.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json options{{"q_len", o.q_len}, {"samples", samples.size()}, {"dtype", o.dtype}, {"device", device.str()}};
  if (!o.ids.empty()) options["ids"] = o.ids.string();
  else options["sample_tokens"] = o.sample_tokens;
  s.options_json = options.dump();

  const int H = s.num_kv_heads;
  std::printf("scores (layers x KV heads; higher: more of a retrieval head)\n  layer");
  for (int h = 0; h < H; ++h) std::printf(" %7s", ("kv" + std::to_string(h)).c_str());
  std::printf("\n");
  for (int l = 0; l < s.num_layers; ++l) {
    std::printf("  %5d", l);
    for (int h = 0; h < H; ++h) std::printf(" %7.4f", s.scores[size_t(l) * H + h]);
    std::printf("\n");
  }
  std::fflush(stdout);
  write_head_scores(o.out, s);
  std::cout << "took       " << s.wall_seconds << " s (model load included)\nwrote      " << o.out.string() << "\n";
}

}  // namespace duo::analysis
