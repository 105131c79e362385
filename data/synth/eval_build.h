// Internals of the evaluation tasks (eval_task.h): a sample's draws render a prompt at any
// haystack size, and fit() picks the size that makes the prompt exactly the requested length.
// Shared by ruler.cpp and instructions.cpp; not part of the library's interface.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synth/eval_task.h"
#include "synth/rng.h"
#include "tokenizer/tokenizer.h"

namespace duo::synth::eval {

// Text inserted into a haystack at a depth: the fraction of the haystack's units before it.
struct Piece {
  double depth = 0;
  std::string text;
};

struct Rendered {
  std::string prompt;
  std::size_t context_begin = 0, context_end = 0;  // byte offsets of the haystack in the prompt
  std::vector<std::size_t> piece_offsets;          // per piece, in the draft's order
  std::size_t filler_available = 0;  // characters that may follow the whole units
};

// One sample's draws. render(units, filler, variant): the prompt with `units` whole haystack units
// and the first `filler` characters of the units that would follow, in one of filler_variants()
// ways of writing them (fit() tries the next when no filler of one hits the length exactly).
class Draft {
 public:
  virtual ~Draft() = default;
  virtual Rendered render(int64_t units, std::size_t filler, int variant = 0) const = 0;
  virtual int filler_variants() const { return 1; }
  virtual int64_t probe_units() const { return 16; }  // a size whose token count predicts the rest
  virtual int64_t min_units() const { return 0; }     // fewer make no sample of the task
  virtual int64_t max_units() const { return std::numeric_limits<int32_t>::max(); }
  virtual std::string out_of_units() const { return "the haystack ran out"; }

  EvalSample meta;            // all but prompt, length, positions and the unit counts
  std::vector<Piece> pieces;  // what is inserted; fit() reports them in prompt order
};

// The prompt of exactly `length` tokens (encoded with special tokens): the most whole units that
// fit, then filler characters. Throws duo::Error when the length is too short for the task's
// fixed text or its units run out.
EvalSample fit(const Draft& draft, const Tokenizer& tokenizer, int64_t length);

// "{name}" -> value for each field, in one pass over `text` (values are not searched again).
std::string fill(std::string_view text, const std::vector<std::pair<std::string, std::string>>& fields);

// A template split at "{context}".
struct Split {
  std::string head, tail;
};
Split split_at_context(const std::string& filled_template);

// The sample's random streams: sub-stream `sub` of sample `index` of `task`.
Rng sample_rng(uint64_t seed, std::string_view task, int64_t index, uint64_t sub);
double uniform(Rng& rng);  // [0, 1), 53 bits

// The essay haystack: a text's words (whitespace runs collapsed to one space, as RULER's
// re.sub(r'\s+', " ", essay).split(" ")), repeated when a sample needs more.
class Essay {
 public:
  explicit Essay(const std::vector<std::string>& documents);
  int64_t words() const { return int64_t(starts_.size()); }
  std::string_view word(int64_t i) const;  // i modulo words()
  // Appends words [0, n) with the pieces inserted at sentence boundaries: a piece of depth d goes
  // before sentence floor(S * d) of the S sentences the words make (niah.py's insertion, with
  // sentences ending at a word that ends in . ! or ?, instead of nltk's sent_tokenize); everything
  // joined by single spaces. Then `filler` characters of " word(n) word(n+1) ...".
  void render(int64_t n, const std::vector<Piece>& pieces, std::size_t filler, Rendered& out) const;
  // Distinct lowercase words of letters only, at least `min_letters` long, in order of first use.
  std::vector<std::string> vocabulary(std::size_t min_letters) const;

 private:
  std::string text_;
  std::vector<uint32_t> starts_, sizes_;
  std::vector<uint8_t> ends_sentence_;
};

// A haystack of lines: lines [0, n) from line(i), a piece of depth d inserted before line
// floor(n * d), all joined by "\n" (niah.py's and variable_tracking.py's "noise" and "needle"
// haystacks). Then `filler` characters of four more lines: "\n" line(n) "\n" line(n+1) ... for
// an even variant, " " line(n) " " ... continuing the last line for an odd one, and from variant
// 2 on, lines from further on (n + 1000003 * (variant / 2), ...), whose other keys and values
// shift where the filler's token count skips a value. (Lines of equal token counts make every
// filler of one variant skip the same count, whatever n.)
void render_lines(int64_t n, const std::function<std::string(int64_t)>& line,
                  const std::vector<Piece>& pieces, std::size_t filler, int variant, Rendered& out);

// Appends the first `count` characters of `text`, never cutting a UTF-8 sequence.
void append_prefix(std::string& out, std::string_view text, std::size_t count);

// The tasks, by family: a task makes the draft of each sample.
using Task = EvalGenerator::Task;
// RULER's task names without "ruler:" (niah_single_1, ...), in synthetic.yaml's order.
const std::vector<std::string>& ruler_task_names();
std::unique_ptr<const Task> make_ruler_task(const std::string& name, const EvalConfig& config,
                                            const Tokenizer& tokenizer);
// "instructions" and "system_prompt" (instructions.h).
const std::vector<std::string>& retention_task_names();
std::unique_ptr<const Task> make_retention_task(const std::string& name, const EvalConfig& config,
                                                const Tokenizer& tokenizer);

}  // namespace duo::synth::eval

struct duo::synth::EvalGenerator::Task {
  virtual ~Task() = default;
  virtual std::unique_ptr<eval::Draft> draft(int64_t index, int64_t length) const = 0;
};
