// Loads tokenizer.json (and tokenizer_config.json) into Tokenizer::Impl. Every component type
// and option that changes ids is either implemented or rejected here with an error naming it
// and the file, so an unsupported tokenizer never encodes silently wrong.
#include <nlohmann/json.hpp>

#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace duo {

namespace {

using nlohmann::json;

json parse_file(const std::filesystem::path& path) {
  MappedFile file(path);
  const char* begin = reinterpret_cast<const char*>(file.data());
  try {
    return json::parse(begin, begin + file.size());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw Error(path, std::string("invalid JSON: ") + e.what());
  }
}

class Loader {
 public:
  explicit Loader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_, problem); }
  [[noreturn]] void unsupported(const std::string& component, const std::string& type,
                                const std::string& supported) const {
    fail("unsupported " + component + " type \"" + type + "\" (duo supports " + supported + ")");
  }

  static std::string type_of(const json& j) {
    return j.contains("type") && j["type"].is_string() ? j["type"].get<std::string>() : "";
  }
  static bool flag(const json& j, const char* key, bool fallback) {
    return j.contains(key) && !j[key].is_null() ? j[key].get<bool>() : fallback;
  }

  // {"String": "..."} or {"Regex": "..."}
  Regex pattern(const json& j, const std::string& where) const {
    try {
      if (j.contains("String")) return Regex(j["String"].get<std::string>(), true);
      if (j.contains("Regex")) return Regex(j["Regex"].get<std::string>(), false);
    } catch (const Error& e) {
      fail(where + ": " + e.what());
    }
    fail(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
  }

  std::unique_ptr<Normalizer> normalizer(const json& j) const {
    const std::string type = type_of(j);
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Normalizer>> steps;
      for (const json& step : j.at("normalizers")) steps.push_back(normalizer(step));
      return std::make_unique<SequenceNormalizer>(std::move(steps));
    }
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKD);
    if (type == "Prepend") return std::make_unique<PrependNormalizer>(j.at("prepend").get<std::string>());
    if (type == "Replace")
      return std::make_unique<ReplaceNormalizer>(pattern(j.at("pattern"), "normalizer Replace"),
                                                 j.at("content").get<std::string>());
    unsupported("normalizer", type, "Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace");
  }

  std::string replacement(const json& j, const std::string& where) const {
    const std::string r = j.at("replacement").get<std::string>();
    size_t i = 0;
    if (r.empty() || (utf8::next(r, i), i != r.size()))
      fail(where + ": replacement must be one character, got \"" + r + "\"");
    return r;
  }

  PrependScheme prepend_scheme(const json& j, const std::string& where) const {
    PrependScheme scheme = PrependScheme::Always;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
      const std::string s = j["prepend_scheme"].get<std::string>();
      if (s == "first") scheme = PrependScheme::First;
      else if (s == "never") scheme = PrependScheme::Never;
      else if (s == "always") scheme = PrependScheme::Always;
      else fail(where + ": unknown prepend_scheme \"" + s + "\"");
    }
    if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() &&
        !j["add_prefix_space"].get<bool>()) {
      if (scheme != PrependScheme::Never && j.contains("prepend_scheme"))
        fail(where + ": add_prefix_space does not match declared prepend_scheme");
      scheme = PrependScheme::Never;
    }
    return scheme;
  }

  // Flattens nested Sequences so the loader can check where ByteLevel sits.
  void pre_tokenizer_steps(const json& j, std::vector<const json*>& steps) const {
    if (type_of(j) == "Sequence") {
      for (const json& step : j.at("pretokenizers")) pre_tokenizer_steps(step, steps);
    } else {
      steps.push_back(&j);
    }
  }

  std::unique_ptr<PreTokenizer> pre_tokenizer(const json& j) const {
    const std::string type = type_of(j);
    if (type == "Split") {
      static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
          {"Removed", SplitBehavior::Removed},
          {"Isolated", SplitBehavior::Isolated},
          {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
          {"MergedWithNext", SplitBehavior::MergedWithNext},
          {"Contiguous", SplitBehavior::Contiguous}};
      const std::string name = j.at("behavior").get<std::string>();
      for (const auto& [n, behavior] : kBehaviors)
        if (name == n)
          return std::make_unique<SplitPreTokenizer>(pattern(j.at("pattern"), "pre_tokenizer Split"),
                                                     behavior, flag(j, "invert", false));
      fail("pre_tokenizer Split: unknown behavior \"" + name + "\"");
    }
    if (type == "ByteLevel")
      return std::make_unique<ByteLevelPreTokenizer>(flag(j, "add_prefix_space", true),
                                                     flag(j, "use_regex", true));
    if (type == "Metaspace")
      return std::make_unique<MetaspacePreTokenizer>(replacement(j, "pre_tokenizer Metaspace"),
                                                     prepend_scheme(j, "pre_tokenizer Metaspace"),
                                                     flag(j, "split", true));
    unsupported("pre_tokenizer", type, "Sequence, Split, ByteLevel, Metaspace");
  }

  std::unique_ptr<Decoder> decoder(const json& j) const {
    const std::string type = type_of(j);
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Decoder>> steps;
      for (const json& step : j.at("decoders")) steps.push_back(decoder(step));
      return std::make_unique<SequenceDecoder>(std::move(steps));
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace")
      return std::make_unique<MetaspaceDecoder>(replacement(j, "decoder Metaspace"),
                                                prepend_scheme(j, "decoder Metaspace"));
    if (type == "Replace")
      return std::make_unique<ReplaceDecoder>(pattern(j.at("pattern"), "decoder Replace"),
                                              j.at("content").get<std::string>());
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
      const std::string content = j.at("content").get<std::string>();
      size_t i = 0;
      if (content.empty()) fail("decoder Strip: empty content");
      const char32_t c = utf8::next(content, i);
      return std::make_unique<StripDecoder>(c, j.at("start").get<size_t>(), j.at("stop").get<size_t>());
    }
    unsupported("decoder", type, "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip");
  }

  PostProcessor post_processor(const json& j) const {
    const std::string type = type_of(j);
    PostProcessor result;
    if (type == "Sequence") {
      for (const json& step : j.at("processors")) result.then(post_processor(step));
      return result;
    }
    if (type == "ByteLevel") return result;
    if (type != "TemplateProcessing")
      unsupported("post_processor", type, "TemplateProcessing, ByteLevel, Sequence");
    const json& special = j.at("special_tokens");
    bool seen_sequence = false;
    for (const json& item : j.at("single")) {
      if (item.contains("Sequence")) {
        if (item["Sequence"].at("id").get<std::string>() != "A" || seen_sequence)
          fail("post_processor TemplateProcessing: the single template must hold sequence A once");
        seen_sequence = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      if (!special.contains(name))
        fail("post_processor TemplateProcessing: special token \"" + name +
             "\" is missing from special_tokens");
      for (const json& id : special[name].at("ids"))
        (seen_sequence ? result.suffix : result.prefix).push_back(id.get<int32_t>());
    }
    if (!seen_sequence) fail("post_processor TemplateProcessing: the single template has no sequence A");
    return result;
  }

  // A token id of tokenizer.json: a JSON integer in [0, bound), `bound` being the number of
  // tokens the file defines.
  int32_t token_id(const json& id, const std::string& where, const std::string& token, int64_t bound) const {
    const std::string named = where + ": \"" + token + "\" has id " + id.dump();
    if (!id.is_number_integer()) fail(named + ", not an integer");
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= static_cast<uint64_t>(bound))
      fail(named + ", outside [0, " + std::to_string(bound) + "): the file defines " + std::to_string(bound) +
           " tokens");
    return id.get<int32_t>();
  }

  // added_count: the number of added_tokens, which may take ids after the model's.
  std::unique_ptr<BpeModel> model(const json& j, bool byte_level_input, int64_t added_count) const {
    const std::string type = j.contains("type") ? type_of(j) : "BPE";
    if (type != "BPE") unsupported("model", type, "BPE");
    if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() != 0.0)
      fail("unsupported model option dropout (BPE dropout makes encoding random)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (j.contains(key) && !j[key].is_null() && !j[key].get<std::string>().empty())
        fail(std::string("unsupported model option ") + key);
    BpeModel::Options options;
    if (j.contains("unk_token") && !j["unk_token"].is_null())
      options.unk_token = j["unk_token"].get<std::string>();
    options.fuse_unk = flag(j, "fuse_unk", false);
    options.byte_fallback = flag(j, "byte_fallback", false);
    options.ignore_merges = flag(j, "ignore_merges", false);
    options.byte_level_input = byte_level_input;

    // Ids are what the `tokenizers` library accepts (integers, not 2.0), one token each (it would
    // keep either of two tokens sharing an id for decoding), and lie within the tokens the file
    // defines: an id of 1e8 in a vocab of 300 would have duo allocate 1e8 entries.
    const json& vocab_json = j.at("vocab");
    if (!vocab_json.is_object()) fail("model vocab is not an object of token: id");
    const int64_t bound = static_cast<int64_t>(vocab_json.size()) + added_count;
    std::vector<const std::string*> owner(static_cast<size_t>(bound), nullptr);
    StringMap<int32_t> vocab;
    vocab.reserve(vocab_json.size());
    for (const auto& [token, id] : vocab_json.items()) {
      const int32_t value = token_id(id, "model vocab", token, bound);
      if (const std::string* other = owner[static_cast<size_t>(value)])
        fail("model vocab: \"" + *other + "\" and \"" + token + "\" both have id " + std::to_string(value));
      owner[static_cast<size_t>(value)] = &vocab.emplace(token, value).first->first;
    }
    std::vector<std::pair<std::string, std::string>> merges;
    const json& merge_list = j.at("merges");
    merges.reserve(merge_list.size());
    for (const json& m : merge_list) {
      if (m.is_string()) {
        // Legacy form "left right": tokens cannot contain spaces there.
        const auto& s = m.get_ref<const std::string&>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
          fail("model merges: \"" + s + "\" is not two tokens separated by one space");
        merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else {
        if (!m.is_array() || m.size() != 2) fail("model merges: " + m.dump() + " is not a pair");
        merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      }
    }
    try {
      return std::make_unique<BpeModel>(std::move(vocab), merges, std::move(options));
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  // The `tokenizers` library ignores the ids listed here: it gives each added token the model's
  // id for its content, else the id of the same content listed before, else the next id after
  // the model vocab and the added tokens before it (file order). A file listing other ids would
  // be encoded differently by duo and by the library, so it is refused.
  std::vector<AddedToken> added_tokens(const json& j, const BpeModel& model, int64_t model_size) const {
    if (!j.is_array()) fail("added_tokens is not an array");
    const int64_t bound = model_size + static_cast<int64_t>(j.size());
    std::vector<AddedToken> tokens;
    StringMap<int32_t> listed;
    std::unordered_map<int32_t, std::string> added_ids;
    int64_t next = model_size;
    for (const json& t : j) {
      AddedToken token;
      token.content = t.at("content").get<std::string>();
      token.id = token_id(t.at("id"), "added_tokens", token.content, bound);
      const std::string named = "added_tokens: \"" + token.content + "\" has id " + std::to_string(token.id);
      if (const auto vocab_id = model.token_to_id(token.content)) {
        if (*vocab_id != token.id) fail(named + ", but the model vocab gives it id " + std::to_string(*vocab_id));
      } else if (const auto before = listed.find(token.content); before != listed.end()) {
        if (before->second != token.id)
          fail(named + ", but it is listed before with id " + std::to_string(before->second));
      } else {
        if (const std::string* other = model.id_to_token(token.id))
          fail(named + ", which the model vocab gives to \"" + *other + "\"");
        if (const auto other = added_ids.find(token.id); other != added_ids.end())
          fail(named + ", which is also the id of \"" + other->second + "\"");
        if (token.id != next)
          fail(named + ", but the tokenizers library numbers new added tokens on from the model vocab in file "
                       "order and gives it id " + std::to_string(next));
        added_ids.emplace(token.id, token.content);
        ++next;
      }
      listed.emplace(token.content, token.id);
      token.special = flag(t, "special", false);
      token.lstrip = flag(t, "lstrip", false);
      token.rstrip = flag(t, "rstrip", false);
      token.single_word = flag(t, "single_word", false);
      token.normalized = flag(t, "normalized", !token.special);
      tokens.push_back(std::move(token));
    }
    return tokens;
  }

  std::shared_ptr<Tokenizer::Impl> load(const json& root) const {
    if (!root.is_object()) fail("not a tokenizer.json (the top level is not an object)");
    for (const char* key : {"truncation", "padding"})
      if (root.contains(key) && !root[key].is_null())
        fail(std::string("unsupported ") + key + " (duo encodes whole texts; set it to null)");
    if (!root.contains("model")) fail("no \"model\"");

    auto impl = std::make_shared<Tokenizer::Impl>();
    if (root.contains("normalizer") && !root["normalizer"].is_null())
      impl->normalizer = normalizer(root["normalizer"]);

    bool byte_level_input = false;
    if (root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null()) {
      std::vector<const json*> steps;
      pre_tokenizer_steps(root["pre_tokenizer"], steps);
      std::vector<std::unique_ptr<PreTokenizer>> built;
      for (size_t i = 0; i < steps.size(); ++i) {
        if (type_of(*steps[i]) == "ByteLevel") {
          if (i + 1 != steps.size())
            fail("unsupported pre_tokenizer layout: ByteLevel must be the last pre-tokenizer");
          byte_level_input = true;
        }
        built.push_back(pre_tokenizer(*steps[i]));
      }
      impl->pre_tokenizer = built.size() == 1
                                ? std::move(built.front())
                                : std::make_unique<SequencePreTokenizer>(std::move(built));
    }
    const bool has_added = root.contains("added_tokens") && !root["added_tokens"].is_null();
    const json no_added = json::array();
    const json& added = has_added ? root["added_tokens"] : no_added;
    impl->model = model(root["model"], byte_level_input, static_cast<int64_t>(added.size()));
    const auto model_size = static_cast<int64_t>(root["model"].at("vocab").size());
    impl->added = AddedVocabulary(added_tokens(added, *impl->model, model_size), impl->normalizer.get());
    if (root.contains("post_processor") && !root["post_processor"].is_null())
      impl->post_processor = post_processor(root["post_processor"]);
    if (root.contains("decoder") && !root["decoder"].is_null())
      impl->decoder = decoder(root["decoder"]);
    return impl;
  }

 private:
  std::filesystem::path path_;
};

// bos_token / eos_token of tokenizer_config.json: a string, {"content": ...}, or null.
std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  return v.at("content").get<std::string>();
}

}  // namespace

