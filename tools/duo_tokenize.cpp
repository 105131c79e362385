// duo-tokenize: prints the tokens and ids a tokenizer gives a text, for debugging prompts, or
// with --decode the text of ids. The input comes from the arguments, --file, or stdin; --jsonl
// converts a JSON Lines corpus line by line with a single tokenizer load.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "jsonl_convert.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

namespace fs = std::filesystem;
using duo::jsonl::check_utf8;
using duo::jsonl::convert_jsonl;
using duo::jsonl::decode_record;
using duo::jsonl::encode_record;
using duo::jsonl::Json;
using duo::jsonl::out_of_vocabulary;

// --tokenizer: a directory holding tokenizer.json, or that file itself.
duo::Tokenizer load_tokenizer(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return duo::Tokenizer::from_dir(path);
  try {
    return duo::Tokenizer::from_files(path);
  } catch (const duo::Error&) {
    // Tell a user who passed some other file (a config.json, a prompt) what was expected,
    // but keep the loader's message for a tokenizer.json it cannot use.
    std::ifstream in(path, std::ios::binary);
    if (!in) throw;
    const Json root = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (root.is_object() && root.contains("model")) throw;
    throw duo::Error(path, "not a tokenizer.json (--tokenizer takes a directory holding tokenizer.json, "
                           "or the tokenizer.json itself)");
  }
}

// --file, refusing what cannot be read as a file up front rather than reading nothing from it.
std::ifstream open_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw duo::Error(path, "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw duo::Error(path, std::string("cannot read: ") + std::strerror(errno));
  return in;
}

std::string read_all(std::istream& in, const std::string& source) {
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) throw duo::Error(source + ": read error");
  check_utf8(text, source);
  return text;
}

// Ids separated by whitespace or commas, as --ids-only prints them or a list is pasted.
void parse_ids(std::string_view text, const duo::Tokenizer& tokenizer, std::vector<int32_t>& ids) {
  constexpr std::string_view separators = " \t\r\n,";
  for (size_t start = text.find_first_not_of(separators); start != std::string_view::npos;) {
    const size_t end = std::min(text.find_first_of(separators, start), text.size());
    const std::string_view word = text.substr(start, end - start);
    int64_t id = 0;
    const auto [stop, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
    if (ec == std::errc::invalid_argument || stop != word.data() + word.size())
      throw duo::Error("--decode: \"" + std::string(word) + "\" is not a token id");
    if (ec == std::errc::result_out_of_range || id < 0 || id >= tokenizer.vocab_size())
      out_of_vocabulary(std::string(word), tokenizer);
    ids.push_back(static_cast<int32_t>(id));
    start = text.find_first_not_of(separators, end);
  }
}

// Shows a token string with control characters escaped, so one token is one line.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-tokenize", [&]() -> int {
    CLI::App app{
        "Print the tokens and ids of a text, or with --decode the text of token ids. The input is "
        "the arguments, --file, or stdin; --jsonl converts a JSON Lines corpus."};
    std::string tokenizer_path, file, field = "text";
    std::vector<std::string> args;
    bool no_special = false, ids_only = false, decode = false, jsonl = false;
    app.add_option("--tokenizer", tokenizer_path,
                   "a folder holding tokenizer.json (and tokenizer_config.json), or the tokenizer.json "
                   "itself")
        ->required();
    app.add_option("--file", file, "read the input from this file instead of the arguments or stdin");
    app.add_option("input", args,
                   "the text (one argument), or with --decode the ids, space- or comma-separated "
                   "(default: stdin)");
    app.add_flag("--no-special", no_special,
                 "encoding: do not add special tokens such as BOS; decoding: leave special tokens out");
    auto* ids_only_flag = app.add_flag("--ids-only", ids_only, "print only the ids, space-separated");
    auto* decode_flag = app.add_flag("--decode", decode, "print the text of token ids, then a newline");
    auto* jsonl_flag = app.add_flag(
        "--jsonl", jsonl,
        "read JSON Lines (--file or stdin), one object per line; write one object per line with the "
        "text field replaced by \"ids\" (with --decode: \"ids\" replaced by the text field), other "
        "fields unchanged; blank lines are skipped");
    app.add_option("--field", field, "the text field of --jsonl objects")
        ->default_val("text")
        ->needs(jsonl_flag);
    ids_only_flag->excludes(decode_flag)->excludes(jsonl_flag);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      throw duo::Error(std::string(e.what()) + " (see --help)");
    }

    if (!file.empty() && !args.empty()) throw duo::Error("give the input as arguments or --file, not both");
    if (jsonl && !args.empty()) throw duo::Error("--jsonl reads --file or stdin, not arguments");
    if (!decode && args.size() > 1)
      throw duo::Error("give the text as one argument (quote it), or use --file or stdin");
    std::ifstream file_in;
    if (!file.empty()) file_in = open_file(file);
    std::istream& in = file.empty() ? std::cin : file_in;
    const std::string source = file.empty() ? "stdin" : file;

    const auto tokenizer = load_tokenizer(tokenizer_path);
    if (jsonl && decode) {
      convert_jsonl(in, source, std::cout,
                    [&](const Json& object) { return decode_record(object, tokenizer, field, no_special); });
      return 0;
    }
    if (jsonl) {
      convert_jsonl(in, source, std::cout,
                    [&](const Json& object) { return encode_record(object, tokenizer, field, !no_special); });
      return 0;
    }
    if (decode) {
      std::vector<int32_t> ids;
      if (args.empty()) parse_ids(read_all(in, source), tokenizer, ids);
      for (const std::string& arg : args) parse_ids(arg, tokenizer, ids);
      std::cout << tokenizer.decode(ids, no_special) << "\n";
      return 0;
    }

    const std::string text = args.empty() ? read_all(in, source) : args.front();
    const auto ids = tokenizer.encode(text, !no_special);
    if (ids_only) {
      for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
      std::cout << "\n";
      return 0;
    }
    for (const int32_t id : ids) {
      const int32_t one[] = {id};
      std::cout << id << "\t" << printable(tokenizer.id_to_token(id)) << "\t\""
                << printable(tokenizer.decode(one)) << "\"\n";
    }
    std::cout << ids.size() << " tokens, " << text.size() << " bytes\n";
    return 0;
  });
}
