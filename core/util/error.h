// duo::Error: the one exception type for problems a user can cause (a bad file, config or
// argument). Its message names the file or key and the problem; programs print it and exit 1.
#pragma once
#include <filesystem>
#include <stdexcept>
#include <string>

namespace duo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // "<path>: <problem>"
  Error(const std::filesystem::path& path, const std::string& problem);
};

// Runs a program's body, turning any exception into "<program>: error: <message>" and exit 1.
// Output the body printed that never reached stdout (a full disk behind `> file`, a closed pipe)
// is an error too: "<program>: error: stdout: write failed: <reason>", exit 1.
template <typename Body>
int run_main(const char* program, Body&& body);

// An exception's message without the C++ stack frames libtorch (c10::Error) appends to it, which
// tell a user nothing: everything from "\nException raised from " or "\nframe #0: " on.
std::string user_message(const std::exception& e);

}  // namespace duo

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
namespace duo {
template <typename Body>
int run_main(const char* program, Body&& body) {
  int rc = 1;
  try {
    rc = body();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << user_message(e) << "\n";
  }
  errno = 0;
  std::cout.flush();
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int error = errno;
    std::cerr << program << ": error: stdout: write failed" << (error ? std::string(": ") + std::strerror(error) : "")
              << "\n";
    return 1;
  }
  return rc;
}
}  // namespace duo
