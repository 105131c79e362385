// Writing and reading our pattern JSON (docs/pattern-format.md).
#include "analysis/pattern_json.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/text_file.h"

namespace duo::analysis {

void write_pattern_json(const std::filesystem::path& path, const Pattern& p, const GateSet& g) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["format"] = kPatternFormat;
  doc["schema_version"] = kPatternSchemaVersion;
  doc["toolkit_version"] = DUO_VERSION;
  doc["model"] = {{"name", g.model_name}, {"architecture", g.architecture}};
  doc["num_layers"] = p.num_layers;
  doc["num_kv_heads"] = p.num_kv_heads;
  if (g.num_heads > 0) {
    doc["num_heads"] = g.num_heads;
    doc["gqa_group_size"] = g.num_heads / p.num_kv_heads;
  } else {
    doc["num_heads"] = nullptr;
    doc["gqa_group_size"] = nullptr;
  }
  doc["sink"] = p.window.sink;
  doc["recent"] = p.window.recent;
  doc["window_source"] = p.window_source;
  doc["trained_window"] = p.trained_window ? json{{"sink", p.trained_window->sink}, {"recent", p.trained_window->recent}}
                                           : json(nullptr);
  doc["rule"] = p.rule;
  doc["requested_sparsity"] = p.requested_sparsity ? json(*p.requested_sparsity) : json(nullptr);
  doc["sparsity"] = p.sparsity;
  doc["threshold"] = p.threshold ? json(*p.threshold) : json(nullptr);
  doc["retrieval_heads"] = p.retrieval_count();
  doc["streaming_heads"] = static_cast<int>(p.retrieval.size()) - p.retrieval_count();
  json saved = json::object();
  for (int64_t length : kReportedContexts) saved[std::to_string(length)] = p.kv_cache_saved(length);
  doc["kv_cache_saved"] = std::move(saved);
  doc["source"] = {{"path", g.source.string()}, {"kind", g.kind}};
  doc["source"]["step"] = g.step >= 0 ? json(g.step) : json(nullptr);
  json heads = json::array();
  for (int l = 0; l < p.num_layers; ++l)
    for (int h = 0; h < p.num_kv_heads; ++h)
      heads.push_back({{"layer", l},
                       {"kv_head", h},
                       {"gate", p.gates[static_cast<size_t>(l) * p.num_kv_heads + h]},
                       {"role", p.is_retrieval(l, h) ? "retrieval" : "streaming"}});
  doc["heads"] = std::move(heads);
  write_text_file(path, doc.dump(2) + "\n");
}

