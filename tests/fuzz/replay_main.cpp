// The fuzz targets under the ordinary build: feeds every file of the given directories, and
// --mutations seeded mutations of each (bit flips, interesting bytes and tokens, truncations,
// insertions, deletions, duplicated ranges), to the target's LLVMFuzzerTestOneInput. The target
// swallows duo::Error; any other exception escaping is a failure, printed with the input, which
// is also saved as fuzz-failure-<target> in the working directory for fuzz/regressions/, as is
// an input that crashes it (an abort, a trap, a segmentation fault).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;
using Bytes = std::string;

// Pieces that tend to break parsers: number edge cases, JSON/YAML structure, HDF5-ish widths.
const char* const kTokens[] = {"-1", "0", "-0", "1e999", "2.5", "1e300", "-1e300", "18446744073709551616",
                               "9223372036854775807", "-9223372036854775808", "2147483648", "4294967295",
                               "null", "true", "[]", "{}", "[[", "]]", "\"\"", ",", ":", "nan", ".inf",
                               "+-0.5", "\t", "\n", "\r\n", "- ", ": ", "!!binary", "&a", "*a", "~"};
const unsigned char kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '"', '{', '}', '[', ']', ',', ':', '-', '9', '\n', '\t'};

Bytes mutate(Bytes b, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int s = 0; s < steps; ++s) {
    switch (rng() % 7) {
      case 0:
        if (!b.empty()) b[pick(b.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        if (!b.empty()) b[pick(b.size())] = static_cast<char>(kBytes[pick(std::size(kBytes))]);
        break;
      case 2:
        b.resize(pick(b.size() + 1));
        break;
      case 3: {
        Bytes random(1 + pick(8), '\0');
        for (char& c : random) c = static_cast<char>(rng());
        b.insert(pick(b.size() + 1), random);
        break;
      }
      case 4:
        b.insert(pick(b.size() + 1), kTokens[pick(std::size(kTokens))]);
        break;
      case 5:
        if (!b.empty()) {
          const size_t at = pick(b.size());
          b.erase(at, 1 + pick(std::min<size_t>(64, b.size() - at)));
        }
        break;
      default:
        if (!b.empty()) {
          const size_t at = pick(b.size());
          const Bytes piece = b.substr(at, 1 + pick(64));
          b.insert(pick(b.size() + 1), piece);
        }
    }
  }
  return b;
}

const char* const kSaved = "fuzz-failure-" DUO_FUZZ_TARGET;

// The input running now and its description, for save_on_crash.
const Bytes* current_input = nullptr;
const std::string* current_what = nullptr;

void save_on_crash(int signal) {
  if (current_input) {
    const int fd = open(kSaved, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, current_input->data(), current_input->size());
      close(fd);
      (void)ignored;
    }
    const char crashed[] = "fuzz replay: crashed on ";
    ssize_t ignored = write(2, crashed, sizeof crashed - 1);
    ignored = write(2, current_what->data(), current_what->size());
    const char saved[] = "; the input is saved as " "fuzz-failure-" DUO_FUZZ_TARGET "\n";
    ignored = write(2, saved, sizeof saved - 1);
    (void)ignored;
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

// false (after printing why) when something other than duo::Error escaped.
bool run(const Bytes& input, const std::string& what) {
  current_input = &input;
  current_what = &what;
  try {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s: %s escaped: %s\n", DUO_FUZZ_TARGET, what.c_str(), typeid(e).name(), e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: %s: a non-std exception escaped\n", DUO_FUZZ_TARGET, what.c_str());
  }
  std::ofstream(kSaved, std::ios::binary).write(input.data(), static_cast<std::streamsize>(input.size()));
  std::fprintf(stderr, "the input is saved as %s\n", (fs::current_path() / kSaved).c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, save_on_crash);
  int mutations = 0;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = std::stoi(argv[++i]);
    } else if (fs::is_directory(argv[i])) {
      for (const auto& entry : fs::directory_iterator(argv[i]))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      std::fprintf(stderr, "usage: %s [--mutations N] <corpus directory>...\n", argv[0]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "%s: no input files\n", DUO_FUZZ_TARGET);
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  size_t inputs = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const Bytes original((std::istreambuf_iterator<char>(in)), {});
    std::mt19937_64 rng(std::hash<std::string>{}(file.filename().string()));
    if (!run(original, file.string())) return 1;
    ++inputs;
    for (int m = 0; m < mutations; ++m, ++inputs)
      if (!run(mutate(original, rng), file.string() + ", mutation " + std::to_string(m))) return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu inputs from %zu files, no exception but duo::Error, %.1f s\n", DUO_FUZZ_TARGET, inputs,
              files.size(), seconds);
  return 0;
}
