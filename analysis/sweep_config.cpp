#include "analysis/sweep_config.h"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

// FNV-1a over bytes: identifies gate values and roles (not a security measure).
struct Digest {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  std::string hex() const {
    char s[17];
    std::snprintf(s, sizeof s, "%016" PRIx64, h);
    return s;
  }
};

// Paths are compared as absolute, symlink-resolved paths, so the same directory named from
// another working directory is the same setting.
std::string path_setting(const std::filesystem::path& p) {
  std::error_code ec;
  auto resolved = std::filesystem::weakly_canonical(p, ec);
  return (ec ? std::filesystem::absolute(p) : resolved).lexically_normal().string();
}

std::string gates_setting(const GateSet& g) {
  Digest d;
  d.add(&g.num_layers, sizeof g.num_layers);
  d.add(&g.num_kv_heads, sizeof g.num_kv_heads);
  d.add(g.gates.data(), g.gates.size() * sizeof(float));
  return std::to_string(g.num_layers) + " layers x " + std::to_string(g.num_kv_heads) + " KV heads, values " +
         d.hex();
}

std::string roles_setting(const SweepOptions& o) {
  if (!o.pattern) return "selected from the gates at each sparsity";
  Digest d;
  d.add(o.pattern->retrieval.data(), o.pattern->retrieval.size());
  return "a pattern's own at sparsity " + format_number(o.pattern->sparsity, 6) + ", roles " + d.hex();
}

std::string or_unknown(const std::string& s) { return s.empty() ? "an unrecorded source" : s; }

}  // namespace

std::string describe_finished(size_t cells) {
  return std::to_string(cells) + (cells == 1 ? " finished cell" : " finished cells");
}

SweepConfig sweep_config(const GateSet& gates, const SweepOptions& o, const StreamingWindow& window,
                         const std::string& device) {
  std::string haystack;
  for (const auto& h : o.haystack) {
    if (!haystack.empty()) haystack += ',';
    haystack += path_setting(h);
  }
  SweepConfig c;
  c.settings = {
      {"--model", path_setting(o.model)},
      {"--random-weights", o.random_weights ? "yes" : "no"},
      {"--tokenizer", path_setting(o.tokenizer.empty() ? o.model : o.tokenizer)},
      {"--gates", gates_setting(gates)},
      {"duo roles", roles_setting(o)},
      {"--passkey-words", std::to_string(o.passkey_words)},
      {"--seed", std::to_string(o.seed)},
      {"--haystack", haystack.empty() ? "the system's KJV Bible" : haystack},
      {"window (--sink/--recent)", "sink " + std::to_string(window.sink) + " + recent " + std::to_string(window.recent)},
      {"--chunk", std::to_string(o.chunk)},
      {"--dtype", o.dtype},
      {"--device", device},
  };
  c.gates_source = gates.source.string() + (gates.step >= 0 ? " at step " + std::to_string(gates.step) : "");
  return c;
}

std::string sweep_config_json(const SweepConfig& c) {
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  for (const auto& [name, value] : c.settings) settings[name] = value;
  nlohmann::ordered_json doc = {{"format", kSweepConfigFormat},
                                {"schema_version", kSweepConfigSchemaVersion},
                                {"settings", std::move(settings)},
                                {"gates_source", c.gates_source}};
  return doc.dump(2) + "\n";
}

void write_sweep_config(const std::filesystem::path& path, const SweepConfig& config) {
  write_text_file(path, sweep_config_json(config));
}

std::optional<SweepConfig> read_sweep_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot be read");
  const auto doc = nlohmann::ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kSweepConfigFormat)
    throw Error(path, std::string("not a duo sweep configuration (no \"format\": \"") + kSweepConfigFormat + "\")");
  const auto version = doc.find("schema_version");
  if (version == doc.end() || !version->is_number_integer())
    throw Error(path, "has no integer \"schema_version\"");
  if (version->get<int64_t>() > kSweepConfigSchemaVersion)
    throw Error(path, "sweep configuration schema version " + std::to_string(version->get<int64_t>()) +
                          " is newer than this build reads (up to " + std::to_string(kSweepConfigSchemaVersion) + ")");
  const auto settings = doc.find("settings");
  if (settings == doc.end() || !settings->is_object()) throw Error(path, "has no \"settings\" object");
  SweepConfig c;
  for (auto it = settings->begin(); it != settings->end(); ++it) {
    if (!it.value().is_string()) throw Error(path, "setting \"" + it.key() + "\" is not a string");
    c.settings.emplace_back(it.key(), it.value().get<std::string>());
  }
  const auto source = doc.find("gates_source");
  if (source != doc.end() && source->is_string()) c.gates_source = source->get<std::string>();
  return c;
}

void check_same_sweep(const std::filesystem::path& recorded_path, const SweepConfig& recorded, const SweepConfig& now,
                      size_t finished_cells) {
  auto find = [](const SweepConfig& c, const std::string& name) -> const std::string* {
    for (const auto& [n, v] : c.settings)
      if (n == name) return &v;
    return nullptr;
  };
  std::string differences;
  auto differ = [&](const std::string& name, const std::string& old_value, const std::string& new_value) {
    differences += (differences.empty() ? "" : "; ") + name + " was " + old_value + ", now " + new_value;
  };
  for (const auto& [name, value] : now.settings) {
    const std::string* old = find(recorded, name);
    if (!old)
      differ(name, "not recorded", value);
    else if (*old != value && name == "--gates")
      differ(name, *old + " from " + or_unknown(recorded.gates_source), value + " from " + or_unknown(now.gates_source));
    else if (*old != value)
      differ(name, *old, value);
  }
  for (const auto& [name, value] : recorded.settings)
    if (!find(now, name)) differ(name, value, "not a setting of this build");
  if (differences.empty()) return;
  const auto out = recorded_path.parent_path();
  throw Error(recorded_path, "this sweep's settings differ from those of the " + describe_finished(finished_cells) + " in " +
                                 out.string() + ": " + differences +
                                 ". Use a new --out, or remove " + out.string() + ", to start afresh");
}

}  // namespace duo::analysis
