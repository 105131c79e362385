// `duo-analyze attention`: what the attention maps say about each (layer, KV head), measured on
// held-out passkey samples (analysis/attention_scores.h), written as CSV, JSON and a heatmap,
// and set beside a run's gates when --gates names them.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duo::analysis {

struct AttentionOptions {
  std::filesystem::path config;  // training config; empty: the one recorded in the --gates history
  std::filesystem::path model;   // overrides model.path
  std::vector<std::string> sets;  // --set key=value, as duo-train takes them
  std::filesystem::path out;
  std::filesystem::path gates;    // optional: a history, reference directory or pattern JSON
  int64_t samples = 8;            // per length
  std::vector<int64_t> lengths;   // empty: data.context_min and data.context_max
  uint64_t seed = 20241014;       // held out: differs from every training seed we ship
  int64_t sink = 0, recent = 0;   // unless given: streaming.sink / streaming.recent of the config
  double sparsity = 0.5;          // the top-(1 - sparsity) share of heads compared by gate and by score
  std::string dtype = "config";   // config, bf16, fp16, fp32
  std::string device = "config";  // config, auto, cpu, cuda
};

class AttentionCommand {
 public:
  explicit AttentionCommand(CLI::App& app);  // registers the subcommand and its options
  bool parsed() const { return command_->parsed(); }
  void run() const;

 private:
  CLI::App* command_;
  CLI::Option* sink_option_ = nullptr;
  CLI::Option* recent_option_ = nullptr;
  AttentionOptions options_;
};

}  // namespace duo::analysis
