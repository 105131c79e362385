// Helpers the sweep tests share (sweep_test.cpp, ruler_sweep_test.cpp: one test binary).
#pragma once
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>

#include "util/error.h"

namespace duo::analysis::sweep_test {

inline std::string env(const char* name) { return std::getenv(name) ? std::getenv(name) : ""; }

// A fresh directory per call (mkdtemp), holding <name>/. No remove_all: the PyPI libtorch
// exports its own std::filesystem symbols, and its remove_all crashes in programs linking it.
inline std::filesystem::path scratch(const std::string& name) {
  std::string pattern = (std::filesystem::temp_directory_path() / "duo_sweep_test_XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  auto dir = std::filesystem::path(pattern) / name;
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The message of the duo::Error body throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace duo::analysis::sweep_test
