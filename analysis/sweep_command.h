// `duo-analyze sweep`: the command-line face of analysis/sweep.h.
#pragma once
#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "analysis/sweep.h"

namespace duo::analysis {

class SweepCommand {
 public:
  explicit SweepCommand(CLI::App& app);  // registers the subcommand and its options
  bool parsed() const { return command_->parsed(); }
  void run() const;  // the sweep, then its summary table and figures

 private:
  CLI::App* command_;
  CLI::Option* sparsities_option_;
  CLI::Option* sink_option_;
  CLI::Option* recent_option_;
  SweepOptions options_;
  int64_t sink_ = 0, recent_ = 0;
  std::filesystem::path gates_;
  std::string task_ = "passkey";
};

}  // namespace duo::analysis