PatternFile read_pattern_json(const std::filesystem::path& path) {
  using nlohmann::json;
  std::ifstream in(path);
  if (!in) throw Error(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
  // An integer field: a JSON integer in [lo, hi], lo >= 0 (2.5, 1e300 or -1 for a count are not,
  // and no double is ever cast to an int; an unsigned beyond int64 reads as negative).
  auto integer = [&](const json& v, const std::string& key, int64_t lo, int64_t hi) {
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw Error(path, key + " is " + v.dump() + ", not an integer in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
    return v.get<int64_t>();
  };
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  try {
    if (!doc.is_object() || doc.value("format", "") != kPatternFormat)
      throw Error(path, std::string("not a duo pattern file (no \"format\": \"") + kPatternFormat + "\")");
    const int64_t version = integer(doc.at("schema_version"), "schema_version", 1, kMaxInt);
    if (version > kPatternSchemaVersion)
      throw Error(path, "pattern schema version " + std::to_string(version) + " is newer than this build reads (up to " +
                            std::to_string(kPatternSchemaVersion) + "); update duo");
    PatternFile file;
    GateSet& g = file.gates;
    g.source = path;
    g.kind = "pattern";
    g.model_name = doc.at("model").value("name", "");
    g.architecture = doc.at("model").value("architecture", "");
    g.num_layers = static_cast<int>(integer(doc.at("num_layers"), "num_layers", 1, kMaxInt));
    g.num_kv_heads = static_cast<int>(integer(doc.at("num_kv_heads"), "num_kv_heads", 1, kMaxInt));
    if (!doc.at("num_heads").is_null()) {
      g.num_heads = static_cast<int>(integer(doc.at("num_heads"), "num_heads", 1, kMaxInt));
      if (g.num_heads % g.num_kv_heads != 0)
        throw Error(path, "num_heads (" + std::to_string(g.num_heads) + ") is not a multiple of num_kv_heads (" +
                              std::to_string(g.num_kv_heads) + ")");
    }
    // One entry per head, checked before anything is sized by num_layers x num_kv_heads.
    const json& heads = doc.at("heads");
    const int64_t n_heads = int64_t{g.num_layers} * g.num_kv_heads;
    if (!heads.is_array() || static_cast<int64_t>(heads.size()) != n_heads)
      throw Error(path, "\"heads\" must list num_layers x num_kv_heads = " + std::to_string(n_heads) + " heads" +
                            (heads.is_array() ? ", not " + std::to_string(heads.size()) : ""));

    Pattern& p = file.pattern;
    p.num_layers = g.num_layers;
    p.num_kv_heads = g.num_kv_heads;
    p.rule = doc.at("rule").get<std::string>();
    if (p.rule != "sparsity" && p.rule != "threshold")
      throw Error(path, "rule \"" + p.rule + "\" is neither \"sparsity\" nor \"threshold\"");
    if (!doc.at("requested_sparsity").is_null()) {
      p.requested_sparsity = doc.at("requested_sparsity").get<double>();
      if (!(*p.requested_sparsity >= 0 && *p.requested_sparsity <= 1))
        throw Error(path, "requested_sparsity is " + doc.at("requested_sparsity").dump() + ", not in [0, 1]");
    }
    if (!doc.at("threshold").is_null()) p.threshold = doc.at("threshold").get<double>();
    // A window size: a JSON integer in [0, kMaxWindowTokens] (1e12 or 2.5 are not).
    auto window_size = [&](const json& v, const std::string& key) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxWindowTokens)
        throw Error(path, key + " is " + v.dump() + ", not an integer in [0, " + std::to_string(kMaxWindowTokens) + "]");
      return v.get<int64_t>();
    };
    p.window = StreamingWindow{window_size(doc.at("sink"), "sink"), window_size(doc.at("recent"), "recent")};
    if (doc.contains("window_source")) {
      p.window_source = doc.at("window_source").get<std::string>();
      if (p.window_source != "trained" && p.window_source != "override" && p.window_source != "default")
        throw Error(path, "window_source \"" + p.window_source + "\" is none of \"trained\", \"override\", \"default\"");
      if (p.window_source == "trained") {
        p.trained_window = p.window;
      } else if (p.window_source == "override" && !doc.at("trained_window").is_null()) {
        const json& t = doc.at("trained_window");
        p.trained_window = StreamingWindow{window_size(t.at("sink"), "trained_window.sink"),
                                           window_size(t.at("recent"), "trained_window.recent")};
      }
    } else {
      // Written before the window's source was recorded: the window was --sink/--recent as
      // given, 64 + 256 unless the user chose otherwise, whatever the gates were trained with.
      p.window_source = p.window == kDeploymentWindow ? "default" : "override";
    }
    g.window = p.window;

    const size_t n = static_cast<size_t>(g.num_layers) * g.num_kv_heads;
    g.gates.assign(n, 0.0f);
    p.retrieval.assign(n, 0);
    std::vector<uint8_t> seen(n, 0);
    for (const json& head : heads) {
      const json &layer = head.at("layer"), &kv_head = head.at("kv_head");
      if (!layer.is_number_integer() || !kv_head.is_number_integer() || layer.get<int64_t>() < 0 ||
          layer.get<int64_t>() >= g.num_layers || kv_head.get<int64_t>() < 0 || kv_head.get<int64_t>() >= g.num_kv_heads)
        throw Error(path, "head (layer " + layer.dump() + ", kv_head " + kv_head.dump() + ") is out of range");
      const int l = layer.get<int>(), h = kv_head.get<int>();
      const size_t i = static_cast<size_t>(l) * g.num_kv_heads + h;
      // Gates lie in [0, 1]: duo-train clamps them there, and so does the reference loader for
      // its TSV (gate_set.cpp); a value outside, or one that overflowed to infinity, is refused.
      const double gate = head.at("gate").get<double>();
      if (!(gate >= 0 && gate <= 1)) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%.9g", gate);
        throw Error(path, "head (layer " + std::to_string(l) + ", kv_head " + std::to_string(h) + ") has gate " +
                              shown + ", not in [0, 1]");
      }
      g.gates[i] = static_cast<float>(gate);
      const std::string role = head.at("role").get<std::string>();
      if (role != "retrieval" && role != "streaming")
        throw Error(path, "head (layer " + std::to_string(l) + ", kv_head " + std::to_string(h) + ") has role \"" + role +
                              "\", neither \"retrieval\" nor \"streaming\"");
      p.retrieval[i] = role == "retrieval" ? 1 : 0;
      seen[i] = 1;
    }
    if (std::count(seen.begin(), seen.end(), 0) != 0) throw Error(path, "\"heads\" does not list every (layer, kv_head)");
    p.gates = g.gates;
    p.sparsity = 1.0 - p.retrieval_count() / static_cast<double>(n);
    return file;
  } catch (const json::exception& e) {
    throw Error(path, std::string("malformed pattern file: ") + e.what());
  }
}

}  // namespace duo::analysis