std::shared_ptr<const Tokenizer::Impl> load_tokenizer(const std::filesystem::path& tokenizer_json,
                                                      const std::filesystem::path& tokenizer_config) {
  std::shared_ptr<Tokenizer::Impl> impl;
  {
    const json root = parse_file(tokenizer_json);
    try {
      impl = Loader(tokenizer_json).load(root);
    } catch (const json::exception& e) {
      throw Error(tokenizer_json, std::string("malformed tokenizer.json: ") + e.what());
    }
  }
  if (tokenizer_config.empty()) return impl;

  const json config = parse_file(tokenizer_config);
  try {
    auto resolve = [&](const char* key) -> std::optional<int32_t> {
      const auto token = config_token(config, key);
      if (!token) return std::nullopt;
      if (auto id = impl->added.find_content(*token)) return id;
      if (auto id = impl->model->token_to_id(*token)) return id;
      throw Error(tokenizer_config, std::string(key) + " \"" + *token + "\" is not in the vocabulary");
    };
    impl->bos_id = resolve("bos_token");
    impl->eos_id = resolve("eos_token");
  } catch (const json::exception& e) {
    throw Error(tokenizer_config, std::string("malformed tokenizer_config.json: ") + e.what());
  }
  return impl;
}

}  // namespace duo
