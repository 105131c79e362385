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
  SweepOptions options_;
  std::filesystem::path gates_;
  std::string task_ = "passkey";
};

}  // namespace duo::analysis
