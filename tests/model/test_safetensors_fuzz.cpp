// A seeded random mutator over safetensors files: byte flips, token splices inside the JSON
// header, lying header lengths and truncations. The parser must either throw duo::Error or
// return a header whose tensors tile the data area exactly, each with a consistent size; and it
// must accept and refuse the same files as the reference safetensors library, reading the same
// bytes for every tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

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

uint64_t header_length(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return n;
}

void check(const std::string& bytes, int64_t& ok, int64_t& rejected) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  try {
    StHeader h = parse_safetensors(p, bytes.size(), "fuzz.safetensors");
    size_t covered = 8 + header_length(bytes);  // the tensors come in data order
    for (const StTensor& t : h.tensors) {
      ASSERT_EQ(t.begin, covered);
      ASSERT_LE(t.begin, t.end);
      ASSERT_EQ(static_cast<uint64_t>(t.numel()) * st_dtype_size(t.dtype), t.end - t.begin);
      covered = t.end;
    }
    ASSERT_EQ(covered, bytes.size());
    ++ok;
  } catch (const Error& e) {
    ASSERT_NE(std::string(e.what()).find("fuzz.safetensors"), std::string::npos) << e.what();
    ++rejected;
  }
  // Any other exception type escapes and fails the test.
}

// One random mutation of the file `header` + `data` (whose header length is `hlen`): up to four
// edits of the JSON, then perhaps a lying header length or a truncation.
std::string mutated(std::mt19937_64& rng, const std::string& header, const std::string& data, uint64_t hlen) {
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
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
  return bytes;
}

TEST(ModelSafetensorsFuzz, MutatedHeadersThrowDuoErrorOrParse) {
  const std::string base = test::safetensors_bytes(test::tiny_llama_tensors());
  const uint64_t hlen = header_length(base);
  const std::string header = base.substr(8, hlen), data = base.substr(8 + hlen);

  std::mt19937_64 rng(20241129);
  int64_t ok = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    check(mutated(rng, header, data, hlen), ok, rejected);
    if (HasFatalFailure()) return;
  }
  std::printf("fuzz: %lld parsed, %lld rejected with duo::Error\n", static_cast<long long>(ok),
              static_cast<long long>(rejected));
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
}

