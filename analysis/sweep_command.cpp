#include "analysis/sweep_command.h"

#include <cstdio>
#include <iostream>
#include <set>

#include "analysis/pattern_choice.h"
#include "analysis/sweep_config.h"
#include "analysis/sweep_hdf5.h"
#include "analysis/sweep_scores.h"
#include "analysis/sweep_tasks.h"
#ifdef DUO_WITH_PLPLOT
#include "analysis/plot_sweep.h"
#endif
#include "util/progress.h"

namespace duo::analysis {

SweepCommand::SweepCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "sweep",
      "How sparse can you go? For each --sparsities value, run the model with that pattern the way a "
      "deployment does (retrieval heads keep the full KV cache, streaming heads only --sink + --recent "
      "tokens, by default the window the gates were trained with; chunked prefill, greedy decoding) on "
      "--task over --lengths (x --depths for passkey and niah), beside heads chosen at random at the same "
      "sparsity. A pattern JSON as --gates is swept as it is, at its own sparsity, unless --sparsities is "
      "given. Writes <out>/results.csv (an interrupted sweep continues where it stopped; one with other "
      "settings, recorded in <out>/sweep-config.json, is refused; new tasks or grid values only add cells), "
      "results.h5, scores.csv (per task and length, and RULER's average), summary tables, and figures. "
      "Scores: docs/sweep.md.");
  auto& o = options_;
  command_->add_option("--model,-m", o.model, "Hugging Face checkpoint directory")->required();
  command_->add_option("--gates,-g", gates_, "gate history (.h5), reference pattern directory or pattern JSON")
      ->required();
  command_->add_option("--out,-o", o.out, "directory for results.csv, sweep-config.json and the figures")->required();
  command_->add_option("--task", task_,
                       "comma list of tasks: passkey (the training format, held-out passkeys), niah (one needle "
                       "sentence), ruler (all of RULER's synthetic tasks) or ruler:NAME (niah_single_1..3, "
                       "niah_multikey_1..3, niah_multivalue, niah_multiquery, vt, cwe, fwe), retention (both "
                       "instruction-retention tasks) or retention:instructions / retention:system_prompt; "
                       "bare names too (ruler:vt,cwe)")
      ->capture_default_str();
  sparsities_option_ = command_->add_option("--sparsities", o.sparsities,
                                            "fractions of KV heads made streaming (a pattern JSON: its own roles "
                                            "unless this is given)")
                           ->capture_default_str()
                           ->delimiter(',');
  // Sizes are range-checked as they are parsed, so that none reaches a loop or an allocation.
  const CLI::Range tokens(int64_t{1}, kMaxSweepTokens);
  command_->add_option("--lengths", o.lengths, "context lengths in tokens (at most the model's max_position_embeddings)")
      ->capture_default_str()
      ->delimiter(',')
      ->check(tokens);
  command_->add_option("--depths", o.depths, "needle depths in [0, 1]")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::Range(0.0, 1.0));
  command_->add_option("--samples", o.samples, "samples per (length, depth) cell")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  command_->add_option("--random-seeds", o.random_seeds, "random-head baselines per sparsity")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  command_->add_option("--passkey-words", o.passkey_words, "words (niah: digits) in each answer")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000}));
  command_->add_option("--seed", o.seed, "task seed (differs from the training seeds shipped)")->capture_default_str();
  sink_option_ = command_->add_option("--sink", sink_,
                                      "streaming heads: attention-sink tokens (default: the window the --gates "
                                      "input records: the one they were trained with, or a pattern JSON's own; 64 "
                                      "when it records none)")
                     ->check(CLI::Range(int64_t{0}, kMaxSweepTokens));
  recent_option_ = command_->add_option("--recent", recent_,
                                        "streaming heads: recent tokens (default: as for --sink; 256 when the "
                                        "input records none)")
                       ->check(tokens);
  command_->add_option("--chunk", o.chunk, "prefill chunk size in tokens")->capture_default_str()->check(tokens);
  command_->add_option("--haystack", o.haystack, "haystack text files (default: the KJV Bible from Debian)");
  command_->add_option("--tokenizer", o.tokenizer, "tokenizer directory (default: --model)");
  command_->add_option("--dtype", o.dtype, "bf16, fp16 or fp32")->capture_default_str();
  command_->add_option("--device", o.device, "auto, cpu or cuda")->capture_default_str();
  command_->add_flag("--random-weights", o.random_weights,
                     "build the model from --model's config.json with random weights (speed and memory only)");
}

