#include "analysis/attention_command.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include "analysis/attention_scores.h"
#include "analysis/compare.h"
#include "analysis/gate_set.h"
#include "analysis/head_scores.h"
#include "analysis/pattern.h"
#ifdef DUO_WITH_PLPLOT
#include "analysis/plot_heads.h"
#endif
#include "config/schema.h"
#include "history/history_reader.h"
#include "model/config_sections.h"
#include "model/head_pattern.h"
#include "model/llama.h"
#include "model/model_memory.h"
#include "model/model_config.h"
#include "synth/data_config.h"
#include "synth/passkey.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/path_check.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kCsvName = "attention_scores.csv";
constexpr const char* kJsonName = "attention_scores.json";
constexpr const char* kPlotName = "attention_scores.png";
constexpr const char* kCopyScoresName = "copy_scores.json";
constexpr int kJsonSchemaVersion = 1;

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string model_name(const fs::path& dir) {
  const fs::path clean = dir.lexically_normal();
  return clean.filename().empty() ? clean.parent_path().filename().string() : clean.filename().string();
}

bool is_history(const fs::path& p) { return !fs::is_directory(p) && p.extension() != ".json"; }

// What this command reads of a training configuration (configs/*.yaml, or the one a history
// recorded): the model and streaming sections (core/model) and the data section (data/synth), with
// duo-train's defaults. duo-train's own sections (gates, optim, run) are passed over: a file may
// hold them, unchecked here.
struct AttentionConfig {
  ModelSection model;
  synth::DataConfig data;
  StreamingWindow streaming = kTrainingWindow;

  fs::path tokenizer_dir() const { return synth::tokenizer_dir(data, model.path); }
};

config::Schema schema(AttentionConfig& c) {
  config::Schema s;
  s.add(model_section(c.model)).add(synth::data_section(c.data)).pass_over("gates");
  s.add(streaming_section(c.streaming)).pass_over("optim").pass_over("run");
  return s;
}

void check(const AttentionConfig& c, const std::string& source) {
  synth::check_data(c.data, {source});
  check_streaming(c.streaming, {source});
}

AttentionConfig load_config(const AttentionOptions& o) {
  AttentionConfig config;
  const config::Schema keys = schema(config);
  if (!o.config.empty()) {
    keys.load(o.config);
    check(config, o.config.string());
  } else if (!o.gates.empty() && is_history(o.gates)) {
    const HistoryReader history(o.gates);
    const std::string source = o.gates.string() + " (its recorded config)";
    keys.parse(history.meta().config_yaml, source);
    check(config, source);
  } else {
    throw Error("--config FILE is required (a training config such as configs/tiny.yaml), unless --gates names "
                "a duo-train history, whose recorded config is then used");
  }
  std::vector<std::string> sets = o.sets;
  if (!o.model.empty()) sets.push_back("model.path=" + o.model.string());
  for (const std::string& assignment : sets) keys.set(assignment);
  if (!sets.empty()) check(config, "the configuration after --set");
  if (config.model.path.empty())
    throw Error("model.path is empty: name a checkpoint directory in the config or with --model");
  return config;
}

at::ScalarType resolve_dtype(const std::string& option, Dtype from_config) {
  std::string name = option == "config" ? std::string(to_string(from_config)) : option;
  if (name == "bf16") return at::kBFloat16;
  if (name == "fp16") return at::kHalf;
  if (name == "fp32") return at::kFloat;
  throw Error("--dtype: expected config, bf16, fp16 or fp32, got " + option);
}

at::Device resolve_device(const std::string& option, DeviceChoice from_config) {
  std::string name = option == "config" ? std::string(to_string(from_config)) : option;
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda" && !cuda)
    throw Error(option == "config" ? "model.device is cuda, but no CUDA device is available (pass --device cpu)"
                                   : "--device cuda: no CUDA device is available");
  if (name == "cpu" || (name == "auto" && !cuda)) return at::kCPU;
  if (name == "cuda" || name == "auto") return {at::kCUDA, 0};
  throw Error("--device: expected config, auto, cpu or cuda, got " + option);
}