// A file as duo's parser reads it: "ok" with every tensor as [name, dtype, shape, data as hex]
// sorted by name (the form safetensors_verdicts.py prints), or its error.
nlohmann::json our_verdict(const std::string& bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  try {
    StHeader h = parse_safetensors(p, bytes.size(), "x.safetensors");
    nlohmann::json tensors = nlohmann::json::array();
    static const char* kHex = "0123456789abcdef";
    for (const StTensor& t : h.tensors) {
      std::string hex;
      for (size_t i = t.begin; i < t.end; ++i) hex += {kHex[p[i] >> 4], kHex[p[i] & 15]};
      tensors.push_back({t.name, std::string(st_dtype_name(t.dtype)), t.shape, hex});
    }
    std::sort(tensors.begin(), tensors.end());
    return {{"ok", true}, {"tensors", tensors}};
  } catch (const Error& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

// Where duo is stricter than the reference on purpose: fewer dtypes (no C64, F4, F8_E8M0, ...),
// and a tensor entry must be an object (serde also reads one from a [dtype, shape, offsets] array).
bool deliberately_stricter(const std::string& our_error) {
  return our_error.find("unknown dtype") != std::string::npos ||
         our_error.find("entry is not a JSON object") != std::string::npos;
}

// The reference library (safetensors' own deserialize, via safetensors_verdicts.py) and duo must
// agree on every file: what one refuses the other refuses, and where both read a file they read
// the same tensors from the same bytes. The files: the coverage cases one by one (header lengths
// off by a few bytes, trailing and missing bytes, moved, swapped, dropped and empty tensors) and
// random header mutations.
TEST(ModelSafetensorsFuzz, AgreesWithTheReferenceLibrary) {
  const auto entries = test::tiny_llama_tensors();
  const std::string base = test::safetensors_bytes(entries);
  const uint64_t hlen = header_length(base);
  const std::string header = base.substr(8, hlen), data = base.substr(8 + hlen);
  // The header of `entries` with tensor i at the data offsets offsets[i] (unchanged when absent)
  // and, when `empty_at` >= 0, an empty tensor there.
  auto laid_out = [&](const std::map<size_t, std::pair<int64_t, int64_t>>& offsets, std::optional<size_t> drop,
                      int64_t empty_at) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    int64_t at = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      std::pair<int64_t, int64_t> o{at, at + static_cast<int64_t>(e.bytes.size())};
      at = o.second;
      if (offsets.count(i)) o = offsets.at(i);
      if (drop != i) h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {o.first, o.second}}};
    }
    if (empty_at >= 0) h["empty"] = {{"dtype", "BF16"}, {"shape", {0, 3}}, {"data_offsets", {empty_at, empty_at}}};
    return h.dump();
  };
  std::vector<std::string> files;
  for (int d = -16; d <= 16; ++d) {  // header length off by d (the header is padded with spaces)
    std::string b = base;
    const uint64_t n = hlen + d;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    files.push_back(b);
  }
  for (size_t k = 1; k <= 8; ++k) {
    files.push_back(base + std::string(k, '\0'));  // trailing bytes
    files.push_back(base.substr(0, base.size() - k));  // missing bytes
  }
  std::vector<int64_t> begins;  // data offsets where each tensor starts
  for (int64_t at = 0; const auto& e : entries) begins.push_back(std::exchange(at, at + int64_t(e.bytes.size())));
  const int64_t total = static_cast<int64_t>(data.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const int64_t b = begins[i], size = static_cast<int64_t>(entries[i].bytes.size());
    for (int64_t d : {-8, -4, -1, 1, 4, 8})  // moved: gaps and overlaps
      if (b + d >= 0) files.push_back(test::safetensors_bytes(laid_out({{i, {b + d, b + d + size}}}, {}, -1), data));
    files.push_back(test::safetensors_bytes(laid_out({}, i, -1), data));  // dropped from the header
  }
  for (int64_t at : {int64_t{0}, int64_t{4}, begins[1], begins[2] + 1, total, total + 4})
    files.push_back(test::safetensors_bytes(laid_out({}, {}, at), data));
  // Two tensors of one size trading places: both readings must take each from the same bytes.
  const size_t q = 2, k = 3;
  ASSERT_EQ(entries[q].bytes.size(), entries[k].bytes.size());
  const int64_t qk = static_cast<int64_t>(entries[q].bytes.size());
  files.push_back(test::safetensors_bytes(
      laid_out({{q, {begins[k], begins[k] + qk}}, {k, {begins[q], begins[q] + qk}}}, {}, -1), data));
  files.push_back(test::safetensors_bytes(R"({"__metadata__": null})", ""));
  std::mt19937_64 rng(20250107);
  for (int iter = 0; iter < 3000; ++iter) files.push_back(mutated(rng, header, data, hlen));

  const auto dir = test::fresh_dir();
  char name[32];
  for (size_t i = 0; i < files.size(); ++i) {
    std::snprintf(name, sizeof name, "%05zu.safetensors", i);
    test::write_file(dir / name, files[i]);
  }
  const std::string cmd = std::string(std::getenv("DUO_PYTHON")) + " " + std::getenv("DUO_SOURCE_DIR") +
                          "/tests/model/safetensors_verdicts.py " + dir.string();
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[1 << 16];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << out.substr(0, 2000);

  std::istringstream lines(out);
  std::string line;
  size_t i = 0, both_read = 0, both_refused = 0, stricter = 0;
  for (; std::getline(lines, line); ++i) {
    ASSERT_LT(i, files.size());
    const auto ref = nlohmann::json::parse(line);
    std::snprintf(name, sizeof name, "%05zu.safetensors", i);
    ASSERT_EQ(ref["file"], name);
    const auto ours = our_verdict(files[i]);
    if (ours["ok"] && ref["ok"]) {
      EXPECT_EQ(ours["tensors"], ref["tensors"]) << name << ": both read it, but not the same tensors";
      ++both_read;
    } else if (ours["ok"]) {
      ADD_FAILURE() << name << ": duo reads a file the reference refuses (" << ref["error"] << ")";
    } else if (ref["ok"]) {
      const std::string error = ours["error"];
      EXPECT_TRUE(deliberately_stricter(error)) << name << ": duo refuses a file the reference reads: " << error;
      ++stricter;
    } else {
      ++both_refused;
    }
  }
  EXPECT_EQ(i, files.size());
  std::printf("reference: %zu files both read, %zu both refuse, %zu only duo refuses (dtypes, array entries)\n",
              both_read, both_refused, stricter);
  EXPECT_GT(both_read, 1u);
  EXPECT_GT(both_refused, 100u);
}

}  // namespace
}  // namespace duo
