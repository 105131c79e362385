// TrainConfig's YAML side: one table lists every key with its type, range and place in the
// struct, and loading, overriding and writing all walk that table, so a key cannot be readable
// but not writable, or checked in a file but not in an override.
#include "config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "tokenizer/utf8.h"
#include "util/error.h"
#include "util/path_check.h"

namespace duo {

namespace {

// Where a value came from: a file (with its line) or a --set argument.
struct Origin {
  std::string source;
  int line = 0;  // 1-based; 0 when unknown
};

Origin origin_of(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return {source, mark.line >= 0 ? mark.line + 1 : 0};
}

[[noreturn]] void fail(const Origin& origin, const std::string& key, const std::string& problem) {
  std::string where = origin.source;
  if (origin.line > 0) where += ":" + std::to_string(origin.line);
  throw Error(where + ": " + key + ": " + problem);
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

// Shortest text that reads back as the same double ("0.02", not "0.0200000000000000004").
std::string format_double(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;

  bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
  std::string text() const {
    const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
    if (has_lo && has_hi && !lo_open) return "in [" + format_double(lo) + ", " + format_double(hi) + "]";
    if (has_lo && has_hi) return "in (" + format_double(lo) + ", " + format_double(hi) + "]";
    if (has_lo) return std::string(lo_open ? "> " : ">= ") + format_double(lo);
    if (has_hi) return "<= " + format_double(hi);
    return "";
  }
};

const Range kUnit{0.0, 1.0};
const Range kPositive{0.0, std::numeric_limits<double>::infinity(), true};
const Range kNonNegative{0.0};

struct Field {
  std::string key;  // "optim.lr"
  bool text = false;  // a text key: an unquoted --set value is taken literally
  std::function<void(TrainConfig&, const YAML::Node&, const Origin&)> read;
  std::function<void(const TrainConfig&, YAML::Emitter&)> write;
};

template <typename T>
using Access = T& (*)(TrainConfig&);

// One accessor per key serves both reading into a config and writing one out.
template <typename T>
const T& view(Access<T> access, const TrainConfig& c) {
  return access(const_cast<TrainConfig&>(c));
}

std::string scalar_or_fail(const YAML::Node& node, const Origin& origin, const std::string& key,
                           const std::string& expected) {
  if (!node.IsScalar()) fail(origin, key, "expected " + expected + ", got " + describe(node));
  // The escapes \N and \_ come out of yaml-cpp as one byte each (0x85, 0xA0), not UTF-8.
  if (utf8::find_invalid(node.Scalar()) != utf8::npos)
    fail(origin, key, "expected " + expected + ", got text that is not UTF-8 (an escape such as \\N?)");
  return node.Scalar();
}

Field real(std::string key, Access<double> access, Range range) {
  const std::string expected = "a number" + (range.text().empty() ? "" : " " + range.text());
  Field f{key};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    const std::string s = scalar_or_fail(node, origin, key, expected);
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
      fail(origin, key, "expected " + expected + ", got '" + s + "'");
    if (!range.contains(v)) fail(origin, key, "expected " + expected + ", got " + s);
    access(c) = v;
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) { out << format_double(view(access, c)); };
  return f;
}

// Integers are range-checked where they are read, so that no absurd size reaches an allocation
// or a loop: `hi` bounds what a run can use (a batch of 4096 samples, a million depths).
// Upper bounds of sizes a run can use: contexts up to 16M tokens, up to a million context
// lengths, depths or steps (×1000).
constexpr int64_t kMaxTokens = int64_t{1} << 24;
constexpr int64_t kMaxCount = 1000000;

template <typename Int>
Field integer(std::string key, Access<Int> access, Int lo = std::numeric_limits<Int>::min(),
              Int hi = std::numeric_limits<Int>::max()) {
  const bool has_lo = lo != std::numeric_limits<Int>::min(), has_hi = hi != std::numeric_limits<Int>::max();
  const std::string expected = "an integer" + (has_lo && has_hi ? " in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"
                                               : has_lo        ? " >= " + std::to_string(lo)
                                               : has_hi        ? " <= " + std::to_string(hi)
                                                               : "");
  Field f{key};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    const std::string s = scalar_or_fail(node, origin, key, expected);
    Int v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc::result_out_of_range) fail(origin, key, "expected " + expected + ", got " + s);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
      fail(origin, key, "expected " + expected + ", got '" + s + "'");
    if (v < lo || v > hi) fail(origin, key, "expected " + expected + ", got " + s);
    access(c) = v;
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) { out << view(access, c); };
  return f;
}