// Layers x KV heads of one measure, for the terminal.
std::string head_table(const std::vector<float>& v, int layers, int heads) {
  std::ostringstream out;
  char cell[32];
  out << "  layer";
  for (int h = 0; h < heads; ++h) {
    std::snprintf(cell, sizeof cell, " %7s", ("kv" + std::to_string(h)).c_str());
    out << cell;
  }
  out << "\n";
  for (int l = 0; l < layers; ++l) {
    std::snprintf(cell, sizeof cell, "  %5d", l);
    out << cell;
    for (int h = 0; h < heads; ++h) {
      std::snprintf(cell, sizeof cell, " %7.4f", v[size_t(l) * heads + h]);
      out << cell;
    }
    out << "\n";
  }
  return out.str();
}

json matrix(const std::vector<float>& v, int layers, int heads) {
  json rows = json::array();
  for (int l = 0; l < layers; ++l) {
    json row = json::array();
    for (int h = 0; h < heads; ++h) row.push_back(v[size_t(l) * heads + h]);
    rows.push_back(row);
  }
  return rows;
}

// The heads a pattern at `sparsity` keeps when `values` are taken as gates (duo-analyze
// pattern's rule: the largest, ties in (layer, head) order).
std::vector<uint8_t> top_heads(const std::vector<float>& values, int layers, int heads, double sparsity) {
  GateSet g;
  g.num_layers = layers;
  g.num_kv_heads = heads;
  g.gates = values;
  return select_by_sparsity(g, sparsity).retrieval;
}

void write_csv(const fs::path& path, const std::vector<float>& retrieval, const std::vector<float>& outside,
               const std::vector<float>& copy, int layers, int heads) {
  std::ostringstream out;
  out << "layer,kv_head,retrieval_score,outside_window_mass,copy_score\n";
  for (int l = 0; l < layers; ++l)
    for (int h = 0; h < heads; ++h) {
      const size_t i = size_t(l) * heads + h;
      out << l << ',' << h << ',' << fmt("%.9g", retrieval[i]) << ',' << fmt("%.9g", outside[i]) << ','
          << fmt("%.9g", copy[i]) << "\n";
    }
  write_text_file(path, out.str());
}

}  // namespace

AttentionCommand::AttentionCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "attention",
      "What the attention maps say about each head: run the model with full attention on held-out passkey "
      "samples (the data section of --config, a fresh --seed) and measure, per (layer, KV head), averaged over "
      "the KV head's query heads, the answer tokens and the samples: the retrieval score (attention mass that "
      "the queries predicting the answer's passkey tokens put on that passkey where it sits in the haystack) "
      "and the outside-window mass (attention mass of those queries beyond the first --sink tokens and the "
      "last --recent tokens: what a streaming head would lose). Writes <out>/attention_scores.csv, "
      "attention_scores.json and attention_scores.png; with --gates, also the Spearman rank correlation of "
      "the gates with each score and the overlap of the top heads by gate and by score. Definitions: "
      "docs/analysis.md.");
  auto& o = options_;
  command_->add_option("--config,-c", o.config,
                       "training config (configs/*.yaml, or a run's config.yaml): model section and the passkey "
                       "format of its data section; default: the config recorded in a --gates history");
  command_->add_option("--model,-m", o.model, "Hugging Face checkpoint directory (overrides model.path)");
  command_->add_option("--set,-s", o.sets, "override one config key, e.g. --set data.num_passkeys=4 (repeatable)");
  command_->add_option("--out,-o", o.out, "directory for the CSV, JSON and heatmap")->required();
  command_->add_option("--gates,-g", o.gates,
                       "gates to compare with: a duo-train history (.h5, last step), reference pattern directory "
                       "or pattern JSON");
  command_->add_option("--samples,-n", o.samples, "passkey samples per length (sample indices 0..N-1 of --seed)")
      ->capture_default_str();
  command_->add_option("--lengths", o.lengths,
                       "context lengths in tokens (default: the config's data.context_min and data.context_max)")
      ->delimiter(',');
  command_->add_option("--seed", o.seed, "passkey data seed (held out: differs from the training seeds shipped)")
      ->capture_default_str();
  sink_option_ = command_->add_option("--sink", o.sink,
                                      "window of the outside-window mass: first tokens (default: streaming.sink)");
  recent_option_ = command_->add_option("--recent", o.recent,
                       "window of the outside-window mass: most recent tokens, the query's own included "
                       "(default: streaming.recent)");
  command_->add_option("--sparsity", o.sparsity,
                       "with --gates: compare the top (1 - sparsity) share of KV heads by gate and by each score "
                       "(duo-analyze pattern's rule)")
      ->capture_default_str();
  command_->add_option("--dtype", o.dtype, "config (model.dtype), bf16, fp16 or fp32")->capture_default_str();
  command_->add_option("--device", o.device, "config (model.device), auto, cpu or cuda")->capture_default_str();
  command_->footer(
      "\nExample:\n  duo-analyze attention --config configs/tiny.yaml --model models/tiny --out runs/tiny/attention \\\n"
      "      --gates runs/tiny/history.h5\n");
}

