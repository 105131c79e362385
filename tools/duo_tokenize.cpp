// duo-tokenize: prints the tokens and ids a tokenizer gives a text, for debugging prompts.
// The text comes from the argument, --file, or stdin.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

std::string read_all(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  return duo::run_main("duo-tokenize", [&] {
    CLI::App app{"Print the tokens and ids of a text (from the argument, --file, or stdin)."};
    std::string tokenizer_dir, file, text;
    bool no_special = false, ids_only = false;
    app.add_option("--tokenizer", tokenizer_dir,
                   "folder holding tokenizer.json (and tokenizer_config.json)")->required();
    app.add_option("--file", file, "read the text from this file");
    app.add_option("text", text, "the text (default: stdin)");
    app.add_flag("--no-special", no_special, "do not add special tokens such as BOS");
    app.add_flag("--ids-only", ids_only, "print only the ids, space-separated");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }

    if (!file.empty() && !text.empty()) throw duo::Error("give either a text or --file, not both");
    if (!file.empty()) {
      std::ifstream in(file, std::ios::binary);
      if (!in) throw duo::Error(file, "cannot open");
      text = read_all(in);
    } else if (text.empty()) {
      text = read_all(std::cin);
    }

    const auto tokenizer = duo::Tokenizer::from_dir(tokenizer_dir);
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
