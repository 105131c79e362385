// Passkey accuracy of a model with full attention: data/synth passkey samples of a given
// length, and for each passkey whether the greedy answer is exactly right. Greedy decoding
// reproduces the passkey exactly iff, with the true answer as the prefix, the most likely next
// token is the right one at every answer position (the first wrong argmax is where greedy
// decoding would diverge), so one forward pass per sample decides it.
#pragma once
#include <cstdint>
#include <vector>

#include "model/llama.h"
#include "synth/passkey.h"

namespace duo {

struct PasskeyAccuracy {
  int64_t length = 0;
  int64_t correct = 0;  // passkeys recalled exactly
  int64_t total = 0;    // passkeys asked
  double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
};

// Samples 0 .. samples-1 of `generator` at each length, `batch` at a time, on the model's device.
std::vector<PasskeyAccuracy> passkey_accuracy(const LlamaModel& model, const synth::PasskeyGenerator& generator,
                                              const std::vector<int64_t>& lengths, int64_t samples, int64_t batch);

}  // namespace duo
