// PretrainConfig's YAML side. One table names every key with where it lives and its allowed
// range; loading, --set and to_yaml all walk that table, so they cannot disagree.
#include "pretrain_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <variant>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace duo {
namespace {

using Target = std::variant<int64_t*, uint64_t*, double*, std::string*, std::vector<std::string>*,
                            std::vector<int64_t>*>;

struct Field {
  std::string key;  // "section.name"
  Target target;
  double lo = -std::numeric_limits<double>::infinity();  // numbers (and list elements): [lo, hi]
  double hi = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices = {};  // strings: allowed values, when listed
};

std::vector<Field> fields(PretrainConfig& c) {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"model.hidden_size", &c.model.hidden_size, 1, 65536},
      {"model.intermediate_size", &c.model.intermediate_size, 1, 1 << 20},
      {"model.num_layers", &c.model.num_layers, 1, 256},
      {"model.num_heads", &c.model.num_heads, 1, 1024},
      {"model.num_kv_heads", &c.model.num_kv_heads, 1, 1024},
      {"model.head_dim", &c.model.head_dim, 2, 1024},
      {"model.rope_theta", &c.model.rope_theta, 1, inf},
      {"model.rms_norm_eps", &c.model.rms_norm_eps, 1e-12, 1},
      {"model.tokenizer", &c.model.tokenizer},
      {"data.context", &c.data.context, 16, 1 << 20},
      {"data.haystack_files", &c.data.haystack_files},
      {"data.passkey_sample_fraction", &c.data.passkey_sample_fraction, 0, 1},
      {"data.num_passkeys", &c.data.num_passkeys, 1, 100},
      {"data.passkey_words", &c.data.passkey_words, 1, 1000},
      {"data.passkey_context_min", &c.data.passkey_context_min, 16, 1 << 20},
      {"data.tasks_min", &c.data.tasks_min, 0, 1000},
      {"data.tasks_max", &c.data.tasks_max, 0, 1000},
      {"data.copy_task_fraction", &c.data.copy_task_fraction, 0, 1},
      {"data.near_question_fraction", &c.data.near_question_fraction, 0, 1},
      {"data.near_tokens", &c.data.near_tokens, 1, 1 << 20},
      {"data.words_min", &c.data.words_min, 1, 1000},
      {"data.words_max", &c.data.words_max, 1, 1000},
      {"data.phrase_min", &c.data.phrase_min, 2, 100000},
      {"data.phrase_max", &c.data.phrase_max, 2, 100000},
      {"data.answer_weight", &c.data.answer_weight, 0, 1000},
      {"data.text_weight", &c.data.text_weight, 0, 1000},
      {"data.copy_sample_fraction", &c.data.copy_sample_fraction, 0, 1},
      {"data.copy_warmup_steps", &c.data.copy_warmup_steps, 0, 1e9},
      {"data.seed", &c.data.seed, 0, inf},
      {"train.device", &c.train.device, 0, 0, {"cuda", "cpu"}},
      {"train.precision", &c.train.precision, 0, 0, {"bf16", "fp32"}},
      {"train.steps", &c.train.steps, 1, 1e9},
      {"train.time_budget_s", &c.train.time_budget_s, 0, inf},
      {"train.batch", &c.train.batch, 1, 1 << 20},
      {"train.lr", &c.train.lr, 0, 10},
      {"train.min_lr_ratio", &c.train.min_lr_ratio, 0, 1},
      {"train.warmup_steps", &c.train.warmup_steps, 0, 1e9},
      {"train.weight_decay", &c.train.weight_decay, 0, 10},
      {"train.beta1", &c.train.beta1, 0, 0.999999},
      {"train.beta2", &c.train.beta2, 0, 0.999999},
      {"train.grad_clip", &c.train.grad_clip, 0, inf},
      {"train.log_every", &c.train.log_every, 1, 1e9},
      {"train.save_every", &c.train.save_every, 1, 1e9},
      {"train.seed", &c.train.seed, 0, inf},
      {"eval.lengths", &c.eval.lengths, 16, 1 << 20},
      {"eval.samples", &c.eval.samples, 1, 1e6},
      {"eval.batch", &c.eval.batch, 1, 4096},
      {"eval.seed", &c.eval.seed, 0, inf},
  };
}

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& problem) {
  throw Error(where + ": " + key + ": " + problem);
}

std::string range_text(const Field& f) {
  std::ostringstream s;
  s << "in [" << f.lo << ", " << f.hi << "]";
  return s.str();
}

// Integers are read as doubles, exact up to 2^53; a larger one, cast back to int64_t or uint64_t,
// could be out of the type's range (undefined), so a field without an upper bound stops there.
constexpr double kMaxExactInteger = 9007199254740992.0;

// yaml-cpp hands other bytes through as they are, and its escapes \N and \_ come out as one byte
// each (0x85, 0xA0): a path or name holding them is not the text the file shows.
void require_utf8(const YAML::Node& n, const Field& f, const std::string& where) {
  if (utf8::find_invalid(n.Scalar()) != utf8::npos)
    fail(where, f.key, "expected a string, got text that is not UTF-8 (an escape such as \\N?)");
}

double read_number(const YAML::Node& n, const Field& table_field, const std::string& where, bool integer) {
  Field f = table_field;
  if (integer) f.hi = std::min(f.hi, kMaxExactInteger);
  const std::string what = std::string(integer ? "an integer " : "a number ") + range_text(f);
  if (!n.IsScalar()) fail(where, f.key, "expected " + what);
  const std::string s = n.Scalar();
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || !std::isfinite(v) || (integer && v != std::floor(v)))
    fail(where, f.key, "expected " + what + ", got '" + s + "'");
  if (v < f.lo || v > f.hi) fail(where, f.key, "expected " + what + ", got " + s);
  return v;
}

