// The configuration engine's YAML side (yaml-cpp stays inside this file).
#include "config/schema.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace duo::config {

std::string Origin::where() const { return line > 0 ? source + ":" + std::to_string(line) : source; }

void fail(const Origin& origin, std::string_view key, const std::string& problem) {
  throw Error(origin.where() + ": " + std::string(key) + ": " + problem);
}

std::string format_double(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string Range::text() const {
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (has_lo && has_hi && !lo_open) return "in [" + format_double(lo) + ", " + format_double(hi) + "]";
  if (has_lo && has_hi) return "in (" + format_double(lo) + ", " + format_double(hi) + "]";
  if (has_lo) return std::string(lo_open ? "> " : ">= ") + format_double(lo);
  if (has_hi) return "<= " + format_double(hi);
  return "";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string nearest(std::string_view name, const std::vector<std::string>& candidates) {
  // Levenshtein distance with adjacent transpositions, over bytes (keys are ASCII).
  const auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
      for (std::size_t j = 1; j <= b.size(); ++j) {
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    return d[a.size()][b.size()];
  };
  if (name.size() > 64) return "";  // nobody mistypes a key that long
  // Edits allowed: one in a name of up to 3 letters, two up to 6, a third of the name beyond.
  const std::size_t allowed = name.size() <= 3 ? 1 : name.size() <= 6 ? 2 : name.size() / 3;
  std::string best;
  std::size_t best_distance = allowed + 1;
  for (const std::string& c : candidates) {
    const std::size_t dist = distance(name, c);
    if (dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  if (!best.empty()) return best;
  // Or a name that one of them begins with ("optimizer" for optim, "seed_value" for seed).
  for (const std::string& c : candidates)
    if (std::min(c.size(), name.size()) >= 3 && (name.starts_with(c) || std::string_view(c).starts_with(name)))
      return c;
  return "";
}

// ---------------------------------------------------------------------------------------------
// Keys

namespace {

Key make(std::string name, Target target) { return Key{std::move(name), std::move(target)}; }

}  // namespace

Key flag(std::string name, bool& value) { return make(std::move(name), &value); }

Key integer(std::string name, int64_t& value, int64_t min, int64_t max) {
  Key k = make(std::move(name), &value);
  k.min = min;
  k.max = max;
  return k;
}

Key integer(std::string name, uint64_t& value, uint64_t max) {
  Key k = make(std::move(name), &value);
  k.umax = max;
  return k;
}

Key number(std::string name, double& value, Range range) {
  Key k = make(std::move(name), &value);
  k.range = range;
  return k;
}

Key text(std::string name, std::string& value, Empty empty) {
  Key k = make(std::move(name), &value);
  k.empty = empty;
  return k;
}

Key one_of(std::string name, std::string& value, std::vector<std::string> choices) {
  Key k = make(std::move(name), &value);
  k.empty = Empty::refused;
  k.choices = std::move(choices);
  return k;
}

Key path(std::string name, std::filesystem::path& value, Empty empty) {
  Key k = make(std::move(name), &value);
  k.empty = empty;
  return k;
}

Key text_list(std::string name, std::vector<std::string>& value, Empty empty) {
  Key k = make(std::move(name), &value);
  k.empty = empty;
  return k;
}

Key path_list(std::string name, std::vector<std::filesystem::path>& value, Empty empty) {
  Key k = make(std::move(name), &value);
  k.empty = empty;
  return k;
}

Key integer_list(std::string name, std::vector<int64_t>& value, int64_t min, int64_t max) {
  Key k = make(std::move(name), &value);
  k.min = min;
  k.max = max;
  k.empty = Empty::refused;
  return k;
}

// ---------------------------------------------------------------------------------------------
// Reading one value

namespace {

Origin origin_of(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return {source, mark.line >= 0 ? mark.line + 1 : 0};
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

std::string scalar_or_fail(const YAML::Node& node, const Origin& origin, const std::string& key,
                           const std::string& expected) {
  if (!node.IsScalar()) fail(origin, key, "expected " + expected + ", got " + describe(node));
  // The escapes \N and \_ come out of yaml-cpp as one byte each (0x85, 0xA0), not UTF-8.
  if (utf8::find_invalid(node.Scalar()) != utf8::npos)
    fail(origin, key, "expected " + expected + ", got text that is not UTF-8 (an escape such as \\N?)");
  return node.Scalar();
}

std::string int_range_text(bool has_lo, bool has_hi, const std::string& lo, const std::string& hi) {
  if (has_lo && has_hi) return " in [" + lo + ", " + hi + "]";
  if (has_lo) return " >= " + lo;
  if (has_hi) return " <= " + hi;
  return "";
}

std::string expected_integer(const Key& k) {
  if (std::holds_alternative<uint64_t*>(k.target)) return "an integer" + int_range_text(true, true, "0", std::to_string(k.umax));
  constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  return "an integer" + int_range_text(k.min != lo, k.max != hi, std::to_string(k.min), std::to_string(k.max));
}

template <typename Int>
Int read_integer(const YAML::Node& node, const Origin& origin, const std::string& key, const std::string& expected,
                 Int lo, Int hi) {
  const std::string s = scalar_or_fail(node, origin, key, expected);
  Int v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc::result_out_of_range) fail(origin, key, "expected " + expected + ", got " + s);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(origin, key, "expected " + expected + ", got '" + s + "'");
  if (v < lo || v > hi) fail(origin, key, "expected " + expected + ", got " + s);
  return v;
}

std::string read_text(const YAML::Node& node, const Origin& origin, const std::string& key, Empty empty) {
  const std::string expected = empty == Empty::allowed ? "a string" : "a non-empty string";
  std::string v = node.IsNull() ? std::string() : scalar_or_fail(node, origin, key, expected);
  if (v.empty() && empty == Empty::refused) fail(origin, key, "expected " + expected + ", got nothing");
  return v;
}

// The items of a list key, each checked by `item(node, origin, item_key)`.
template <typename T, typename Item>
std::vector<T> read_list(const YAML::Node& node, const Origin& origin, const std::string& key,
                         const std::string& expected, Empty empty, Item item) {
  if (!node.IsSequence()) fail(origin, key, "expected " + expected + ", got " + describe(node));
  if (node.size() == 0 && empty == Empty::refused) fail(origin, key, "expected " + expected + ", got []");
  std::vector<T> out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const Origin at = origin_of(origin.source, node[i]);
    out.push_back(item(node[i], at.line > 0 ? at : origin, key + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::string non_empty_item(const YAML::Node& node, const Origin& at, const std::string& key) {
  std::string s = scalar_or_fail(node, at, key, "a non-empty string");
  if (s.empty()) fail(at, key, "expected a non-empty string, got ''");
  return s;
}

void read_value(const Key& k, const std::string& key, const YAML::Node& node, const Origin& origin) {
  std::visit(
      [&](const auto& target) {
        using T = std::decay_t<decltype(target)>;
        if constexpr (std::is_same_v<T, bool*>) {
          scalar_or_fail(node, origin, key, "true or false");
          try {
            *target = node.as<bool>();
          } catch (const YAML::Exception&) {
            fail(origin, key, "expected true or false, got " + describe(node));
          }
        } else if constexpr (std::is_same_v<T, int64_t*>) {
          *target = read_integer<int64_t>(node, origin, key, expected_integer(k), k.min, k.max);
        } else if constexpr (std::is_same_v<T, uint64_t*>) {
          *target = read_integer<uint64_t>(node, origin, key, expected_integer(k), 0, k.umax);
        } else if constexpr (std::is_same_v<T, double*>) {
          const std::string expected = "a number" + (k.range.text().empty() ? "" : " " + k.range.text());
          const std::string s = scalar_or_fail(node, origin, key, expected);
          double v = 0;
          const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
          if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
            fail(origin, key, "expected " + expected + ", got '" + s + "'");
          if (!k.range.contains(v)) fail(origin, key, "expected " + expected + ", got " + s);
          *target = v;
        } else if constexpr (std::is_same_v<T, std::string*>) {
          if (k.choices.empty()) {
            *target = read_text(node, origin, key, k.empty);
          } else {
            const std::string expected = "one of " + join(k.choices);
            const std::string s = scalar_or_fail(node, origin, key, expected);
            if (std::find(k.choices.begin(), k.choices.end(), s) == k.choices.end())
              fail(origin, key, "expected " + expected + ", got '" + s + "'");
            *target = s;
          }
        } else if constexpr (std::is_same_v<T, std::filesystem::path*>) {
          *target = read_text(node, origin, key, k.empty);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>*>) {
          const std::string expected = k.empty == Empty::allowed ? "a list of strings" : "a non-empty list of strings";
          *target = read_list<std::string>(node, origin, key, expected, k.empty, non_empty_item);
        } else if constexpr (std::is_same_v<T, std::vector<std::filesystem::path>*>) {
          const std::string expected = k.empty == Empty::allowed ? "a list of paths" : "a non-empty list of paths";
          *target = read_list<std::filesystem::path>(node, origin, key, expected, k.empty, non_empty_item);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>*>) {
          const std::string item_expected = expected_integer(k);
          *target = read_list<int64_t>(node, origin, key, "a non-empty list of integers", Empty::refused,
                                       [&](const YAML::Node& n, const Origin& at, const std::string& item_key) {
                                         return read_integer<int64_t>(n, at, item_key, item_expected, k.min, k.max);
                                       });
        } else {
          static_assert(std::is_same_v<T, EnumRef>);
          const std::string expected = "one of " + join(target.names);
          const std::string s = scalar_or_fail(node, origin, key, expected);
          for (std::size_t i = 0; i < target.names.size(); ++i)
            if (s == target.names[i]) {
              target.set(i);
              return;
            }
          fail(origin, key, "expected " + expected + ", got '" + s + "'");
        }
      },
      k.target);
}

void write_value(const Key& k, YAML::Emitter& out) {
  std::visit(
      [&](const auto& target) {
        using T = std::decay_t<decltype(target)>;
        if constexpr (std::is_same_v<T, bool*> || std::is_same_v<T, int64_t*> || std::is_same_v<T, uint64_t*>) {
          out << *target;
        } else if constexpr (std::is_same_v<T, double*>) {
          out << format_double(*target);
        } else if constexpr (std::is_same_v<T, std::string*>) {
          if (k.choices.empty())
            out << YAML::DoubleQuoted << *target;
          else
            out << *target;
        } else if constexpr (std::is_same_v<T, std::filesystem::path*>) {
          out << YAML::DoubleQuoted << target->string();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>*> ||
                             std::is_same_v<T, std::vector<std::filesystem::path>*>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const auto& s : *target) {
            if constexpr (std::is_same_v<T, std::vector<std::string>*>)
              out << YAML::DoubleQuoted << s;
            else
              out << YAML::DoubleQuoted << s.string();
          }
          out << YAML::EndSeq;
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>*>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (int64_t v : *target) out << v;
          out << YAML::EndSeq;
        } else {
          out << target.names.at(target.get());
        }
      },
      k.target);
}

// Text keys take an unquoted --set value literally.
bool literal_in_override(const Key& k) {
  return (std::holds_alternative<std::string*>(k.target) && k.choices.empty()) ||
         std::holds_alternative<std::filesystem::path*>(k.target);
}

const Key* find_key(const Section& s, std::string_view name) {
  for (const Key& k : s.keys)
    if (k.name == name) return &k;
  return nullptr;
}

std::vector<std::string> key_names(const Section& s) {
  std::vector<std::string> out;
  for (const Key& k : s.keys) out.push_back(k.name);
  return out;
}

// A mapping's key must be a name; YAML also allows a list or a mapping there ("? [a, b]: 1").
std::string key_name(const YAML::Node& key, const std::string& source) {
  if (!key.IsScalar())
    throw Error(origin_of(source, key).where() + ": expected a key name, got " +
                (key.IsSequence() ? "a list" : key.IsMap() ? "a mapping" : "nothing"));
  return key.Scalar();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Schema

Schema& Schema::add(Section section) {
  entries_.push_back({std::move(section), false});
  return *this;
}

Schema& Schema::pass_over(std::string section) {
  entries_.push_back({Section{std::move(section)}, true});
  return *this;
}

std::vector<std::string> Schema::section_names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.section.name);
  return out;
}

const Schema::Entry* Schema::find_section(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.section.name == name) return &e;
  return nullptr;
}

std::string Schema::unknown_key_problem(const std::string& key) const {
  const std::size_t dot = key.find('.');
  const Entry* e = dot == std::string::npos ? nullptr : find_section(key.substr(0, dot));
  if (!e || e->passed_over || e->section.keys.empty()) {
    const std::string guess = nearest(key.substr(0, dot), section_names());
    return "unknown key; the sections are " + join(section_names()) + (guess.empty() ? "" : "; did you mean " + guess + "?");
  }
  const std::string guess = nearest(key.substr(dot + 1), key_names(e->section));
  return "unknown key; " + e->section.name + " has " + join(key_names(e->section)) +
         (guess.empty() ? "" : "; did you mean " + guess + "?");
}

void Schema::parse(std::string_view yaml, const std::string& source) const {
  // YAML is UTF-8 here; yaml-cpp would read other bytes as U+FFFD, so a path holding them would
  // name another file, and to_yaml would not read back as the same configuration.
  if (const std::size_t bad = utf8::find_invalid(yaml); bad != utf8::npos)
    throw Error(source + ": not UTF-8 (invalid byte at offset " + std::to_string(bad) + ")");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw Error(source + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (root.IsNull()) return;  // an empty file: all defaults
  if (!root.IsMap())
    throw Error(source + ": expected a mapping of sections (" + join(section_names()) + "), got " + describe(root));
  // yaml-cpp keeps the last of two equal keys without a word; a file that says a thing twice is
  // refused instead, naming the second occurrence.
  std::set<std::string> seen;
  const auto once = [&](const std::string& key, const YAML::Node& where) {
    if (!seen.insert(key).second) fail(origin_of(source, where), key, "given twice");
  };
  for (const auto& section : root) {
    const std::string name = key_name(section.first, source);
    const Entry* entry = find_section(name);
    if (!entry) fail(origin_of(source, section.first), name, unknown_key_problem(name));
    once(name, section.first);
    if (section.second.IsNull()) continue;
    const Section& s = entry->section;
    if (!section.second.IsMap())
      fail(origin_of(source, section.second), name,
           "expected a mapping of keys" + (s.keys.empty() ? std::string() : " (" + join(key_names(s)) + ")") + ", got " +
               describe(section.second));
    for (const auto& item : section.second) {
      const std::string key = name + "." + key_name(item.first, source);
      const Key* k = entry->passed_over ? nullptr : find_key(s, key.substr(name.size() + 1));
      if (!k && !entry->passed_over && !s.open) fail(origin_of(source, item.first), key, unknown_key_problem(key));
      once(key, item.first);
      if (!k) continue;  // another program's key
      const Origin value_at = origin_of(source, item.second);
      read_value(*k, key, item.second, value_at.line > 0 ? value_at : origin_of(source, item.first));
    }
  }
}

void Schema::load(const std::filesystem::path& file) const {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw Error(file, "is a directory, not a configuration file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file, std::filesystem::exists(file, ec) ? "cannot be read" : "no such configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(file, "cannot be read");
  parse(text.str(), file.string());
}

void Schema::set(std::string_view assignment) const {
  const Origin origin{"--set " + std::string(assignment)};
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) throw Error(origin.source + ": expected key.path=value");
  const std::string key(assignment.substr(0, eq));
  const std::string value(assignment.substr(eq + 1));
  const std::size_t dot = key.find('.');
  const Entry* entry = dot == std::string::npos ? nullptr : find_section(key.substr(0, dot));
  const Key* k = entry && !entry->passed_over ? find_key(entry->section, key.substr(dot + 1)) : nullptr;
  if (!k) {
    if (entry && entry->passed_over) {
      std::vector<std::string> read;
      for (const Entry& e : entries_)
        if (!e.passed_over) read.push_back(e.section.name);
      fail(origin, key, "not read here (" + entry->section.name + " is another program's section; the sections read here are " +
                            join(read) + ")");
    }
    if (entry && entry->section.open && !entry->section.keys.empty())
      fail(origin, key, "not read here (of " + entry->section.name + ", only " + join(key_names(entry->section)) + " is)");
    fail(origin, key, unknown_key_problem(key));
  }
  YAML::Node node;
  if (literal_in_override(*k) && (value.empty() || (value[0] != '"' && value[0] != '\''))) {
    node = YAML::Node(value);
  } else {
    try {
      node = YAML::Load(value);
    } catch (const YAML::ParserException& e) {
      fail(origin, key, "the value is not valid YAML: " + e.msg);
    }
  }
  read_value(*k, key, node, origin);
}

std::string Schema::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const Entry& e : entries_) {
    if (e.passed_over) continue;
    out << YAML::Key << e.section.name << YAML::Value << YAML::BeginMap;
    for (const Key& k : e.section.keys) {
      out << YAML::Key << k.name << YAML::Value;
      write_value(k, out);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace duo::config
