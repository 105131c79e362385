// `duo-analyze score`: head scores from a method that needs no gate training, run on a model and
// written as a head-score file (analysis/head_scores.h) that every other subcommand reads as
// gates. Today: kvpress's on-the-fly scoring (analysis/on_the_fly_scores.h).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duo::analysis {

struct ScoreOptions {
  std::string method = "on-the-fly";
  std::filesystem::path model;
  std::filesystem::path out;
  std::filesystem::path ids;                 // JSONL of {"ids": [...]} samples (duo-tokenize --jsonl's output)
  std::vector<std::filesystem::path> text;   // haystack files; none: the KJV Bible
  bool jsonl = false;                        // --text files are JSONL, the text in "text"
  int64_t samples = 50;
  int64_t sample_tokens = 4096;
  int64_t q_len = 500;
  std::string dtype = "auto";   // auto (fp32 on the CPU, bf16 on a GPU), bf16, fp16, fp32
  std::string device = "auto";  // auto, cpu, cuda
};

class ScoreCommand {
 public:
  explicit ScoreCommand(CLI::App& app);  // registers the subcommand and its options
  bool parsed() const { return command_->parsed(); }
  void run() const;

 private:
  CLI::App* command_;
  ScoreOptions options_;
};

}  // namespace duo::analysis
