// Haystack reading and tokenizing; see haystack.h.
#include "synth/haystack.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string_view>

#include "synth/kjv_bible.h"
#include "util/error.h"

namespace duo::synth {
namespace {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file, "cannot open the haystack file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void read_jsonl(const std::filesystem::path& file, const std::string& field,
                std::vector<std::string>& documents) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file, "cannot open the haystack file");
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file.string() + ":" + std::to_string(number);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
      throw Error(where + ": not valid JSON (" + e.what() + ")");
    }
    if (!record.is_object()) throw Error(where + ": expected a JSON object, one per line");
    const auto value = record.find(field);
    if (value == record.end() || !value->is_string())
      throw Error(where + ": the record has no string field \"" + field + "\"");
    documents.push_back(value->get<std::string>());
  }
}

// A cut at or before `limit` that falls on a paragraph break, else a line break, else a space,
// else anywhere outside a UTF-8 sequence.
std::size_t cut_point(std::string_view text, std::size_t limit) {
  if (limit >= text.size()) return text.size();
  for (std::string_view mark : {"\n\n", "\n", " "}) {
    const std::size_t at = text.rfind(mark, limit - mark.size());
    if (at != std::string_view::npos && at > limit / 2) return at + mark.size();
  }
  std::size_t at = limit;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at > 0 ? at : limit;
}

}  // namespace

std::vector<std::string> read_haystack_documents(const HaystackSource& source) {
  std::vector<std::string> documents;
  if (source.files.empty()) {
    documents.push_back(read_kjv_bible());
    return documents;
  }
  for (const std::filesystem::path& file : source.files) {
    if (source.format == HaystackFormat::jsonl) {
      read_jsonl(file, source.jsonl_field, documents);
      continue;
    }
    std::string text = read_file(file);
    // A copy of bible-kjv-text's data file (e.g. unpacked with dpkg -x on a host without the
    // package) is decoded rather than read as text.
    documents.push_back(text.starts_with("EC02Compressed Data File") ? read_kjv_bible(file)
                                                                      : std::move(text));
  }
  return documents;
}

std::vector<int32_t> tokenize_haystack(const std::vector<std::string>& documents,
                                       const Tokenizer& tokenizer, int64_t needed) {
  constexpr std::size_t kPieceBytes = 16 * 1024;
  std::vector<int32_t> ids;
  for (const std::string& document : documents) {
    std::string_view rest = document;
    while (!rest.empty() && int64_t(ids.size()) < needed) {
      const std::size_t cut = cut_point(rest, kPieceBytes);
      const std::vector<int32_t> piece = tokenizer.encode(rest.substr(0, cut), false);
      ids.insert(ids.end(), piece.begin(), piece.end());
      rest.remove_prefix(cut);
    }
    if (int64_t(ids.size()) >= needed) break;
    // Documents are separate texts: keep a paragraph break between them.
    const std::vector<int32_t> gap = tokenizer.encode("\n\n", false);
    ids.insert(ids.end(), gap.begin(), gap.end());
  }
  return ids;
}

}  // namespace duo::synth
