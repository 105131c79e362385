// duo-bench-tokenizer: encode throughput (MB/s) of duo's tokenizer on one core, beside the
// `tokenizers` library's on the same text in the same run.
//
// Build: cmake --build <build> --target duo-bench-tokenizer
// Run:   <build>/bin/duo-bench-tokenizer [--tokenizer DIR] [--text FILE] [--python PY]
// Defaults: the Llama-3 tokenizer of tests/fixtures, and the 1 MB multilingual test text
// that tests/tokenizer/test_text.py generates (written to a temporary file).
// Measures: "cold" is the first encode of the whole text on a freshly loaded tokenizer (empty
// word cache), "single" the best of 5 whole-text encodes, "lines" the best of 3 passes that
// encode each line separately (many short calls, like prompts).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;

double seconds_of(const auto& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double best_of(int repeat, const auto& fn) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) best = std::min(best, seconds_of(fn));
  return best;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw duo::Error(path, "cannot open");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs a command and returns its standard output; throws when it fails.
std::string run(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw duo::Error("cannot run: " + command);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  if (::pclose(pipe) != 0) throw duo::Error("command failed: " + command);
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-bench-tokenizer", [&] {
    CLI::App app{"Encode throughput of duo's tokenizer and of the tokenizers library, one core."};
    const char* fixtures = std::getenv("DUO_FIXTURES_DIR");
    std::string tokenizer_dir =
        (fs::path(fixtures ? fixtures : DUO_DEFAULT_FIXTURES_DIR) / "tokenizers" / "llama3").string();
    std::string text_file;
    std::string python = DUO_DEFAULT_PYTHON;
    app.add_option("--tokenizer", tokenizer_dir, "tokenizer folder (default: Llama-3 fixture)");
    app.add_option("--text", text_file, "text file (default: the generated 1 MB test text)");
    app.add_option("--python", python, "Python with the tokenizers library");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }

    // The generated text is removed when the run ends, however it ends.
    struct RemoveOnExit {
      std::string path;
      ~RemoveOnExit() {
        if (!path.empty()) fs::remove(path);
      }
    } generated;
    if (text_file.empty()) {
      text_file = (fs::temp_directory_path() / ("duo_bench_text_" + std::to_string(::getpid()) + ".txt")).string();
      generated.path = text_file;
      run(shell_quote(python) + " " + shell_quote(std::string(DUO_SOURCE_DIR) + "/tests/tokenizer/test_text.py") +
          " " + shell_quote(text_file));
    }
    const std::string text = read_file(text_file);
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::vector<std::string_view> lines;
    for (size_t start = 0;;) {
      const size_t end = text.find('\n', start);
      lines.emplace_back(std::string_view(text).substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }

    std::map<std::string, double> duo_mbps;
    size_t n_ids = 0;
    const double load = seconds_of([&] { (void)duo::Tokenizer::from_dir(tokenizer_dir); });
    const auto tokenizer = duo::Tokenizer::from_dir(tokenizer_dir);
    duo_mbps["cold"] = mb / seconds_of([&] { n_ids = tokenizer.encode(text).size(); });
    duo_mbps["single"] = mb / best_of(5, [&] { (void)tokenizer.encode(text); });
    duo_mbps["lines"] = mb / best_of(3, [&] {
      for (const auto& line : lines) (void)tokenizer.encode(line);
    });

    const std::string library = run("RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false " + shell_quote(python) + " " +
                                    shell_quote(std::string(DUO_SOURCE_DIR) + "/benchmarks/tokenizer_bench.py") + " " +
                                    shell_quote((fs::path(tokenizer_dir) / "tokenizer.json").string()) + " " +
                                    shell_quote(text_file));
    std::map<std::string, double> library_mbps;
    std::istringstream in(library);
    for (std::string name; in >> name;) in >> library_mbps[name];

    std::printf("tokenizer %s\ntext %s: %.2f MB, %zu lines, %zu ids; duo load %.2f s\n",
                tokenizer_dir.c_str(), text_file.c_str(), mb, lines.size(), n_ids, load);
    std::printf("%-8s %12s %16s %8s\n", "encode", "duo MB/s", "tokenizers MB/s", "ratio");
    for (const char* name : {"cold", "single", "lines"})
      std::printf("%-8s %12.2f %16.2f %7.2fx\n", name, duo_mbps[name], library_mbps[name],
                  duo_mbps[name] / library_mbps[name]);
    return 0;
  });
}
