// The head-score file and the importers of other projects' head scores.
#include "analysis/head_scores.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "analysis/reference_tsv.h"
#include "util/error.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

using json = nlohmann::ordered_json;
constexpr int64_t kMaxInt = std::numeric_limits<int>::max();

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
}

void check_scores(const std::filesystem::path& path, const std::vector<float>& scores, int num_kv_heads) {
  for (size_t i = 0; i < scores.size(); ++i)
    if (!(scores[i] >= 0.0f && scores[i] <= 1.0f))
      throw Error(path, "the score of layer " + std::to_string(i / num_kv_heads) + ", KV head " +
                            std::to_string(i % num_kv_heads) + " is " + std::to_string(scores[i]) + ", not in [0, 1]");
}

}  // namespace

void write_head_scores(const std::filesystem::path& path, const HeadScores& s) {
  json doc;
  doc["format"] = kHeadScoresFormat;
  doc["schema_version"] = kHeadScoresSchemaVersion;
  doc["method"] = s.method;
  doc["description"] = s.description;
  doc["model"] = json{{"name", s.model_name}};
  doc["num_layers"] = s.num_layers;
  doc["num_kv_heads"] = s.num_kv_heads;
  doc["num_heads"] = s.num_heads > 0 ? json(s.num_heads) : json(nullptr);
  doc["fold"] = s.fold;
  doc["source"] = s.source.empty() ? json(nullptr) : json(s.source.string());
  doc["wall_seconds"] = s.wall_seconds;
  doc["options"] = json::parse(s.options_json);
  doc["window"] = s.window ? json{{"sink", s.window->sink}, {"recent", s.window->recent}} : json(nullptr);
  json rows = json::array();
  for (int l = 0; l < s.num_layers; ++l) {
    json row = json::array();
    for (int h = 0; h < s.num_kv_heads; ++h) row.push_back(s.scores[size_t(l) * s.num_kv_heads + h]);
    rows.push_back(std::move(row));
  }
  doc["scores"] = std::move(rows);
  write_text_file(path, doc.dump(1) + "\n");
}

bool is_head_scores_file(const std::filesystem::path& path) {
  if (path.extension() != ".json") return false;
  std::ifstream in(path);
  if (!in) return false;
  const json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return doc.is_object() && doc.contains("format") && doc["format"] == kHeadScoresFormat;
}

GateSet read_head_scores(const std::filesystem::path& path) {
  const json doc = read_json(path);
  auto integer = [&](const json& v, const std::string& key, int64_t lo) {
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > kMaxInt)
      throw Error(path, key + " is " + v.dump() + ", not an integer in [" + std::to_string(lo) + ", " +
                            std::to_string(kMaxInt) + "]");
    return static_cast<int>(v.get<int64_t>());
  };
  try {
    if (!doc.is_object() || doc.value("format", "") != kHeadScoresFormat)
      throw Error(path, std::string("not a head-score file (no \"format\": \"") + kHeadScoresFormat + "\")");
    const int version = integer(doc.at("schema_version"), "schema_version", 1);
    if (version > kHeadScoresSchemaVersion)
      throw Error(path, "head-score schema version " + std::to_string(version) + " is newer than this build reads (up to " +
                            std::to_string(kHeadScoresSchemaVersion) + "); update duo");
    GateSet g;
    g.source = path;
    g.kind = "scores";
    g.model_name = doc.at("model").value("name", "");
    g.num_layers = integer(doc.at("num_layers"), "num_layers", 1);
    g.num_kv_heads = integer(doc.at("num_kv_heads"), "num_kv_heads", 1);
    if (!doc.at("num_heads").is_null()) g.num_heads = integer(doc.at("num_heads"), "num_heads", 1);
    const json& rows = doc.at("scores");
    if (!rows.is_array() || rows.size() != size_t(g.num_layers))
      throw Error(path, "\"scores\" must hold num_layers = " + std::to_string(g.num_layers) + " rows");
    for (size_t l = 0; l < rows.size(); ++l) {
      if (!rows[l].is_array() || rows[l].size() != size_t(g.num_kv_heads))
        throw Error(path, "scores row " + std::to_string(l) + " must hold num_kv_heads = " +
                              std::to_string(g.num_kv_heads) + " numbers");
      for (const json& v : rows[l]) {
        if (!v.is_number()) throw Error(path, "scores row " + std::to_string(l) + " holds " + v.dump() + ", not a number");
        g.gates.push_back(v.get<float>());
      }
    }
    check_scores(path, g.gates, g.num_kv_heads);
    const json& w = doc.at("window");
    if (!w.is_null()) {
      auto size = [&](const char* key) {
        const json& v = w.at(key);
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxWindowTokens)
          throw Error(path, std::string("window.") + key + " is " + v.dump() + ", not an integer in [0, " +
                                std::to_string(kMaxWindowTokens) + "]");
        return v.get<int64_t>();
      };
      g.window = StreamingWindow{size("sink"), size("recent")};
    }
    return g;
  } catch (const json::exception& e) {
    throw Error(path, std::string("malformed head-score file: ") + e.what());
  }
}

