// Fuzz target: the safetensors header (8-byte length, JSON, offsets tiling the data area).
#include "fuzz_input.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const duo::StHeader header = duo::parse_safetensors(data, size, "fuzz.safetensors");
    // What the parser promises the tensor code: every tensor's bytes lie inside the input.
    for (const duo::StTensor& t : header.tensors)
      if (t.begin > t.end || t.end > size) __builtin_trap();
  } catch (const duo::Error&) {
  }
  return 0;
}