void set_field(const Field& f, const YAML::Node& n, const std::string& where) {
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          *p = static_cast<int64_t>(read_number(n, f, where, true));
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          *p = static_cast<uint64_t>(read_number(n, f, where, true));
        } else if constexpr (std::is_same_v<T, double>) {
          *p = read_number(n, f, where, false);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!n.IsScalar()) fail(where, f.key, "expected a string");
          require_utf8(n, f, where);
          if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), n.Scalar()) == f.choices.end()) {
            std::string all;
            for (const auto& c : f.choices) all += (all.empty() ? "" : ", ") + c;
            fail(where, f.key, "expected one of " + all + ", got '" + n.Scalar() + "'");
          }
          *p = n.Scalar();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (!n.IsSequence()) fail(where, f.key, "expected a list of strings");
          p->clear();
          for (const auto& e : n) {
            if (!e.IsScalar()) fail(where, f.key, "expected a list of strings");
            require_utf8(e, f, where);
            p->push_back(e.Scalar());
          }
        } else {
          if (!n.IsSequence() || n.size() == 0) fail(where, f.key, "expected a non-empty list of integers");
          p->clear();
          for (const auto& e : n) p->push_back(static_cast<int64_t>(read_number(e, f, where, true)));
        }
      },
      f.target);
}

const Field* find_field(const std::vector<Field>& table, const std::string& key) {
  for (const Field& f : table)
    if (f.key == key) return &f;
  return nullptr;
}

}  // namespace

PretrainConfig PretrainConfig::load(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw Error(file, "cannot read the file");
  } catch (const YAML::Exception& e) {
    throw Error(file, std::string("not valid YAML: ") + e.what());
  }
  PretrainConfig c;
  const std::vector<Field> table = fields(c);
  if (!root.IsMap()) throw Error(file, "expected a mapping of sections (model, data, train, eval)");
  // A key is a name; YAML also allows a list or a mapping there ("? [a, b]: 1").
  auto name_of = [&](const YAML::Node& key, const std::string& at) {
    if (!key.IsScalar()) throw Error(at + ": expected a key name, got a " + (key.IsSequence() ? "list" : "mapping"));
    return key.Scalar();
  };
  for (const auto& section : root) {
    const std::string where = file.string() + ":" + std::to_string(section.first.Mark().line + 1);
    const std::string name = name_of(section.first, where);
    if (!section.second.IsMap()) fail(where, name, "expected a mapping (unknown section?)");
    for (const auto& kv : section.second) {
      const std::string at = file.string() + ":" + std::to_string(kv.first.Mark().line + 1);
      const std::string key = name + "." + name_of(kv.first, at);
      const Field* f = find_field(table, key);
      if (!f) fail(at, key, "unknown key");
      set_field(*f, kv.second, at);
    }
  }
  c.validate();
  return c;
}

void PretrainConfig::apply_overrides(const std::vector<std::string>& assignments) {
  const std::vector<Field> table = fields(*this);
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos) throw Error("--set " + a + ": expected KEY=VALUE");
    const std::string key = a.substr(0, eq);
    const Field* f = find_field(table, key);
    if (!f) fail("--set", key, "unknown key");
    YAML::Node value;
    try {
      value = YAML::Load(a.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail("--set", key, std::string("not valid YAML: ") + e.what());
    }
    set_field(*f, value, "--set");
  }
  validate();
}

void PretrainConfig::validate() const {
  const std::string at = "configuration";
  if (model.num_heads % model.num_kv_heads != 0)
    fail(at, "model.num_heads", "must be a multiple of model.num_kv_heads");
  if (model.head_dim % 2 != 0) fail(at, "model.head_dim", "must be even (RoPE rotates pairs)");
  if (data.tasks_min > data.tasks_max) fail(at, "data.tasks_min", "must not exceed data.tasks_max");
  if (data.words_min > data.words_max) fail(at, "data.words_min", "must not exceed data.words_max");
  if (data.phrase_min > data.phrase_max) fail(at, "data.phrase_min", "must not exceed data.phrase_max");
  if (data.passkey_context_min > data.context)
    fail(at, "data.passkey_context_min", "must not exceed data.context");
  if (data.passkey_sample_fraction + data.copy_sample_fraction > 1)
    fail(at, "data.copy_sample_fraction", "plus data.passkey_sample_fraction must not exceed 1");
  if (train.min_lr_ratio > 1) fail(at, "train.min_lr_ratio", "must not exceed 1");
}

std::string PretrainConfig::to_yaml() const {
  PretrainConfig copy = *this;
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const Field& f : fields(copy)) {
    const std::string sec = f.key.substr(0, f.key.find('.')), name = f.key.substr(f.key.find('.') + 1);
    if (sec != section) {
      if (!section.empty()) out << YAML::EndMap;
      out << YAML::Key << sec << YAML::Value << YAML::BeginMap;
      section = sec;
    }
    out << YAML::Key << name << YAML::Value;
    std::visit(
        [&](auto* p) {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<int64_t>>)
            out << YAML::Flow << *p;
          else if constexpr (std::is_same_v<T, double>)
            out << YAML::Precision(10) << *p;
          else
            out << *p;
        },
        f.target);
  }
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace duo