HeadScores import_prulong_masks(const std::filesystem::path& tsv) {
  const GateMatrix m = read_reference_tsv(tsv);
  HeadScores s;
  s.method = "prulong";
  s.description = "PruLong's learned masks (masks.tsv): the deterministic hard-concrete mask per KV head, 1 = global";
  s.num_layers = m.rows;
  s.num_kv_heads = m.cols;
  s.source = tsv;
  for (double v : m.values) s.scores.push_back(static_cast<float>(v));
  check_scores(tsv, s.scores, s.num_kv_heads);
  return s;
}

HeadScores import_retrieval_head_json(const std::filesystem::path& path, int num_kv_heads) {
  if (num_kv_heads <= 0) throw Error(path, "the number of KV heads must be positive (--num-kv-heads or --model)");
  const json doc = read_json(path);
  if (!doc.is_object() || doc.empty())
    throw Error(path, "not a Retrieval_Head score file (expected {\"layer-head\": [scores, ...], ...})");
  std::map<std::pair<int, int>, double> mean;  // (layer, query head) -> mean score over tests
  int layers = 0, heads = 0;
  for (const auto& [key, tests] : doc.items()) {
    int layer = -1, head = -1;
    size_t used = 0;
    const size_t dash = key.find('-');
    try {
      if (dash == std::string::npos) throw std::invalid_argument(key);
      layer = std::stoi(key.substr(0, dash), &used);
      if (used != dash) throw std::invalid_argument(key);
      head = std::stoi(key.substr(dash + 1), &used);
      if (used != key.size() - dash - 1) throw std::invalid_argument(key);
    } catch (const std::exception&) {
      throw Error(path, "key \"" + key + "\" is not \"layer-head\"");
    }
    if (layer < 0 || head < 0 || layer > 1 << 16 || head > 1 << 16)
      throw Error(path, "key \"" + key + "\": layer and head must be small non-negative integers");
    if (!tests.is_array() || tests.empty()) throw Error(path, "\"" + key + "\" must hold a non-empty list of scores");
    double sum = 0;
    for (const json& v : tests) {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 || v.get<double>() > 1)
        throw Error(path, "\"" + key + "\" holds " + v.dump() + ", not a score in [0, 1]");
      sum += v.get<double>();
    }
    if (!mean.emplace(std::pair{layer, head}, sum / double(tests.size())).second)
      throw Error(path, "key \"" + key + "\" appears twice");
    layers = std::max(layers, layer + 1);
    heads = std::max(heads, head + 1);
  }
  if (mean.size() != size_t(layers) * size_t(heads))
    throw Error(path, "holds scores of " + std::to_string(mean.size()) + " heads, not of every layer-head of " +
                          std::to_string(layers) + " layers x " + std::to_string(heads) + " heads");
  if (heads % num_kv_heads != 0)
    throw Error(path, "its " + std::to_string(heads) + " query heads per layer do not divide into " +
                          std::to_string(num_kv_heads) + " KV heads");
  const int group = heads / num_kv_heads;
  HeadScores s;
  s.method = "retrieval-head";
  s.description = "Retrieval_Head's retrieval score (Wu et al., 2024): the share of a needle a query head copies "
                  "by attending to it most, mean over tests, max over a KV head's query heads";
  s.num_layers = layers;
  s.num_kv_heads = num_kv_heads;
  s.num_heads = heads;
  s.fold = "max";
  s.source = path;
  s.scores.assign(size_t(layers) * num_kv_heads, 0.0f);
  for (const auto& [lh, value] : mean) {
    float& score = s.scores[size_t(lh.first) * num_kv_heads + lh.second / group];
    score = std::max(score, static_cast<float>(value));
  }
  return s;
}

}  // namespace duo::analysis
