// The sparsity sweep: run the model with the pattern of each sparsity the way a deployment does
// (model/decoder.h: full caches for retrieval heads, sink + recent for streaming heads, chunked
// prefill, greedy decoding from a CUDA graph on a GPU) on tasks over a grid of context lengths
// (and needle depths, for the passkey and niah tasks), and score it beside two baselines at the same sparsity: heads
// chosen at random (several seeds) and every head streaming. The tasks are analysis/sweep_tasks.h's;
// scores are defined in docs/sweep.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "analysis/gate_set.h"
#include "analysis/pattern.h"
#include "model/streaming_window.h"

namespace duo::analysis {

// The longest context, window or chunk a sweep takes (16M tokens).
inline constexpr int64_t kMaxSweepTokens = int64_t{1} << 24;

struct SweepOptions {
  std::filesystem::path model;            // checkpoint directory (or config.json dir with random_weights)
  bool random_weights = false;            // build the model from model/config.json with random weights
  std::filesystem::path tokenizer;        // empty: the model directory
  std::vector<std::string> haystack;      // text files; empty: the system's KJV Bible text
  std::vector<std::string> tasks{"passkey"};  // canonical names (parse_sweep_tasks)
  std::vector<double> sparsities{0, 0.25, 0.5, 0.75, 1};
  // Set: sweep these roles (a pattern file's own) at their sparsity instead of the gates' pattern
  // at each of `sparsities`.
  std::optional<Pattern> pattern;
  std::vector<int64_t> lengths{1024, 2048, 4096};
  std::vector<double> depths{0.1, 0.3, 0.5, 0.7, 0.9};  // passkey and niah only
  int64_t samples = 1;          // samples per (task, length, depth) cell
  int64_t random_seeds = 3;     // random-head baselines per sparsity (0: none)
  int64_t passkey_words = 8;    // words per passkey / needle value
  uint64_t seed = 20241014;     // held out: differs from every training seed we ship
  // The streaming heads' window (tokens); unset: `pattern`'s, else the one the gates record,
  // else the paper's kDeploymentWindow.
  std::optional<StreamingWindow> window;
  int64_t chunk = 4096;         // prefill chunk size in tokens
  std::string dtype = "bf16";   // bf16, fp16, fp32
  std::string device = "auto";  // auto, cpu, cuda
  std::filesystem::path out;    // results.csv (resumable) and figures go here
};

// One scored cell: a method's pattern at one sparsity on one sample of a task.
struct SweepRow {
  std::string task;    // a canonical task name (parse_sweep_tasks)
  std::string method;  // "duo" (at sparsity 0: full attention; at 1: every head streaming) or "random"
  int64_t seed = 0;    // random baseline seed; 0 otherwise
  double sparsity = 0;
  int64_t length = 0;
  double depth = 0;    // kTaskOwnDepth for the evaluation tasks
  int64_t sample = 0;
  double score = 0;          // the task's metric in [0, 1]: passkey/niah exact, else RULER's or retention's
  double exact = 0;          // 1 when the greedy answer equals the expected tokens (evaluation tasks: score == 1)
  double overlap = 0;        // token-level F1 with the expected tokens (evaluation tasks: the score)
  int64_t kv_bytes = 0;      // KV-cache bytes allocated for this context
  double prefill_s = 0;      // prefill wall time
  double decode_s_per_token = 0;
  int64_t retrieval_heads = 0;
};

// Runs every cell missing from <out>/results.csv (so an interrupted sweep continues), appending
// each row as it finishes; shows a progress bar; returns all rows (old and new). The settings are
// recorded in <out>/sweep-config.json; when <out> already holds results computed with other
// settings, or without a recorded configuration, throws duo::Error before the model loads.
std::vector<SweepRow> run_sweep(const GateSet& gates, const SweepOptions& options);

// The CSV store: reads existing rows (throws duo::Error for a malformed file), appends one row.
std::vector<SweepRow> read_sweep_csv(const std::filesystem::path& path);
void append_sweep_csv(const std::filesystem::path& path, const SweepRow& row);

// Mean exact-match accuracy of the passkey/niah rows per (task, method, sparsity), for the
// closing table (the evaluation tasks have theirs in sweep_scores.h).
std::string sweep_summary(const std::vector<SweepRow>& rows);

}  // namespace duo::analysis
