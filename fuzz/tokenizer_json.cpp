// Fuzz target: tokenizer.json, loaded, then used: texts encoded and every id decoded, since a
// loader that accepts a file must leave a tokenizer that works.
#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto path = duo::fuzz::scratch_file("tokenizer.json", duo::fuzz::as_text(data, size));
    const duo::Tokenizer tokenizer = duo::Tokenizer::from_files(path);
    for (const char* text : {"", "Hello world", "  two  spaces\n\ttab", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
                             "<s></s><unk>", "0123456789"}) {
      const std::vector<int32_t> ids = tokenizer.encode(text);
      tokenizer.decode(ids);
    }
    std::vector<int32_t> every(static_cast<size_t>(std::min(tokenizer.vocab_size(), 1024)));
    for (size_t i = 0; i < every.size(); ++i) every[i] = static_cast<int32_t>(i);
    tokenizer.decode(every);
    tokenizer.decode(every, /*skip_special_tokens=*/true);
  } catch (const duo::Error&) {
  }
  return 0;
}
