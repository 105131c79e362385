// Fuzz target: a checkpoint's config.json.
#include "fuzz_input.h"
#include "model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    duo::parse_model_config(duo::fuzz::as_text(data, size), "config.json");
  } catch (const duo::Error&) {
  }
  return 0;
}
