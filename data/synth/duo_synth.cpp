// duo-synth: prints synthetic passkey-retrieval samples as the trainer sees them, with the
// passkeys hidden in the haystack marked «…» and the question/answer block the loss covers
// marked ⟦…⟧ (in colour instead on a terminal), or as JSON lines with the ids and spans.
//
//   duo-synth --config configs/llama3-8b.yaml --index 3
//   duo-synth --tokenizer models/tiny-random --length 2000 --passkeys 2 --words 4
//   duo-synth --config configs/llama3-8b.yaml --count 50 --json > samples.jsonl
//
// With --task it prints evaluation samples instead (eval_task.h: RULER's synthetic tasks and
// instruction retention), one JSON line each:
//   duo-synth --task ruler:niah_multikey_2 --length 4096 --seed 1 --tokenizer DIR --count 10
//   duo-synth --tasks
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "synth/data_config.h"
#include "synth/eval_task.h"
#include "util/error.h"

namespace {

// What duo-synth reads of a training configuration (configs/*.yaml, a run's config.yaml): the
// data section and model.path, the tokenizer's default. duo-train's other sections (and model's
// other keys) are its own: a file may hold them, unchecked here.
struct SynthConfig {
  std::string model_path;
  duo::synth::DataConfig data;

  std::filesystem::path tokenizer_dir() const { return duo::synth::tokenizer_dir(data, model_path); }
};

duo::config::Schema schema(SynthConfig& c) {
  using namespace duo::config;
  Schema s;
  s.add({"model", {text("path", c.model_path, Empty::allowed)}, /*open=*/true});
  s.add(duo::synth::data_section(c.data));
  for (const char* other : {"gates", "streaming", "optim", "run"}) s.pass_over(other);
  return s;
}

struct Options {
  std::string config_file, tokenizer, format, jsonl_field, color = "auto", task;
  std::optional<double> depth;
  std::optional<int64_t> instructions;
  bool list_tasks = false;
  std::vector<std::string> sets, haystack;
  std::optional<uint64_t> seed;
  std::optional<int64_t> passkeys, words, context_min, context_max, context_count, length;
  int64_t index = 0, count = 1;
  bool list_lengths = false, json = false;
};

// Flags are applied as --set overrides, so they get the config's checks and messages.
SynthConfig resolve_config(const Options& o) {
  SynthConfig c;
  const duo::config::Schema keys = schema(c);
  if (!o.config_file.empty()) {
    keys.load(o.config_file);
    duo::synth::check_data(c.data, {o.config_file});
  }
  std::vector<std::string> sets = o.sets;
  const auto set = [&](const std::string& key, const std::string& value) { sets.push_back(key + "=" + value); };
  if (!o.tokenizer.empty()) set("data.tokenizer", o.tokenizer);
  if (!o.haystack.empty()) {
    std::string list = "[";
    for (const std::string& f : o.haystack) list += (list.size() > 1 ? ", \"" : "\"") + f + "\"";
    set("data.haystack", list + "]");
  }
  if (!o.format.empty()) set("data.format", o.format);
  if (!o.jsonl_field.empty()) set("data.jsonl_field", o.jsonl_field);
  if (o.seed) set("data.seed", std::to_string(*o.seed));
  if (o.passkeys) set("data.num_passkeys", std::to_string(*o.passkeys));
  if (o.words) set("data.passkey_words", std::to_string(*o.words));
  if (o.context_min) set("data.context_min", std::to_string(*o.context_min));
  if (o.context_max) set("data.context_max", std::to_string(*o.context_max));
  if (o.context_count) set("data.context_count", std::to_string(*o.context_count));
  // A --length longer than the config's lengths still needs that much haystack tokenized.
  if (o.length && *o.length > c.data.context_max) set("data.context_max", std::to_string(*o.length));
  for (const std::string& assignment : sets) keys.set(assignment);
  if (!sets.empty()) duo::synth::check_data(c.data, {"the configuration after --set"});
  if (c.tokenizer_dir().empty())
    throw duo::Error("no tokenizer: name one with --tokenizer DIR, or a config whose model.path or "
                     "data.tokenizer is set");
  return c;
}

// One line of JSON: everything the generator reports, spans as [start, end) pairs.
void print_json(const duo::synth::PasskeySample& s) {
  const auto pairs = [](const std::vector<duo::synth::Span>& spans) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& span : spans) out.push_back({span.start, span.end});
    return out;
  };
  const nlohmann::json line = {
      {"index", s.index},
      {"context_length", s.context_length},
      {"haystack_tokens", s.haystack_tokens},
      {"ids", s.ids},
      {"label_span", {s.label_span.start, s.label_span.end}},
      {"question_spans", pairs(s.question_spans)},
      {"answer_spans", pairs(s.answer_spans)},
      {"needle_spans", pairs(s.needle_spans)},
      {"passkeys", s.passkeys},
      {"depths", s.depths}};
  std::cout << line.dump() << "\n";
}

