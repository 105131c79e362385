// duo-tokenize --jsonl: a JSON Lines corpus converted line by line, a text field to "ids" or
// "ids" back to the text field. Header-only, so that the program and its fuzz target
// (fuzz/tokenize_jsonl.cpp) run the same code.
#pragma once
#include <nlohmann/json.hpp>

#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace duo::jsonl {

using Json = nlohmann::ordered_json;  // ordered, so carried-through fields keep their order

// `where` names the input: a file, stdin, or a line of either.
inline void check_utf8(std::string_view text, const std::string& where) {
  if (const size_t bad = utf8::find_invalid(text); bad != utf8::npos)
    throw Error(where + ": invalid UTF-8 at byte offset " + std::to_string(bad));
}

[[noreturn]] inline void out_of_vocabulary(const std::string& id, const Tokenizer& tokenizer) {
  throw Error("token id " + id + " is out of the vocabulary (size " + std::to_string(tokenizer.vocab_size()) + ")");
}

// The ids of a JSON Lines object: an array of integers within the vocabulary.
inline std::vector<int32_t> json_ids(const Json& array, const Tokenizer& tokenizer) {
  if (!array.is_array()) throw Error("\"ids\" is not an array");
  std::vector<int32_t> ids;
  ids.reserve(array.size());
  for (const Json& v : array) {
    if (!v.is_number_integer()) throw Error("\"ids\" holds " + v.dump() + ", not a token id");
    // Non-negative integers parse as unsigned; a negative one is out of the vocabulary too.
    if (!v.is_number_unsigned() || v.get<uint64_t>() >= static_cast<uint64_t>(tokenizer.vocab_size()))
      out_of_vocabulary(v.dump(), tokenizer);
    ids.push_back(v.get<int32_t>());
  }
  return ids;
}

// A copy of `object` with field `from` replaced, in its place, by `to` holding `value`.
inline Json replace_field(const Json& object, const std::string& from, const std::string& to, Json value) {
  if (from != to && object.contains(to)) throw Error("already has a field \"" + to + "\"");
  Json out = Json::object();
  for (const auto& [key, v] : object.items()) {
    if (key == from) out[to] = std::move(value);
    else out[key] = v;
  }
  return out;
}

// The object with its string field `field` replaced by "ids".
inline Json encode_record(const Json& object, const Tokenizer& tokenizer, const std::string& field,
                          bool add_special_tokens) {
  if (!object.contains(field) || !object.at(field).is_string()) throw Error("no string field \"" + field + "\"");
  const auto& text = object.at(field).get_ref<const std::string&>();
  return replace_field(object, field, "ids", tokenizer.encode(text, add_special_tokens));
}

// The object with "ids" replaced by the text field `field`.
inline Json decode_record(const Json& object, const Tokenizer& tokenizer, const std::string& field,
                          bool skip_special_tokens) {
  if (!object.contains("ids")) throw Error("no \"ids\" field");
  const std::string text = tokenizer.decode(json_ids(object.at("ids"), tokenizer), skip_special_tokens);
  return replace_field(object, "ids", field, text);
}

// Converts each non-blank line of JSON Lines input with `convert` and writes the result to
// `out`; any problem names the source and the line number.
template <typename Convert>
void convert_jsonl(std::istream& in, const std::string& source, std::ostream& out, Convert&& convert) {
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = source + ":" + std::to_string(number);
    check_utf8(line, where);
    try {
      const Json object = Json::parse(line);
      if (!object.is_object()) throw Error("not a JSON object");
      out << convert(object).dump() << '\n';
    } catch (const Json::parse_error& e) {
      // Its message starts "[json.exception...] parse error at line 1, column N: ", which reads
      // as the wrong line here.
      const std::string message = e.what();
      const size_t colon = message.find(": ");
      throw Error(where + ": invalid JSON at byte " + std::to_string(e.byte) + ": " +
                  (colon == std::string::npos ? message : message.substr(colon + 2)));
    } catch (const Json::exception& e) {
      // A number beyond a double (1e999) parses as out_of_range: "[json.exception...] number overflow ...".
      const std::string message = e.what();
      const size_t bracket = message.find("] ");
      throw Error(where + ": invalid JSON: " + (bracket == std::string::npos ? message : message.substr(bracket + 2)));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  if (in.bad()) throw Error(source + ": read error");
}

}  // namespace duo::jsonl
