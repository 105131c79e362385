// A seeded random mutator over safetensors files: byte flips, token splices inside the JSON
// header, lying header lengths and truncations. The parser must either throw duo::Error or
// return a header whose every tensor lies inside the buffer with a consistent size.
#include <gtest/gtest.h>

#include <random>

#include "model/safetensors.h"
#include "model_test_util.h"
#include "util/error.h"

namespace duo {
namespace {

// Pieces of JSON that tend to break parsers or the size arithmetic.
const char* const kTokens[] = {
    "-1", "0", "1e999", "18446744073709551615", "18446744073709551616", "9223372036854775807", "4294967296",
    "null", "true", "[]", "{}", "[[[[", "]]]]", "\"F64\"", "\"BF16\"", "\"I8\"", "\"\"", "\"__metadata__\"",
    "\"dtype\"", "\"shape\"", "\"data_offsets\"", ",", ":", "\"", "\\u0000", "\\", "1.5", "[0,0]",
    "[0,18446744073709551615]", "[4611686018427387904,4611686018427387904]", "\xff\xfe", "\x00",
};

void check(const std::string& bytes, int64_t& ok, int64_t& rejected) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  try {
    StHeader h = parse_safetensors(p, bytes.size(), "fuzz.safetensors");
    for (const StTensor& t : h.tensors) {
      ASSERT_LE(t.begin, t.end);
      ASSERT_LE(t.end, bytes.size());
      ASSERT_EQ(static_cast<uint64_t>(t.numel()) * st_dtype_size(t.dtype), t.end - t.begin);
    }
    ++ok;
  } catch (const Error& e) {
    ASSERT_NE(std::string(e.what()).find("fuzz.safetensors"), std::string::npos) << e.what();
    ++rejected;
  }
  // Any other exception type escapes and fails the test.
}

TEST(ModelSafetensorsFuzz, MutatedHeadersThrowDuoErrorOrParse) {
  const std::string base = test::safetensors_bytes(test::tiny_llama_tensors());
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<uint8_t>(base[i]);
  const std::string header = base.substr(8, hlen), data = base.substr(8 + hlen);

  std::mt19937_64 rng(20241129);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  int64_t ok = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string h = header;
    const int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits; ++e) {
      switch (pick(5)) {
        case 0:  // flip a byte
          h[pick(h.size())] ^= static_cast<char>(1 + pick(255));
          break;
        case 1: {  // replace a run with a token
          size_t at = pick(h.size()), len = pick(8);
          h.replace(at, std::min(len, h.size() - at), kTokens[pick(std::size(kTokens))]);
          break;
        }
        case 2:  // insert a token
          h.insert(pick(h.size() + 1), kTokens[pick(std::size(kTokens))]);
          break;
        case 3: {  // change one digit, which moves an offset or a dimension
          size_t at = pick(h.size());
          for (size_t i = at; i < h.size(); ++i)
            if (h[i] >= '0' && h[i] <= '9') {
              h[i] = static_cast<char>('0' + pick(10));
              break;
            }
          break;
        }
        case 4:  // delete a run
          h.erase(pick(h.size()), pick(16));
          break;
      }
      if (h.empty()) h.push_back('{');
    }
    std::string bytes = test::safetensors_bytes(h, data);
    switch (pick(4)) {
      case 0: {  // a lying header length
        uint64_t n = pick(2) ? rng() : hlen + pick(64) - 32;
        for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
        break;
      }
      case 1:  // truncated anywhere
        bytes.resize(pick(bytes.size() + 1));
        break;
      default:
        break;
    }
    check(bytes, ok, rejected);
    if (HasFatalFailure()) return;
  }
  std::printf("fuzz: %lld parsed, %lld rejected with duo::Error\n", static_cast<long long>(ok),
              static_cast<long long>(rejected));
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace duo