void SweepCommand::run() const {
  SweepOptions o = options_;
  o.tasks = parse_sweep_tasks(task_);
  const Input in = load_input(gates_);
  PatternRequest request;
  if (sink_option_->count()) request.window.sink = sink_;
  if (recent_option_->count()) request.window.recent = recent_;
  const bool as_is = in.pattern && !sparsities_option_->count();
  // Selecting at any one sparsity tells the window, which does not depend on it.
  if (!as_is) request.sparsity = 0.0;
  const Pattern chosen = choose_pattern(in, request);
  o.window = chosen.window;
  if (as_is) o.pattern = chosen;
  std::cout << "sweep      streaming heads keep " << describe_window(chosen) << "\n";
  if (in.pattern)
    std::cout << "           duo: "
              << (as_is ? "the roles " + gates_.string() + " holds, at its sparsity " + format_number(chosen.sparsity, 4)
                        : "re-selected at each of --sparsities from the gates " + gates_.string() + " stores")
              << "\n";
  const auto rows = run_sweep(in.gates, o);
  // The configuration run_sweep recorded (or checked) for these rows.
  write_sweep_h5(o.out / "results.h5", rows, sweep_config_json(*read_sweep_config(o.out / "sweep-config.json")));
  std::vector<TaskScore> scores = task_scores(rows);
  const std::vector<TaskScore> averages = ruler_averages(scores);
  scores.insert(scores.end(), averages.begin(), averages.end());
  write_task_scores_csv(o.out / "scores.csv", scores);
  std::cout << sweep_summary(rows) << task_scores_summary(scores);
  bool grid_rows = false, task_rows = false;
  for (const auto& r : rows) (is_grid_task(r.task) ? grid_rows : task_rows) = true;
  std::cout << "results: " << (o.out / "results.csv").string() << ", results.h5 and scores.csv\n";
#ifdef DUO_WITH_PLPLOT
  if (grid_rows) {
    // The depth-grid figures, over the passkey and niah rows.
    std::vector<SweepRow> grid;
    for (const auto& r : rows)
      if (is_grid_task(r.task)) grid.push_back(r);
    plot_sweep_accuracy(o.out / "accuracy.png", ImageFormat::png, grid);
    std::set<double> sparsities;
    for (const auto& r : grid) sparsities.insert(r.sparsity);
    for (double s : sparsities) {
      char name[64];
      std::snprintf(name, sizeof name, "grid-sparsity-%.2f.png", s);
      plot_sweep_grid(o.out / name, ImageFormat::png, grid, s);
    }
    std::cout << "figures: " << (o.out / "accuracy.png").string() << " and " << (o.out / "grid-sparsity-*.png").string()
              << "\n";
  }
  if (task_rows) {
    plot_sweep_tasks(o.out / "tasks.png", ImageFormat::png, scores);
    std::cout << "figures: " << (o.out / "tasks.png").string();
    if (!averages.empty()) {
      plot_sweep_ruler_average(o.out / "ruler-average.png", ImageFormat::png, averages);
      std::cout << " and " << (o.out / "ruler-average.png").string();
    }
    std::cout << "\n";
  }
#else
  std::cout << "(built without PLplot: no figures)\n";
#endif
}

}  // namespace duo::analysis