Field boolean(std::string key, Access<bool> access) {
  Field f{key};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    scalar_or_fail(node, origin, key, "true or false");
    try {
      access(c) = node.as<bool>();
    } catch (const YAML::Exception&) {
      fail(origin, key, "expected true or false, got " + describe(node));
    }
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) { out << view(access, c); };
  return f;
}

// allow_empty: an empty value means "use the default" (e.g. data.tokenizer → model.path).
Field text(std::string key, Access<std::string> access, bool allow_empty) {
  Field f{key, true};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    const std::string expected = allow_empty ? "a string" : "a non-empty string";
    std::string v = node.IsNull() ? std::string() : scalar_or_fail(node, origin, key, expected);
    if (v.empty() && !allow_empty) fail(origin, key, "expected " + expected + ", got nothing");
    access(c) = std::move(v);
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) {
    out << YAML::DoubleQuoted << view(access, c);
  };
  return f;
}

// allow_empty_list: an empty list means "use the default" (data.haystack → the KJV text).
Field text_list(std::string key, Access<std::vector<std::string>> access, bool allow_empty_list) {
  Field f{key};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    const std::string expected = allow_empty_list ? "a list of strings" : "a non-empty list of strings";
    if (!node.IsSequence()) fail(origin, key, "expected " + expected + ", got " + describe(node));
    if (node.size() == 0 && !allow_empty_list) fail(origin, key, "expected " + expected + ", got []");
    std::vector<std::string> v;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_key = key + "[" + std::to_string(i) + "]";
      const Origin item_origin = origin_of(origin.source, node[i]);
      v.push_back(scalar_or_fail(node[i], item_origin, item_key, "a non-empty string"));
      if (v.back().empty()) fail(item_origin, item_key, "expected a non-empty string, got ''");
    }
    access(c) = std::move(v);
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const std::string& s : view(access, c)) out << YAML::DoubleQuoted << s;
    out << YAML::EndSeq;
  };
  return f;
}

template <typename E>
Field choice(std::string key, Access<E> access, std::vector<E> values) {
  std::string expected = "one of";
  for (std::size_t i = 0; i < values.size(); ++i)
    expected += std::string(i ? ", " : " ") + std::string(to_string(values[i]));
  Field f{key};
  f.read = [=](TrainConfig& c, const YAML::Node& node, const Origin& origin) {
    const std::string s = scalar_or_fail(node, origin, key, expected);
    for (E v : values)
      if (s == to_string(v)) {
        access(c) = v;
        return;
      }
    fail(origin, key, "expected " + expected + ", got '" + s + "'");
  };
  f.write = [=](const TrainConfig& c, YAML::Emitter& out) {
    out << std::string(to_string(view(access, c)));
  };
  return f;
}

