// Scratch files and commands for the pretraining tests (see scratch.h).
#include "scratch.h"

#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace duo::test {

// libtorch.so exports its own copies of some std::filesystem functions, and its remove_all
// crashes when called from a program linked against it (as tests/model notes too); nftw instead.
void remove_tree(const std::filesystem::path& dir) {
  ::nftw(
      dir.c_str(), [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::current_path() / "scratch" /
                              (std::string(info->test_suite_name()) + "." + info->name());
  remove_tree(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

CommandResult run_command(const std::string& command, const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "command.out", err = dir / "command.err";
  const int status = std::system((command + " >" + out.string() + " 2>" + err.string()).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

std::string synthetic_haystack(int sentences) {
  const std::vector<std::string> who = {"the shepherd", "a merchant", "the old king", "her brother", "the children",
                                        "a stranger", "the priest", "my neighbour"};
  const std::vector<std::string> did = {"walked to", "spoke of", "looked upon", "remembered", "built", "sold",
                                        "left", "praised"};
  const std::vector<std::string> what = {"the river", "a great city", "the field of barley", "the temple",
                                         "seven wells", "the mountain", "a silver cup", "the harbour"};
  std::string text;
  for (int i = 0; i < sentences; ++i) {
    text += "And " + who[i % who.size()] + " " + did[(i / 3) % did.size()] + " " + what[(i / 7) % what.size()] +
            " in the year " + std::to_string(1000 + (i * 37) % 900) + ".";
    text += (i % 9 == 8) ? "\n\n" : " ";
  }
  return text;
}

}  // namespace duo::test
