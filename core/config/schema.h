// duo::config: the configuration engine of duo's programs. A program's configuration is a YAML
// mapping of sections, each a mapping of typed keys (`optim.lr: 0.02`). A Schema lists the
// sections and their keys, each bound to the member of a struct that holds its value, with the
// key's type and allowed range; reading a file, applying `--set section.key=value` and writing
// the whole configuration back out (to_yaml) all walk that one list, so a key cannot be readable
// but not writable, or checked in a file but not in an override.
//
// What every schema gets: errors in one line naming the file and line (or the --set argument),
// the key and the problem ("configs/my.yaml:12: optim.lr: expected a number > 0.0, got -0.5");
// an unknown key answered with the keys of its section (or the sections) and the nearest name;
// a key or section given twice refused; text that is not UTF-8 refused (yaml-cpp would hand it
// on, or read it as U+FFFD); integers checked against their range as they are read, so that no
// absurd size reaches an allocation.
//
// A section's struct and its key list belong to the library that uses the values (data/synth
// owns `data`, core/model `model` and `streaming`, train/ `gates`, `optim` and `run`); a
// program's configuration is the schema of the sections it reads. A program that reads another
// program's file for some sections (duo-synth and duo-analyze attention read duo-train's) passes
// over the others by name: they must be mappings, but their keys are not checked.
//
// Checks between keys are the configuration's own: after reading, it calls fail() with an Origin
// naming the file (or "the configuration after --set").
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace duo::config {

// Where a value came from: a file (with its line) or a --set argument.
struct Origin {
  std::string source;  // a file name, "--set optim.lr=1", "the configuration after --set"
  int line = 0;        // 1-based; 0 when unknown or not a file
  std::string where() const;  // "configs/a.yaml:12", or the source alone without a line
};

// Throws duo::Error("<where>: <key>: <problem>").
[[noreturn]] void fail(const Origin& origin, std::string_view key, const std::string& problem);

// The shortest text that reads back as the same double ("0.02", not "0.0200000000000000004"), with
// ".0" added where it would read as an integer.
std::string format_double(double value);

// Upper bounds of the sizes a run can use: up to 2^24 tokens (a context, a window, a block), up
// to a million of a count (context lengths, depths).
inline constexpr int64_t kMaxTokens = int64_t{1} << 24;
inline constexpr int64_t kMaxCount = 1000000;

// A number's allowed values: [lo, hi], or (lo, hi] when lo_open.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
  std::string text() const;  // "in [0.0, 1.0]", "> 0.0", ">= 0.0", or "" for every number
};
inline constexpr Range kUnit{0.0, 1.0};
inline constexpr Range kPositive{0.0, std::numeric_limits<double>::infinity(), true};
inline constexpr Range kNonNegative{0.0};

// Whether a text, path or list key may be empty (an empty value then usually means "use the
// default": data.tokenizer empty is model.path).
enum class Empty { allowed, refused };

// An enumeration, seen through the index of its value among `names`.
struct EnumRef {
  std::vector<std::string> names;
  std::function<std::size_t()> get;
  std::function<void(std::size_t)> set;
};

using Target = std::variant<bool*, int64_t*, uint64_t*, double*, std::string*, std::filesystem::path*,
                            std::vector<std::string>*, std::vector<std::filesystem::path>*,
                            std::vector<int64_t>*, EnumRef>;

// One key: its name within the section, where its value lives, and what it accepts. Made by the
// functions below, never by hand.
struct Key {
  std::string name;
  Target target;
  Range range;                                          // numbers
  int64_t min = std::numeric_limits<int64_t>::min();    // integers (int64_t) and integer lists
  int64_t max = std::numeric_limits<int64_t>::max();
  uint64_t umax = std::numeric_limits<uint64_t>::max(); // integers (uint64_t)
  Empty empty = Empty::allowed;                         // text, paths, lists
  std::vector<std::string> choices;                     // text: the allowed values, when listed
};

Key flag(std::string name, bool& value);
Key integer(std::string name, int64_t& value, int64_t min = std::numeric_limits<int64_t>::min(),
            int64_t max = std::numeric_limits<int64_t>::max());
Key integer(std::string name, uint64_t& value, uint64_t max = std::numeric_limits<uint64_t>::max());
Key number(std::string name, double& value, Range range = {});
// Text is taken literally from an unquoted --set value ("--set data.question=Q: which one?").
Key text(std::string name, std::string& value, Empty empty);
// Text that must be one of `choices` (an enumeration kept as a string).
Key one_of(std::string name, std::string& value, std::vector<std::string> choices);
Key path(std::string name, std::filesystem::path& value, Empty empty);
// Lists of non-empty strings or paths; `empty` says whether the list itself may be [].
Key text_list(std::string name, std::vector<std::string>& value, Empty empty);
Key path_list(std::string name, std::vector<std::filesystem::path>& value, Empty empty);
// A non-empty list of integers, each in [min, max].
Key integer_list(std::string name, std::vector<int64_t>& value, int64_t min, int64_t max);

// An enumeration key; its YAML names are to_string(v) (found by argument-dependent lookup) of
// `values`, in the order errors list them.
template <typename E>
Key choice(std::string name, E& value, std::initializer_list<E> values) {
  EnumRef ref;
  const std::vector<E> all(values);
  for (E v : all) ref.names.push_back(std::string(to_string(v)));
  ref.get = [&value, all] {
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i] == value) return i;
    return std::size_t{0};
  };
  ref.set = [&value, all](std::size_t i) { value = all[i]; };
  return Key{std::move(name), std::move(ref)};
}

struct Section {
  std::string name;
  std::vector<Key> keys;  // in the order to_yaml writes them and errors list them
  // Keys this list does not name are passed over unchecked (and refused in --set): the section is
  // another program's, of which this one reads only some keys (duo-synth reads model.path).
  bool open = false;
};

// The sections of one configuration file, bound to the structs holding their values: build it
// over the configuration object at hand, use it, let it go (it keeps references).
class Schema {
 public:
  Schema& add(Section section);
  // A section of the same file that another program reads and this one does not: a file may hold
  // it (a mapping, its keys unchecked); --set refuses its keys; to_yaml leaves it out.
  Schema& pass_over(std::string section);

  // Reads YAML text into the bound values; keys it leaves out keep theirs, an empty text changes
  // nothing. `source` names the text in errors (a file name). Throws duo::Error.
  void parse(std::string_view yaml, const std::string& source) const;
  // The same from a file: "X: no such configuration file", "X: is a directory, not a
  // configuration file", "X: cannot be read".
  void load(const std::filesystem::path& file) const;
  // "optim.lr=0.01": sets one key with the same checks as a file. The value is YAML, but a text
  // or path key takes an unquoted value literally. Errors name the whole argument as their
  // source: "--set optim.lr=x: optim.lr: expected a number > 0.0, got 'x'".
  void set(std::string_view assignment) const;
  // Every key of every section read, in schema order; parse(to_yaml()) reads back the same
  // values.
  std::string to_yaml() const;

  // The sections' names, in order ("model, data, gates, ...": what a file's top level may hold).
  std::vector<std::string> section_names() const;

 private:
  struct Entry {
    Section section;
    bool passed_over = false;
  };
  const Entry* find_section(std::string_view name) const;
  std::string unknown_key_problem(const std::string& key) const;
  std::vector<Entry> entries_;
};

// "a, b, c"
std::string join(const std::vector<std::string>& items);

// The name among `candidates` nearest to `name` (edit distance), if near enough to be a likely
// typing mistake; "" otherwise.
std::string nearest(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace duo::config