// Every key, in the order to_yaml writes them. A key's section is the part before the dot.
const std::vector<Field>& fields() {
  using C = TrainConfig;
  static const std::vector<Field> table = {
      text("model.path", [](C& c) -> auto& { return c.model.path; }, true),
      choice<Dtype>("model.dtype", [](C& c) -> auto& { return c.model.dtype; },
                    {Dtype::bf16, Dtype::fp16, Dtype::fp32}),
      choice<DeviceChoice>("model.device", [](C& c) -> auto& { return c.model.device; },
                           {DeviceChoice::automatic, DeviceChoice::cpu, DeviceChoice::cuda}),
      boolean("model.random_config", [](C& c) -> auto& { return c.model.random_config; }),
      integer<uint64_t>("model.seed", [](C& c) -> auto& { return c.model.seed; }),

      text_list("data.haystack", [](C& c) -> auto& { return c.data.haystack; }, true),
      choice<HaystackFormat>("data.format", [](C& c) -> auto& { return c.data.format; },
                             {HaystackFormat::text, HaystackFormat::jsonl}),
      text("data.jsonl_field", [](C& c) -> auto& { return c.data.jsonl_field; }, false),
      text("data.tokenizer", [](C& c) -> auto& { return c.data.tokenizer; }, true),
      integer<uint64_t>("data.seed", [](C& c) -> auto& { return c.data.seed; }),
      integer<int64_t>("data.num_passkeys", [](C& c) -> auto& { return c.data.num_passkeys; }, 1, 10000),
      integer<int64_t>("data.passkey_words", [](C& c) -> auto& { return c.data.passkey_words; }, 1, 10000),
      text_list("data.word_list", [](C& c) -> auto& { return c.data.word_list; }, false),
      real("data.depth_min", [](C& c) -> auto& { return c.data.depth_min; }, kUnit),
      real("data.depth_max", [](C& c) -> auto& { return c.data.depth_max; }, kUnit),
      integer<int64_t>("data.depth_count", [](C& c) -> auto& { return c.data.depth_count; }, 1, kMaxCount),
      integer<int64_t>("data.context_min", [](C& c) -> auto& { return c.data.context_min; }, 1, kMaxTokens),
      integer<int64_t>("data.context_max", [](C& c) -> auto& { return c.data.context_max; }, 1, kMaxTokens),
      integer<int64_t>("data.context_count", [](C& c) -> auto& { return c.data.context_count; }, 1, kMaxCount),
      boolean("data.shuffle", [](C& c) -> auto& { return c.data.shuffle; }),
      text("data.prefix", [](C& c) -> auto& { return c.data.prefix; }, true),
      text("data.suffix", [](C& c) -> auto& { return c.data.suffix; }, true),
      text("data.separator", [](C& c) -> auto& { return c.data.separator; }, true),
      text("data.needle", [](C& c) -> auto& { return c.data.needle; }, false),
      text("data.question", [](C& c) -> auto& { return c.data.question; }, false),
      text("data.answer_prefix", [](C& c) -> auto& { return c.data.answer_prefix; }, true),

      real("gates.init", [](C& c) -> auto& { return c.gates.init; }, kUnit),
      choice<GateMode>("gates.mode", [](C& c) -> auto& { return c.gates.mode; },
                       {GateMode::paper, GateMode::reference}),

      integer<int64_t>("streaming.sink", [](C& c) -> auto& { return c.streaming.sink; }, 0, kMaxTokens),
      integer<int64_t>("streaming.recent", [](C& c) -> auto& { return c.streaming.recent; }, 1, kMaxTokens),
      choice<StreamingGranularity>("streaming.granularity",
                                   [](C& c) -> auto& { return c.streaming.granularity; },
                                   {StreamingGranularity::token, StreamingGranularity::block}),
      integer<int64_t>("streaming.block_size", [](C& c) -> auto& { return c.streaming.block_size; }, 1, kMaxTokens),

      real("optim.lr", [](C& c) -> auto& { return c.optim.lr; }, kPositive),
      real("optim.weight_decay", [](C& c) -> auto& { return c.optim.weight_decay; }, kNonNegative),
      real("optim.reg_weight", [](C& c) -> auto& { return c.optim.reg_weight; }, kNonNegative),
      real("optim.warmup_frac", [](C& c) -> auto& { return c.optim.warmup_frac; }, kUnit),
      real("optim.decay_frac", [](C& c) -> auto& { return c.optim.decay_frac; }, kUnit),
      real("optim.min_lr_ratio", [](C& c) -> auto& { return c.optim.min_lr_ratio; }, kUnit),

      integer<int64_t>("run.steps", [](C& c) -> auto& { return c.run.steps; }, 1, kMaxCount * 1000),
      integer<int64_t>("run.batch", [](C& c) -> auto& { return c.run.batch; }, 1, 4096),
      integer<int64_t>("run.checkpoint_every", [](C& c) -> auto& { return c.run.checkpoint_every; }, 1),
      integer<int64_t>("run.log_every", [](C& c) -> auto& { return c.run.log_every; }, 1),
      boolean("run.activation_checkpointing",
              [](C& c) -> auto& { return c.run.activation_checkpointing; }),
      choice<CheckpointedLayers>("run.checkpointed_layers", [](C& c) -> auto& { return c.run.checkpointed_layers; },
                                 {CheckpointedLayers::all, CheckpointedLayers::automatic}),
      boolean("run.keep_full_attention", [](C& c) -> auto& { return c.run.keep_full_attention; }),
      boolean("run.offload_activations", [](C& c) -> auto& { return c.run.offload_activations; }),
      text("run.out", [](C& c) -> auto& { return c.run.out; }, false),
  };
  return table;
}

