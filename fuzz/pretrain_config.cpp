// Fuzz target: the pretraining configuration's YAML (pretrain/pretrain_config.h); a config it
// accepts must also read back from its own to_yaml().
#include <cstdio>
#include <cstdlib>

#include "fuzz_input.h"
#include "pretrain_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duo::PretrainConfig config;
  try {
    config = duo::PretrainConfig::load(duo::fuzz::scratch_file("pretrain.yaml", duo::fuzz::as_text(data, size)));
  } catch (const duo::Error&) {
    return 0;
  }
  const std::string yaml = config.to_yaml();
  try {
    duo::PretrainConfig::load(duo::fuzz::scratch_file("to_yaml.yaml", yaml));
  } catch (const duo::Error& e) {
    std::fprintf(stderr, "to_yaml does not read back (%s):\n%s\n", e.what(), yaml.c_str());
    std::abort();
  }
  return 0;
}
