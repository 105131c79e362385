// Fuzz target: the training configuration's YAML (train/config.h), with its promise that
// parse(to_yaml()) gives back an equal config.
#include <cstdio>
#include <cstdlib>

#include "fuzz_input.h"
#include "train/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duo::TrainConfig config;
  try {
    config = duo::TrainConfig::parse(duo::fuzz::as_text(data, size), "fuzz.yaml");
  } catch (const duo::Error&) {
    return 0;
  }
  const std::string yaml = config.to_yaml();
  if (!(duo::TrainConfig::parse(yaml, "to_yaml") == config)) {
    std::fprintf(stderr, "to_yaml does not read back as the same config:\n%s\n", yaml.c_str());
    std::abort();
  }
  return 0;
}
