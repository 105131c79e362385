// Fuzz target: duo-tokenize --jsonl's reader (tools/jsonl_convert.h), each input converted both
// ways (text to ids, ids to text) with the byte-level tokenizer of models/tiny.
#include <sstream>

#include "fuzz_input.h"
#include "tools/jsonl_convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const duo::Tokenizer tokenizer = duo::Tokenizer::from_dir(DUO_FUZZ_TOKENIZER_DIR);
  using duo::jsonl::Json;
  for (const bool encode : {true, false}) {
    std::istringstream in{std::string(duo::fuzz::as_text(data, size))};
    std::ostringstream out;
    try {
      duo::jsonl::convert_jsonl(in, "fuzz.jsonl", out, [&](const Json& object) {
        return encode ? duo::jsonl::encode_record(object, tokenizer, "text", true)
                      : duo::jsonl::decode_record(object, tokenizer, "text", false);
      });
    } catch (const duo::Error&) {
    }
  }
  return 0;
}
