// Fuzz target: a reference pattern directory (full_attention_heads.tsv and config.json). The
// input up to its first NUL byte is the TSV; what follows, when there is a NUL, is config.json.
#include "analysis/gate_set.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = duo::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  const auto dir = duo::fuzz::scratch_dir() / "reference";
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "config.json");
  try {
    duo::fuzz::scratch_file("reference/full_attention_heads.tsv", input.substr(0, nul));
    if (nul != std::string_view::npos) duo::fuzz::scratch_file("reference/config.json", input.substr(nul + 1));
    duo::analysis::load_gates(dir);
  } catch (const duo::Error&) {
  }
  return 0;
}
