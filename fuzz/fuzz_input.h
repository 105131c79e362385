// What the fuzz targets share. Each target (fuzz/<parser>.cpp) defines LLVMFuzzerTestOneInput:
// it hands the input to one parser, swallows duo::Error (the answer to bad input) and lets any
// other exception escape, which libFuzzer reports as a crash, as does the replay test
// (tests/fuzz/) under the ordinary build.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "util/error.h"

namespace duo::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A directory of this process's own, for parsers that read a path; each input overwrites the
// files of the one before.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("duo-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes `bytes` to scratch_dir()/name and returns that path.
inline std::filesystem::path scratch_file(const std::string& name, std::string_view bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write " + path.string());
  return path;
}

}  // namespace duo::fuzz