void AttentionCommand::run() const {
  const AttentionOptions& o = options_;
  if (o.samples < 1) throw Error("--samples " + std::to_string(o.samples) + ": must be at least 1");
  for (int64_t len : o.lengths)
    if (len < 1) throw Error("--lengths: every length must be a positive number of tokens, got " + std::to_string(len));
  for (const auto& [given, value, name] : {std::tuple{sink_option_->count() > 0, o.sink, "--sink"},
                                            std::tuple{recent_option_->count() > 0, o.recent, "--recent"}})
    if (given && (value < 0 || value > kMaxWindowTokens))
      throw Error(std::string(name) + " " + std::to_string(value) + ": expected an integer in [0, " +
                  std::to_string(kMaxWindowTokens) + "]");
  check_sparsity(o.sparsity);

  // Every path before anything loads: the config's, the gates' shape against the model's, --out.
  const AttentionConfig config = load_config(o);
  check_model_path(config.model, o.model.empty() ? "model.path" : "--model");
  synth::check_data_paths(config.data);
  const fs::path model_dir = config.model.path;
  const fs::path config_json = model_dir / "config.json";
  const ModelConfig declared = load_model_config(config_json);
  std::optional<GateSet> gates;
  if (!o.gates.empty()) {
    gates = load_gates(o.gates);
    check_pattern_fits_model(gates->source, gates->num_layers, gates->num_kv_heads, declared, config_json);
  }
  prepare_output_directory(o.out, "--out");
  const int64_t sink = sink_option_->count() ? o.sink : config.streaming.sink;
  const int64_t recent = recent_option_->count() ? o.recent : config.streaming.recent;
  std::vector<int64_t> lengths = o.lengths;
  if (lengths.empty()) {
    lengths = {config.data.context_min};
    if (config.data.context_max != config.data.context_min) lengths.push_back(config.data.context_max);
  }

  const at::Device device = resolve_device(o.device, config.model.device);
  const at::ScalarType dtype = resolve_dtype(o.dtype, config.model.dtype);

  const auto started = std::chrono::steady_clock::now();
  // Every sample first: a length too short for a sample fails before the model loads.
  synth::PasskeyConfig data = config.data;
  data.seed = o.seed;
  // Explicit lengths are used: the generator only needs enough haystack for the longest.
  data.context_max = std::max(data.context_max, *std::max_element(lengths.begin(), lengths.end()));
  std::vector<synth::PasskeySample> samples_in;
  {
    const Tokenizer tokenizer = Tokenizer::from_dir(config.tokenizer_dir());
    const synth::PasskeyGenerator generator(data, tokenizer);
    for (int64_t len : lengths)
      for (int64_t i = 0; i < o.samples; ++i) samples_in.push_back(generator.sample(i, len));
  }

  check_weights_fit(declared, dtype, device, config_json);
  const LlamaModel model = config.model.random_config ? LlamaModel::random(declared, config.model.seed, dtype, device)
                                                      : LlamaModel::load(model_dir, dtype, device);
  const ModelConfig& shape = model.config();
  const int L = int(shape.num_hidden_layers), H = int(shape.num_key_value_heads);

  std::cout << "model      " << model_dir.string() << (config.model.random_config ? " (random weights)" : "") << ": "
            << L << " layers, " << shape.num_attention_heads << " query heads, " << H << " KV heads, "
            << (dtype == at::kFloat ? "fp32" : dtype == at::kHalf ? "fp16" : "bf16") << " on " << device.str() << "\n";
  std::cout << "samples    " << o.samples << " per length at";
  for (int64_t len : lengths) std::cout << " " << len;
  std::cout << " tokens (seed " << o.seed << ", " << data.num_passkeys << " passkeys of " << data.passkey_words
            << " words each)\n" << std::flush;

  HeadScoreSums total;
  std::map<int64_t, HeadScoreSums> by_length;
  json sample_records = json::array();
  ProgressBar bar("attention", int64_t(lengths.size()) * o.samples, 0, "tok", 10);
  int64_t done = 0;
  for (const synth::PasskeySample& s : samples_in) {
    const int64_t len = s.context_length;
    const HeadScoreSums sums = score_sample(model, s, sink, recent);
    total.add(sums);
    by_length[len].add(sums);
    sample_records.push_back({{"index", s.index}, {"length", len}, {"depths", s.depths}, {"answer_tokens", sums.rows},
                       {"answer_tokens_correct", sums.correct}});
    bar.update(++done, len, {{"len", std::to_string(len)}, {"sample", std::to_string(s.index)}});
  }
  bar.finish();

  const std::vector<float> retrieval = total.retrieval_score(), outside = total.outside_window_mass(),
                           copy = total.copy_score();
  std::cout << "scored     " << total.rows << " answer tokens (query rows) x " << total.group
            << " query heads per KV head; full attention predicts " << fmt("%.1f", 100 * total.answer_accuracy())
            << "% of them (greedy)\n"
            << "uniform    attention spread evenly over each query's keys would score "
            << fmt("%.4f", total.uniform_retrieval_score()) << " (retrieval) and "
            << fmt("%.4f", total.uniform_outside_window_mass()) << " (outside window)\n\n";
  std::cout << "retrieval score: attention mass on the needle's passkey from the queries predicting the answer\n"
            << head_table(retrieval, L, H) << "\n";
  std::cout << "outside-window mass: attention mass beyond sink " << sink << " + recent " << recent
            << " (what a streaming head loses)\n"
            << head_table(outside, L, H) << "\n";
  std::cout << "copy score (Wu et al.): share of answer tokens a head copies from the passkey by attending to it "
               "most, max over the KV head's query heads\n"
            << head_table(copy, L, H);

  json record;
  record["format"] = "duo-attention-scores";
  record["schema_version"] = kJsonSchemaVersion;
  record["model"] = model_dir.string();
  record["random_weights"] = config.model.random_config;
  record["config"] = o.config.empty() ? o.gates.string() + " (recorded config)" : o.config.string();
  record["num_layers"] = L;
  record["num_heads"] = shape.num_attention_heads;
  record["num_kv_heads"] = H;
  record["seed"] = o.seed;
  record["samples_per_length"] = o.samples;
  record["lengths"] = lengths;
  record["sink"] = sink;
  record["recent"] = recent;
  record["answer_tokens"] = total.rows;
  record["answer_token_accuracy"] = total.answer_accuracy();
  record["uniform_baseline"] = {{"retrieval_score", total.uniform_retrieval_score()},
                                {"outside_window_mass", total.uniform_outside_window_mass()}};
  record["retrieval_score"] = matrix(retrieval, L, H);
  record["outside_window_mass"] = matrix(outside, L, H);
  record["copy_score"] = matrix(copy, L, H);
  json per_length = json::array();
  for (const auto& [len, s] : by_length)
    per_length.push_back({{"length", len}, {"answer_tokens", s.rows}, {"answer_token_accuracy", s.answer_accuracy()},
                          {"uniform_baseline", {{"retrieval_score", s.uniform_retrieval_score()},
                                                {"outside_window_mass", s.uniform_outside_window_mass()}}},
                          {"retrieval_score", matrix(s.retrieval_score(), L, H)},
                          {"outside_window_mass", matrix(s.outside_window_mass(), L, H)},
                          {"copy_score", matrix(s.copy_score(), L, H)}});
  record["by_length"] = per_length;
  record["samples"] = sample_records;

  std::string lengths_text;
  for (int64_t len : lengths) lengths_text += (lengths_text.empty() ? "" : ", ") + std::to_string(len);
  std::vector<std::string> subtitles = {
      std::to_string(total.samples) + " samples of " + lengths_text + " tokens (seed " + std::to_string(o.seed) +
          "), " + std::to_string(total.rows) + " answer tokens",
      "window: sink " + std::to_string(sink) + " + recent " + std::to_string(recent) + " tokens",
      "outlined: the top " + fmt("%.0f", (1 - o.sparsity) * 100) +
          "% of KV heads by each measure; attention spread evenly would score " +
          fmt("%.3f", total.uniform_retrieval_score()) + " / " + fmt("%.3f", total.uniform_outside_window_mass())};
  std::string retrieval_note, outside_note;
  std::vector<uint8_t> top_retrieval = top_heads(retrieval, L, H, o.sparsity);
  std::vector<uint8_t> top_outside = top_heads(outside, L, H, o.sparsity);
  std::optional<Pattern> by_gate;
  if (gates) {
    by_gate = select_by_sparsity(*gates, o.sparsity);
    const double rho_r = spearman(gates->gates, retrieval), rho_o = spearman(gates->gates, outside);
    const double j_r = jaccard(by_gate->retrieval, top_retrieval), j_o = jaccard(by_gate->retrieval, top_outside);
    const int k = by_gate->retrieval_count();
    std::cout << "\ngates      " << o.gates.string() << (gates->step >= 0 ? " (step " + std::to_string(gates->step) + ")" : "")
              << "\n"
              << head_table(gates->gates, L, H);
    std::cout << "agreement  Spearman rank correlation over " << L * H << " KV heads: gate vs retrieval score "
              << fmt("%.4f", rho_r) << ", gate vs outside-window mass " << fmt("%.4f", rho_o) << "\n"
              << "           top " << k << " KV heads (sparsity " << fmt("%.2f", o.sparsity)
              << ") by gate vs by retrieval score: Jaccard " << fmt("%.4f", j_r) << "; vs by outside-window mass: "
              << fmt("%.4f", j_o) << "\n";
    record["gates"] = {{"source", o.gates.string()},
                       {"kind", gates->kind},
                       {"step", gates->step},
                       {"values", matrix(gates->gates, L, H)},
                       {"spearman", {{"retrieval_score", rho_r}, {"outside_window_mass", rho_o}}},
                       {"sparsity", o.sparsity},
                       {"top_k", k},
                       {"jaccard", {{"retrieval_score", j_r}, {"outside_window_mass", j_o}}}};
    retrieval_note = "vs gate: Spearman " + fmt("%.2f", rho_r) + ", Jaccard " + fmt("%.2f", j_r);
    outside_note = "vs gate: Spearman " + fmt("%.2f", rho_o) + ", Jaccard " + fmt("%.2f", j_o);
  }

  const fs::path csv = o.out / kCsvName, json_path = o.out / kJsonName;
  write_csv(csv, retrieval, outside, copy, L, H);
  write_text_file(json_path, record.dump(2) + "\n");
  // The copy score as a head-score file, which every subcommand takes as gates.
  HeadScores copies;
  copies.method = "retrieval-copy";
  copies.description = "Retrieval_Head's retrieval score (Wu et al., 2024) on passkeys: share of answer tokens a "
                       "head copies from the needle by attending to it most, max over a KV head's query heads";
  copies.model_name = model_name(model_dir);
  copies.num_layers = L;
  copies.num_kv_heads = H;
  copies.num_heads = int(shape.num_attention_heads);
  copies.fold = "max";
  copies.scores = copy;
  copies.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  copies.options_json = json{{"samples_per_length", o.samples}, {"lengths", lengths}, {"seed", o.seed}}.dump();
  write_head_scores(o.out / kCopyScoresName, copies);
  std::cout << "\nwrote      " << csv.string() << "\n           " << json_path.string() << "\n           "
            << (o.out / kCopyScoresName).string() << " (the copy score as a head-score file, " << fmt("%.1f", copies.wall_seconds)
            << " s)\n";
#ifdef DUO_WITH_PLPLOT
  std::vector<HeadPanel> panels;
  if (gates)
    panels.push_back({"gate", gates->step >= 0 ? "step " + std::to_string(gates->step) : "", gates->gates, 1.0,
                      by_gate->retrieval});
  panels.push_back({"retrieval score", retrieval_note, retrieval,
                    nice_scale_max(*std::max_element(retrieval.begin(), retrieval.end())), top_retrieval});
  panels.push_back({"outside-window mass", outside_note, outside,
                    nice_scale_max(*std::max_element(outside.begin(), outside.end())), top_outside});
  plot_head_panels(o.out / kPlotName, ImageFormat::png, L, H, panels,
                   "Attention of " + model_name(model_dir) + " on held-out passkeys", subtitles);
  std::cout << "           " << (o.out / kPlotName).string() << "\n";
#else
  std::cout << "           (built without PLplot: no heatmap)\n";
#endif
}

}  // namespace duo::analysis
