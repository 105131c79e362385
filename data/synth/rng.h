// A small deterministic random number generator (SplitMix64) with its own bounded-integer and
// shuffle routines, so that a seed gives the same samples with every compiler and standard
// library (std::uniform_int_distribution and std::shuffle are implementation-defined).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace duo::synth {

class Rng {
 public:
  // Independent streams of one seed: the stream number is hashed into the starting state,
  // so stream k does not overlap a shifted copy of stream k+1.
  Rng(uint64_t seed, uint64_t stream) : state_(mix(seed) ^ mix(stream + 0x632BE59BD9B4E019ull)) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return mix(state_);
  }

  // Uniform in [0, n), n > 0, without modulo bias: values below 2^64 mod n are rejected.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  // Fisher-Yates, first `count` positions only: they end up a uniform draw without
  // replacement of `count` elements.
  template <typename T>
  void partial_shuffle(std::vector<T>& items, std::size_t count) {
    for (std::size_t i = 0; i < count && i + 1 < items.size(); ++i)
      std::swap(items[i], items[i + below(items.size() - i)]);
  }

 private:
  static uint64_t mix(uint64_t z) {  // the SplitMix64 finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

}  // namespace duo::synth