std::string section_of(const std::string& key) { return key.substr(0, key.find('.')); }
std::string name_of(const std::string& key) { return key.substr(key.find('.') + 1); }

std::vector<std::string> sections() {
  std::vector<std::string> out;
  for (const Field& f : fields())
    if (out.empty() || out.back() != section_of(f.key)) out.push_back(section_of(f.key));
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::vector<std::string> keys_in(const std::string& section) {
  std::vector<std::string> out;
  for (const Field& f : fields())
    if (section_of(f.key) == section) out.push_back(name_of(f.key));
  return out;
}

const Field* find_field(const std::string& key) {
  for (const Field& f : fields())
    if (f.key == key) return &f;
  return nullptr;
}

std::string unknown_key_problem(const std::string& key) {
  const std::string section = section_of(key);
  const std::vector<std::string> known = keys_in(section);
  if (key.find('.') == std::string::npos || known.empty())
    return "unknown key; the sections are " + join(sections());
  return "unknown key; " + section + " has " + join(known);
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

TrainConfig TrainConfig::parse(std::string_view yaml, const std::string& source) {
  // YAML is UTF-8 here; yaml-cpp would read other bytes as U+FFFD, so a path holding them
  // would name another file, and to_yaml would not read back as the same config.
  if (const size_t bad = utf8::find_invalid(yaml); bad != utf8::npos)
    throw Error(source + ": not UTF-8 (invalid byte at offset " + std::to_string(bad) + ")");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw Error(source + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  TrainConfig c;
  if (root.IsNull()) return c;  // an empty file: all defaults
  if (!root.IsMap())
    throw Error(source + ": expected a mapping of sections (" + join(sections()) + "), got " +
                describe(root));
  // yaml-cpp keeps the last of two equal keys without a word; a config that says a thing twice
  // is refused instead, naming the second occurrence.
  std::set<std::string> seen;
  auto once = [&](const std::string& key, const YAML::Node& where) {
    if (!seen.insert(key).second) fail(origin_of(source, where), key, "given twice");
  };
  for (const auto& section : root) {
    const std::string name = section.first.Scalar();
    const Origin at = origin_of(source, section.first);
    if (keys_in(name).empty()) fail(at, name, unknown_key_problem(name));
    once(name, section.first);
    if (section.second.IsNull()) continue;
    if (!section.second.IsMap())
      fail(origin_of(source, section.second), name,
           "expected a mapping of keys (" + join(keys_in(name)) + "), got " + describe(section.second));
    for (const auto& entry : section.second) {
      const std::string key = name + "." + entry.first.Scalar();
      const Field* field = find_field(key);
      if (!field) fail(origin_of(source, entry.first), key, unknown_key_problem(key));
      once(key, entry.first);
      const Origin value_at = origin_of(source, entry.second);
      field->read(c, entry.second, value_at.line > 0 ? value_at : origin_of(source, entry.first));
    }
  }
  c.validate_as(source);
  return c;
}

TrainConfig TrainConfig::load(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw Error(file, "is a directory, not a configuration file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file, std::filesystem::exists(file, ec) ? "cannot be read" : "no such configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file.string());
}

void TrainConfig::apply_override(std::string_view assignment) {
  const Origin origin{"--set " + std::string(assignment)};
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) throw Error(origin.source + ": expected key.path=value");
  const std::string key(assignment.substr(0, eq));
  const std::string value(assignment.substr(eq + 1));
  const Field* field = find_field(key);
  if (!field) fail(origin, key, unknown_key_problem(key));
  YAML::Node node;
  if (field->text && (value.empty() || (value[0] != '"' && value[0] != '\''))) {
    node = YAML::Node(value);
  } else {
    try {
      node = YAML::Load(value);
    } catch (const YAML::ParserException& e) {
      fail(origin, key, "the value is not valid YAML: " + e.msg);
    }
  }
  field->read(*this, node, origin);
}

void TrainConfig::apply_overrides(const std::vector<std::string>& assignments) {
  for (const std::string& a : assignments) apply_override(a);
  if (!assignments.empty()) validate_as("the configuration after --set");
}

void TrainConfig::validate() const { validate_as("configuration"); }

void TrainConfig::validate_as(const std::string& source) const {
  const Origin at{source};
  if (data.depth_min > data.depth_max)
    fail(at, "data.depth_min", "must not exceed data.depth_max (" + format_double(data.depth_min) +
                                   " > " + format_double(data.depth_max) + ")");
  if (data.context_min > data.context_max)
    fail(at, "data.context_min", "must not exceed data.context_max (" +
                                     std::to_string(data.context_min) + " > " +
                                     std::to_string(data.context_max) + ")");
  if (data.context_count == 1 && data.context_min != data.context_max)
    fail(at, "data.context_count", "is 1, so data.context_min and data.context_max must be equal");
  if (data.num_passkeys > data.depth_count)
    fail(at, "data.num_passkeys", "each passkey needs its own depth, but data.depth_count is " +
                                      std::to_string(data.depth_count));
  // With several passkeys, a question that does not say which one has no single answer.
  const auto names_passkey = [](const std::string& s) {
    return contains(s, "{ordinal}") || contains(s, "{index}");
  };
  if (data.num_passkeys > 1 && !names_passkey(data.needle))
    fail(at, "data.needle", "must name the passkey with {ordinal} or {index}");
  if (data.num_passkeys > 1 && !names_passkey(data.question))
    fail(at, "data.question", "must name the passkey with {ordinal} or {index}");
  if (optim.warmup_frac + optim.decay_frac > 1.0)
    fail(at, "optim.warmup_frac", "plus optim.decay_frac must not exceed 1");
  if (streaming.granularity == StreamingGranularity::block) {
    if (streaming.sink % streaming.block_size != 0)
      fail(at, "streaming.sink", "must be a multiple of streaming.block_size (" +
                                     std::to_string(streaming.block_size) +
                                     ") when streaming.granularity is block");
    if (streaming.recent % streaming.block_size != 0)
      fail(at, "streaming.recent", "must be a multiple of streaming.block_size (" +
                                       std::to_string(streaming.block_size) +
                                       ") when streaming.granularity is block");
  }
  // A window that holds the longest context makes streaming attention full attention: the loss
  // is zero whatever the gates, and training learns nothing.
  if (streaming.sink + streaming.recent >= data.context_max)
    fail(at, "streaming.sink", "plus streaming.recent (" + std::to_string(streaming.sink + streaming.recent) +
                                   ") covers every context (data.context_max " + std::to_string(data.context_max) +
                                   "): streaming heads would see everything and the gates learn nothing");
}

std::string TrainConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open;
  for (const Field& f : fields()) {
    const std::string section = section_of(f.key);
    if (section != open) {
      if (!open.empty()) out << YAML::EndMap;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open = section;
    }
    out << YAML::Key << name_of(f.key) << YAML::Value;
    f.write(*this, out);
  }
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::filesystem::path TrainConfig::tokenizer_dir() const {
  return data.tokenizer.empty() ? std::filesystem::path(model.path)
                                : std::filesystem::path(data.tokenizer);
}

void TrainConfig::check_input_paths(std::string_view model_flag) const {
  if (!model.path.empty())  // an empty one is reported where the model loads
    require_directory(model.path, model_flag,
                      model.random_config ? "a directory holding config.json" : "a checkpoint directory");
  if (!data.tokenizer.empty()) require_directory(data.tokenizer, "data.tokenizer", "a tokenizer directory");
  for (const std::string& file : data.haystack) require_file(file, "data.haystack", "text files");
}

std::string_view to_string(Dtype v) {
  switch (v) {
    case Dtype::bf16: return "bf16";
    case Dtype::fp16: return "fp16";
    case Dtype::fp32: return "fp32";
  }
  return "?";
}

std::string_view to_string(DeviceChoice v) {
  switch (v) {
    case DeviceChoice::automatic: return "auto";
    case DeviceChoice::cpu: return "cpu";
    case DeviceChoice::cuda: return "cuda";
  }
  return "?";
}

std::string_view to_string(HaystackFormat v) {
  return v == HaystackFormat::text ? "text" : "jsonl";
}

std::string_view to_string(GateMode v) { return v == GateMode::paper ? "paper" : "reference"; }

std::string_view to_string(CheckpointedLayers v) { return v == CheckpointedLayers::all ? "all" : "auto"; }

std::string_view to_string(StreamingGranularity v) {
  return v == StreamingGranularity::token ? "token" : "block";
}

}  // namespace duo
