// Helpers of the pretraining tests: a fresh scratch directory per test, whole-file read and
// write, running a command and capturing its output.
#pragma once
#include <filesystem>
#include <string>

namespace duo::test {

std::filesystem::path scratch_dir();  // empty, unique to the running test, under the build tree
std::string slurp(const std::filesystem::path& path);
void spit(const std::filesystem::path& path, const std::string& text);

struct CommandResult {
  int code;  // exit status, -1 when killed
  std::string out, err;
};
// Runs `command` through /bin/sh, its output captured in files under `dir`.
CommandResult run_command(const std::string& command, const std::filesystem::path& dir);

// A plain-text haystack of `sentences` varied English sentences (a few kilobytes per hundred).
std::string synthetic_haystack(int sentences);

}  // namespace duo::test
