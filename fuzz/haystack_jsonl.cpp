// Fuzz target: a JSON Lines haystack file (data/synth/haystack.h), its text in field "text".
#include "fuzz_input.h"
#include "synth/haystack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    duo::synth::HaystackSource source;
    source.files = {duo::fuzz::scratch_file("haystack.jsonl", duo::fuzz::as_text(data, size))};
    source.format = duo::synth::HaystackFormat::jsonl;
    duo::synth::read_haystack_documents(source);
  } catch (const duo::Error&) {
  }
  return 0;
}
