// Fuzz target: our pattern JSON (analysis/pattern_json.h), read and then described as
// duo-analyze does.
#include "analysis/pattern.h"
#include "analysis/pattern_json.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto path = duo::fuzz::scratch_file("pattern.json", duo::fuzz::as_text(data, size));
    const duo::analysis::PatternFile file = duo::analysis::read_pattern_json(path);
    duo::analysis::pattern_table(file.pattern);
    duo::analysis::describe_window(file.pattern);
    duo::analysis::describe_kv_cache_saved(file.pattern);
  } catch (const duo::Error&) {
  }
  return 0;
}