void print_eval_json(const duo::synth::EvalSample& s) {
  nlohmann::json instructions = nlohmann::json::array();
  for (const auto& in : s.instructions)
    instructions.push_back({{"kind", in.kind}, {"argument", in.argument}, {"text", in.text}});
  const nlohmann::json line = {
      {"task", s.task},
      {"index", s.index},
      {"seed", s.seed},
      {"length", s.length},
      {"tokens_to_generate", s.tokens_to_generate},
      {"metric", s.metric},
      {"prompt", s.prompt},
      {"answer_prefix", s.answer_prefix},
      {"answers", s.answers},
      {"needles", s.needles},
      {"depths", s.depths},
      {"needle_tokens", s.needle_tokens},
      {"context_tokens", {s.context_begin_token, s.context_end_token}},
      {"haystack_units", s.haystack_units},
      {"filler_chars", s.filler_chars},
      {"instructions", instructions}};
  // Haystack text is not always valid UTF-8; replace what is not rather than fail.
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

// --task: evaluation samples from the config's tokenizer and haystack and the flags.
int print_eval_samples(const Options& o, const SynthConfig& config) {
  if (!o.length) throw duo::Error("--task needs --length (the prompt's tokens)");
  duo::synth::EvalConfig e;
  e.task = o.task;
  e.haystack = config.data.haystack;
  e.seed = o.seed.value_or(42);
  e.depth = o.depth;
  if (o.instructions) e.num_instructions = *o.instructions;
  const duo::synth::EvalGenerator gen(e, duo::Tokenizer::from_dir(config.tokenizer_dir()));
  for (int64_t i = o.index; i < o.index + o.count; ++i) print_eval_json(gen.sample(i, *o.length));
  return 0;
}

void print_sample(const duo::synth::PasskeyGenerator& gen, const duo::synth::PasskeySample& s,
                  bool color) {
  std::cout << "sample " << s.index << ": " << s.ids.size() << " tokens (" << s.haystack_tokens
            << " of haystack), " << s.passkeys.size() << " passkeys at depths";
  for (double d : s.depths) std::cout << " " << d;
  std::cout << "; the loss covers tokens [" << s.label_span.start << ", " << s.label_span.end
            << ")\n";
  // Marks open and close at span boundaries; the text between is decoded piece by piece.
  std::map<int64_t, std::string> opens, closes;
  const std::string needle_open = color ? "\x1b[33m" : "«", needle_close = color ? "\x1b[0m" : "»";
  const std::string block_open = color ? "\x1b[32m" : "⟦", block_close = color ? "\x1b[0m" : "⟧";
  const std::string answer_open = color ? "\x1b[1m" : "", answer_close = color ? "\x1b[22m" : "";
  for (const auto& span : s.needle_spans) {
    opens[span.start] += needle_open;
    closes[span.end] += needle_close;
  }
  opens[s.label_span.start] += block_open;
  closes[s.label_span.end] += block_close;
  for (const auto& span : s.answer_spans) {
    opens[span.start] += answer_open;
    closes[span.end] += answer_close;
  }
  std::vector<int64_t> cuts = {0, int64_t(s.ids.size())};
  for (const auto& [at, _] : opens) cuts.push_back(at);
  for (const auto& [at, _] : closes) cuts.push_back(at);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    if (closes.count(cuts[i])) std::cout << closes[cuts[i]];
    if (opens.count(cuts[i])) std::cout << opens[cuts[i]];
    if (i + 1 < cuts.size())
      std::cout << gen.tokenizer().decode(
          std::span<const int32_t>(s.ids.data() + cuts[i], std::size_t(cuts[i + 1] - cuts[i])));
  }
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-synth", [&] {
    Options o;
    CLI::App app{"Print synthetic passkey-retrieval samples as duo-train sees them: passkeys in the "
                 "haystack marked «…», the question/answer block the loss covers marked ⟦…⟧. With "
                 "--task, print evaluation samples (RULER's synthetic tasks, instruction retention) "
                 "as JSON lines: prompt, answers, task, length, depths, ..."};
    app.add_option("--config", o.config_file, "training config whose data section (and model.path "
                   "for the tokenizer) to use");
    app.add_option("--set", o.sets, "override a config key, e.g. --set data.num_passkeys=3");
    app.add_option("--tokenizer", o.tokenizer, "tokenizer directory (tokenizer.json)");
    app.add_option("--haystack", o.haystack, "haystack text file (repeatable); default: the KJV "
                   "Bible of Debian's bible-kjv-text package");
    app.add_option("--format", o.format, "haystack format: text or jsonl");
    app.add_option("--jsonl-field", o.jsonl_field, "JSONL field holding the text (default text)");
    app.add_option("--seed", o.seed, "data seed (with --task: default 42, RULER's)");
    app.add_option("--passkeys", o.passkeys, "passkeys per sample");
    app.add_option("--words", o.words, "words per passkey");
    app.add_option("--context-min", o.context_min, "shortest context length");
    app.add_option("--context-max", o.context_max, "longest context length");
    app.add_option("--context-count", o.context_count, "number of context lengths");
    app.add_option("--index", o.index, "first sample index (data stream position)")->check(CLI::NonNegativeNumber);
    app.add_option("--count", o.count, "number of samples")->check(CLI::PositiveNumber);
    app.add_option("--length", o.length, "context length in tokens instead of the index's own; with "
                   "--task, the prompt's exact token count")
        ->check(CLI::PositiveNumber);
    app.add_option("--color", o.color, "auto, always or never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    app.add_flag("--lengths", o.list_lengths, "print the context lengths and the first epoch's order");
    app.add_flag("--json", o.json, "print each sample as a line of JSON (ids, spans, passkeys, depths)");
    app.add_option("--task", o.task, "print evaluation samples of this task instead (see --tasks), e.g. "
                   "ruler:niah_multikey_2; needs --length, the prompt's exact token count");
    app.add_flag("--tasks", o.list_tasks, "list the evaluation tasks");
    app.add_option("--depth", o.depth, "with --task (niah, retention): put the needles at this fraction "
                   "of the haystack; default: drawn per sample as RULER does")->check(CLI::Range(0.0, 1.0));
    app.add_option("--instructions", o.instructions, "with --task retention:*: instructions per "
                   "sample (default 3)")->check(CLI::Range(1, 8));
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    if (o.list_tasks) {
      for (const std::string& name : duo::synth::eval_task_names()) std::cout << name << "\n";
      return 0;
    }
    const SynthConfig config = resolve_config(o);
    if (!o.task.empty()) return print_eval_samples(o, config);
    const duo::synth::PasskeyGenerator gen(config.data, duo::Tokenizer::from_dir(config.tokenizer_dir()));
    if (o.list_lengths) {
      std::cout << "context lengths:";
      for (int64_t l : gen.context_lengths()) std::cout << " " << l;
      std::cout << "\nfirst epoch order:";
      for (int64_t i = 0; i < int64_t(gen.context_lengths().size()); ++i)
        std::cout << " " << gen.context_length(i);
      std::cout << "\n";
      return 0;
    }
    const bool color = o.color == "always" || (o.color == "auto" && isatty(STDOUT_FILENO));
    for (int64_t i = o.index; i < o.index + o.count; ++i) {
      const auto sample = o.length ? gen.sample(i, *o.length) : gen.sample(i);
      if (o.json)
        print_json(sample);
      else
        print_sample(gen, sample, color);
    }
    return 0;
  });
}
