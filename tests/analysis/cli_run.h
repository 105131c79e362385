// Running a command line from a test: its exit status and what it printed (through files in a
// scratch directory of the test's own).
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace duo::test {

struct CliResult {
  int status = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

// Runs `command` through the shell with stdout and stderr sent to files in `dir`.
inline CliResult run_in(const std::filesystem::path& dir, const std::string& command) {
  CliResult r;
  const int raw = std::system((command + " >" + quote((dir / "stdout").string()) + " 2>" +
                               quote((dir / "stderr").string()))
                                  .c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(dir / "stdout");
  r.err = slurp(dir / "stderr");
  return r;
}

}  // namespace duo::test
