// Fuzz target: bible-kjv-text's data file (data/synth/kjv_bible.h): a window table and LZW
// (`compress`) streams.
#include "fuzz_input.h"
#include "synth/kjv_bible.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    duo::synth::read_kjv_bible(duo::fuzz::scratch_file("bible.data", duo::fuzz::as_text(data, size)));
  } catch (const duo::Error&) {
  }
  return 0;
}
