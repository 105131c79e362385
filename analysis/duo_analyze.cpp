// duo-analyze: look at what gate training found and take it elsewhere. Subcommands summary,
// pattern, export, compare, plot, sweep and attention; reads gate histories, reference pattern
// directories and our pattern JSON (docs/analysis.md). Only sweep and attention run the model (on
// a GPU when there is one).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <string>

#include "analysis/attention_command.h"
#include "analysis/head_scores.h"
#include "analysis/score_command.h"
#include "analysis/compare.h"
#include "analysis/export.h"
#include "analysis/gate_set.h"
#include "analysis/gate_stats.h"
#include "analysis/pattern.h"
#include "analysis/pattern_choice.h"
#include "analysis/pattern_json.h"
#include "analysis/sweep_command.h"
#ifdef DUO_WITH_PLPLOT
#include "analysis/plot.h"
#endif
#include "history/history_reader.h"
#include "model/head_pattern.h"
#include "model/model_config.h"
#include "util/error.h"
#include "util/path_check.h"

namespace {

using namespace duo::analysis;
namespace fs = std::filesystem;

const char* kInputHelp =
    "INPUT is a gate history written by duo-train (.h5; its last step unless --step), a reference "
    "pattern directory (full_attention_heads.tsv + config.json, as mit-han-lab/duo-attention writes), "
    "a pattern JSON written by 'duo-analyze pattern', or a head-score file written by 'duo-analyze score' or "
    "'duo-analyze import' (another method's scores, taken as gates). A pattern JSON is a pattern: its roles are used as "
    "they are unless --sparsity or --threshold re-select them from its gates. Streaming heads deploy with "
    "the window the input records (a history's training window, config.json's sink_size/recent_size, a "
    "pattern JSON's window) unless --sink/--recent override it; with none recorded, sink 64 + recent 256.";

// Options shared by the subcommands that turn an input into a pattern (analysis/pattern_choice.h).
struct Selection {
  // Values as parsed; each counts only when its option was given (request()).
  double sparsity = 0, threshold = 0;
  int64_t sink = 0, recent = 0;
  int64_t step = -1;
  CLI::Option* sparsity_option = nullptr;
  CLI::Option* threshold_option = nullptr;
  CLI::Option* sink_option = nullptr;
  CLI::Option* recent_option = nullptr;
  CLI::Option* step_option = nullptr;

  void add_rule(CLI::App* app, bool with_threshold) {
    sparsity_option = app->add_option("--sparsity", sparsity,
                                      "fraction of KV heads made streaming heads, in [0, 1]: the heads with the "
                                      "smallest gates (global over all layers; ties by layer, head). Default 0.5; "
                                      "a pattern file keeps its own roles unless this is given");
    if (with_threshold)
      threshold_option = app->add_option("--threshold", threshold,
                                         "instead of --sparsity: heads with gate >= this are retrieval heads")
                             ->excludes(sparsity_option);
  }
  void add_window(CLI::App* app) {
    sink_option = app->add_option("--sink", sink,
                                  "deployment: attention-sink tokens every streaming head keeps (default: the "
                                  "window the input records: the one the gates were trained with, or a pattern "
                                  "JSON's own; 64 when it records none)");
    recent_option = app->add_option("--recent", recent,
                                    "deployment: recent tokens every streaming head keeps (default: as for "
                                    "--sink; 256 when the input records none)");
  }
  void add_step(CLI::App* app) {
    step_option = app->add_option("--step", step, "use the gates of this training step of a history (default: the last)");
  }
  std::optional<int64_t> chosen_step() const {
    return step_option && step_option->count() ? std::optional<int64_t>(step) : std::nullopt;
  }
  static bool given(const CLI::Option* option) { return option && option->count() > 0; }
  PatternRequest request() const {
    PatternRequest r;
    if (given(sparsity_option)) r.sparsity = sparsity;
    if (given(threshold_option)) r.threshold = threshold;
    if (given(sink_option)) r.window.sink = sink;
    if (given(recent_option)) r.window.recent = recent;
    return r;
  }
  Pattern select(const Input& in) const { return choose_pattern(in, request()); }
  // Checks the options before any file is read.
  void check() const {
    if (given(sparsity_option)) check_sparsity(sparsity);
  }
};

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

void print_model(const GateSet& g) {
  std::cout << "model      " << (g.model_name.empty() ? "(unnamed)" : g.model_name);
  if (!g.architecture.empty()) std::cout << " (" << g.architecture << ")";
  std::cout << ": " << g.num_layers << " layers, ";
  if (g.num_heads > 0)
    std::cout << g.num_heads << " query heads, " << g.num_kv_heads << " KV heads (GQA group " << g.num_heads / g.num_kv_heads
              << ")\n";
  else
    std::cout << g.num_kv_heads << " KV heads (query heads not recorded)\n";
}

// How the roles were chosen, for a terminal: "at sparsity 0.50", "at gate threshold 0.7000" or
// "as the pattern file holds them".
std::string rule_text(const Input& in, const Selection& sel) {
  const PatternRequest r = sel.request();
  if (in.pattern && !r.reselects(in)) return "as the pattern file holds them";
  if (r.threshold) return "at gate threshold " + fmt("%.4f", *r.threshold);
  return "at sparsity " + fmt("%.2f", r.sparsity.value_or(kDefaultSparsity));
}

// `always`: also when a pattern file keeps its roles (where nothing else says so).
void print_roles_note(const Input& in, const Selection& sel, bool always) {
  const PatternRequest r = sel.request();
  if (in.pattern && (always || r.reselects(in))) std::cout << "roles      " << roles_note(in, r) << "\n";
}

// A history is read whole (summary and plot show its steps); other inputs are their gates.
Input read_input(const fs::path& input, const Selection& sel, std::optional<duo::HistoryReader>& history) {
  if (!fs::is_directory(input) && input.extension() != ".json") {
    history.emplace(input);
    return {gates_from_history(*history, sel.chosen_step()), std::nullopt};
  }
  return load_input(input, sel.chosen_step());
}

void run_summary(const fs::path& input, const Selection& sel, int64_t window) {
  sel.check();
  std::optional<duo::HistoryReader> history;
  const Input in = read_input(input, sel, history);
  const GateSet& g = in.gates;
  std::cout << "input      " << input.string() << " (" << g.kind;
  if (history) std::cout << ", schema " << history->schema_version() << ", written by duo " << history->toolkit_version();
  std::cout << ")\n";
  print_model(g);
  if (history) {
    const auto& m = history->meta();
    const auto& steps = history->steps();
    std::cout << "training   window sink " << m.sink << " + recent " << m.recent << "; head_dim " << m.head_dim << "\n";
    std::cout << "steps      " << history->rows() << " (" << steps.front() << ".." << steps.back() << ")";
    if (history->wall_time().back() > 0) std::cout << ", " << fmt("%.1f", history->wall_time().back() / 60) << " min";
    std::cout << "\n";
    const int64_t row = g.step - steps.front();
    std::cout << "loss       step " << g.step << ": total " << fmt("%.6g", history->loss_total()[row]) << " = distill "
              << fmt("%.6g", history->loss_distill()[row]) << " + reg " << fmt("%.6g", history->loss_reg()[row])
              << "; lr " << fmt("%.3g", history->lr()[row]) << "\n";
  }
  const GateStats s = gate_stats(g.gates);
  std::cout << "gates      " << g.count() << " KV heads: " << s.near_zero << " near 0 (< 0.1), " << s.near_one
            << " near 1 (> 0.9), " << s.in_between << " in between; mean " << fmt("%.3f", s.mean) << ", min "
            << fmt("%.3f", s.min) << ", max " << fmt("%.3f", s.max) << "\n";

  const Pattern p = sel.select(in);
  print_roles_note(in, sel, false);
  std::cout << "retrieval  " << rule_text(in, sel) << ": " << p.retrieval_count() << " of " << g.count() << " KV heads";
  if (p.threshold) std::cout << " (gate >= " << fmt("%.4f", *p.threshold) << ")";
  std::cout << "\n           " << describe_kv_cache_saved(p) << " (" << describe_window(p) << ")";
  std::cout << "\n           layer  retrieval  share\n";
  for (int l = 0; l < g.num_layers; ++l) {
    int count = 0;
    for (int h = 0; h < g.num_kv_heads; ++h) count += p.is_retrieval(l, h);
    char row[96];
    std::snprintf(row, sizeof row, "           %5d  %4d/%-4d  %5.2f\n", l, count, g.num_kv_heads,
                  count / static_cast<double>(g.num_kv_heads));
    std::cout << row;
  }
  std::cout << "deploy     streaming heads keep " << describe_window(p) << "\n";
  if (history) {
    const Convergence c = convergence(*history, window);
    if (c.window == 0) {
      std::cout << "converged  cannot tell: only one step\n";
    } else {
      std::cout << "converged  " << (c.max_change < 0.01 ? "yes" : "no, still moving") << ": over the last " << c.window
                << " steps no gate moved more than " << fmt("%.4f", c.max_change) << " (layer " << c.layer
                << ", KV head " << c.kv_head << " moved most; 'yes' means < 0.01)\n";
    }
  }
}

void run_pattern(const fs::path& input, const Selection& sel, const std::string& out) {
  sel.check();
  if (!out.empty()) duo::prepare_output_file(out, "--out");
  const Input in = load_input(input, sel.chosen_step());
  const GateSet& g = in.gates;
  const Pattern p = sel.select(in);
  std::cout << "pattern of " << input.string() << (g.step >= 0 ? " at step " + std::to_string(g.step) : "") << ": "
            << p.retrieval_count() << " retrieval (R) and " << p.retrieval.size() - p.retrieval_count()
            << " streaming (S) KV heads, sparsity " << fmt("%.4f", p.sparsity);
  if (p.threshold) std::cout << ", gate threshold " << fmt("%.4f", *p.threshold);
  std::cout << "; deploy with " << describe_window(p) << "\n" << describe_kv_cache_saved(p) << "\n";
  print_roles_note(in, sel, true);
  std::cout << "\n" << pattern_table(p);
  if (!out.empty()) {
    write_pattern_json(out, p, g);
    std::cout << "\nwrote " << out << "\n";
  }
}

// The query heads per layer the export records: the input's, else --num-heads, else the
// --model's; each one given must agree with those before it.
void set_query_heads(GateSet& g, const fs::path& input, int num_heads, const std::optional<duo::ModelConfig>& model,
                     const fs::path& config_json) {
  if (num_heads > 0) {
    if (g.num_heads > 0 && g.num_heads != num_heads)
      throw duo::Error(input, "records " + std::to_string(g.num_heads) + " query heads, --num-heads says " +
                                  std::to_string(num_heads));
    g.num_heads = num_heads;
  }
  if (model) {
    const int64_t heads = model->num_attention_heads;
    if (g.num_heads > 0 && g.num_heads != heads)
      throw duo::Error(input, std::string(num_heads > 0 ? "--num-heads says " : "records ") +
                                  std::to_string(g.num_heads) + " query heads, but the model in " +
                                  config_json.string() + " has " + std::to_string(heads));
    g.num_heads = static_cast<int>(heads);
  }
}

void run_export(const fs::path& input, const Selection& sel, const std::string& format, const fs::path& out,
                const fs::path& model_dir, int num_heads, int seqlen_threshold) {
  sel.check();
  // Checked before anything is read: the model the pattern is for, and where it goes.
  std::optional<duo::ModelConfig> model;
  const fs::path config_json = model_dir / "config.json";
  if (!model_dir.empty()) {
    duo::require_directory(model_dir, "--model", "a checkpoint directory (its config.json)");
    model = duo::load_model_config(config_json);
  }
  if (format == "reference")
    duo::prepare_output_directory(out, "--out");
  else
    duo::prepare_output_file(out, "--out");
  Input in = load_input(input, sel.chosen_step());
  GateSet& g = in.gates;
  if (model) duo::check_pattern_fits_model(g.source, g.num_layers, g.num_kv_heads, *model, config_json);
  set_query_heads(g, input, num_heads, model, config_json);
  const Pattern p = sel.select(in);
  if (format == "duo-json") {
    write_pattern_json(out, p, g);
  } else if (format == "reference") {
    export_reference(out, p, g);
  } else {
    export_rtp_llm(out, p, g, seqlen_threshold);
  }
  std::cout << "wrote " << out.string() << " (" << format << "): " << p.retrieval_count() << " of " << p.retrieval.size()
            << " KV heads are retrieval heads, sparsity " << fmt("%.4f", p.sparsity) << "; deploy with "
            << describe_window(p) << "\n"
            << describe_kv_cache_saved(p) << "\n";
  print_roles_note(in, sel, true);
  // The reference and kvpress rank the TSV's gates themselves; roles that ranking would not give
  // (a threshold's ties, a pattern file's own) do not survive this format.
  if (format == "reference" && p.retrieval != select_by_sparsity(g, p.sparsity).retrieval)
    std::cout << "note       at sparsity " << fmt("%.4f", p.sparsity)
              << " the reference and kvpress choose other heads from these gates than this pattern's roles; "
                 "deploy the duo-json or rtp-llm export to keep them\n";
}

// Another project's head scores as a head-score file. The KV heads a Retrieval_Head file's query
// heads fold into come from --num-kv-heads or --model's config.json; --model also checks the shape.
void run_import(const fs::path& input, const std::string& from, int num_kv_heads, const fs::path& model,
                const fs::path& out) {
  duo::prepare_output_file(out, "--out");
  std::optional<duo::ModelConfig> cfg;
  if (!model.empty()) {
    duo::require_directory(model, "--model", "a checkpoint directory");
    cfg = duo::load_model_config(model / "config.json");
    if (num_kv_heads > 0 && num_kv_heads != cfg->num_key_value_heads)
      throw duo::Error("--num-kv-heads " + std::to_string(num_kv_heads) + " differs from the " +
                       std::to_string(cfg->num_key_value_heads) + " KV heads of " + (model / "config.json").string());
    num_kv_heads = static_cast<int>(cfg->num_key_value_heads);
  }
  duo::analysis::HeadScores s;
  if (from == "prulong") {
    s = duo::analysis::import_prulong_masks(input);
  } else {
    if (num_kv_heads <= 0)
      throw duo::Error("--from retrieval-head scores query heads: give --num-kv-heads N or --model DIR to fold them");
    s = duo::analysis::import_retrieval_head_json(input, num_kv_heads);
  }
  if (cfg) {
    duo::check_pattern_fits_model(input, s.num_layers, s.num_kv_heads, *cfg, model / "config.json");
    s.model_name = model.lexically_normal().filename().string();
    if (s.num_heads == 0) s.num_heads = static_cast<int>(cfg->num_attention_heads);
  }
  duo::analysis::write_head_scores(out, s);
  std::cout << "imported   " << input.string() << " (" << from << "): " << s.num_layers << " layers x "
            << s.num_kv_heads << " KV heads" << (s.fold == "max" ? ", each the max of its query heads" : "") << "\n"
            << "wrote      " << out.string() << "\n";
}

void run_compare(const fs::path& a, const fs::path& b, const Selection& sel) {
  sel.check();
  const Input ia = load_input(a), ib = load_input(b);
  const GateSet &ga = ia.gates, &gb = ib.gates;
  if (ga.num_layers != gb.num_layers || ga.num_kv_heads != gb.num_kv_heads)
    throw duo::Error(b, "shape " + std::to_string(gb.num_layers) + " layers x " + std::to_string(gb.num_kv_heads) +
                            " KV heads differs from " + a.string() + " (" + std::to_string(ga.num_layers) + " x " +
                            std::to_string(ga.num_kv_heads) + ")");
  const Pattern pa = sel.select(ia), pb = sel.select(ib);
  int both = 0;
  for (size_t i = 0; i < pa.retrieval.size(); ++i) both += pa.retrieval[i] && pb.retrieval[i];
  std::cout << "A          " << a.string() << (ga.step >= 0 ? " (step " + std::to_string(ga.step) + ")" : "") << "\n"
            << "B          " << b.string() << (gb.step >= 0 ? " (step " + std::to_string(gb.step) + ")" : "") << "\n"
            << "heads      " << ga.num_layers << " layers x " << ga.num_kv_heads << " KV heads\n";
  print_roles_note(ia, sel, false);
  print_roles_note(ib, sel, false);
  const std::string rule_a = rule_text(ia, sel), rule_b = rule_text(ib, sel);
  if (rule_a == rule_b)
    std::cout << "retrieval  " << rule_a << ": A keeps " << pa.retrieval_count() << ", B keeps " << pb.retrieval_count();
  else
    std::cout << "retrieval  A keeps " << pa.retrieval_count() << " (" << rule_a << "), B keeps " << pb.retrieval_count()
              << " (" << rule_b << ")";
  std::cout << ", both " << both << "; Jaccard overlap " << fmt("%.4f", jaccard(pa.retrieval, pb.retrieval)) << "\n"
            << "rank corr  Spearman " << fmt("%.4f", spearman(ga.gates, gb.gates)) << " over all gates\n"
            << "deploy     A with " << describe_window(pa) << "\n"
            << "           B with " << describe_window(pb) << "\n";
  std::cout << "differ     ";
  int shown = 0;
  for (int l = 0; l < ga.num_layers; ++l)
    for (int h = 0; h < ga.num_kv_heads; ++h)
      if (pa.is_retrieval(l, h) != pb.is_retrieval(l, h)) {
        if (shown++ < 24)
          std::cout << (shown > 1 ? ", " : "") << "L" << l << " kv" << h << " (" << (pa.is_retrieval(l, h) ? "A" : "B")
                    << ")";
      }
  if (shown == 0) std::cout << "none";
  if (shown > 24) std::cout << ", ... (" << shown << " in all)";
  std::cout << "\n";
}

void run_plot(const fs::path& input, const Selection& sel, const fs::path& out_dir, const std::string& formats) {
#ifdef DUO_WITH_PLPLOT
  sel.check();
  duo::prepare_output_directory(out_dir, "--out");
  std::optional<duo::HistoryReader> history;
  const Input in = read_input(input, sel, history);
  const GateSet& g = in.gates;
  const Pattern p = sel.select(in);
  std::cout << "pattern    " << p.retrieval_count() << " of " << p.retrieval.size() << " KV heads outlined as retrieval heads "
            << rule_text(in, sel) << "; deploy with " << describe_window(p) << "\n";
  print_roles_note(in, sel, false);
  std::vector<std::pair<ImageFormat, std::string>> kinds;
  if (formats == "png" || formats == "both") kinds.push_back({ImageFormat::png, ".png"});
  if (formats == "svg" || formats == "both") kinds.push_back({ImageFormat::svg, ".svg"});
  for (const auto& [format, ext] : kinds) {
    std::vector<fs::path> written;
    auto file = [&](const char* name) { return written.emplace_back(out_dir / (std::string(name) + ext)); };
    plot_heatmap(file("heatmap"), format, g, p);
    plot_histogram(file("histogram"), format, g, p);
    if (history) {
      plot_trajectories(file("trajectories"), format, *history, p);
      plot_losses(file("losses"), format, *history);
    }
    for (const auto& f : written) std::cout << "wrote " << f.string() << "\n";
  }
  if (!history) std::cout << "(trajectories and losses need a gate history; " << input.string() << " holds only gates)\n";
#else
  (void)input, (void)sel, (void)out_dir, (void)formats;
  throw duo::Error("this duo-analyze was built without PLplot, so it cannot plot; install PLplot "
                   "(Debian: libplplot-dev plplot-driver-cairo) and rebuild");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-analyze", [&]() -> int {
    CLI::App app{
        "duo-analyze: inspect the gates DuoAttention training found, turn them into a deployable pattern of "
        "retrieval and streaming heads, export it for other runtimes, compare runs, and plot them; measure "
        "how sparse a model can go (sweep) and what its attention maps say about each head (attention)."};
    app.footer(std::string("\n") + kInputHelp + "\nRun 'duo-analyze <subcommand> --help' for each subcommand's options.");
    app.require_subcommand(1);

    // One Selection per subcommand: each keeps pointers to its own options.
    Selection summary_sel, pattern_sel, export_sel, compare_sel, plot_sel;
    fs::path input, input_b, out_dir, export_model;
    std::string out_file, format = "duo-json", plot_formats = "both";
    int64_t window = 50;
    int num_heads = 0, seqlen_threshold = 16384;

    auto* summary = app.add_subcommand(
        "summary", "Model shape, steps, final loss parts, how many gates sit near 0 / near 1 / in between, each "
                   "layer's share of retrieval heads at --sparsity (a pattern JSON: its own roles), the window "
                   "the streaming heads deploy with, and whether the gates still move (largest change over the "
                   "last --window steps).");
    summary->add_option("INPUT", input, "gate history (.h5), reference pattern directory or pattern JSON (see below)")->required();
    summary_sel.add_rule(summary, false);
    summary_sel.add_window(summary);
    summary_sel.add_step(summary);
    summary->add_option("--window", window, "steps to look back for the convergence check")->capture_default_str();

    auto* pattern = app.add_subcommand(
        "pattern", "Turn gates into a deployable pattern: by --sparsity (that fraction of KV heads, those with the "
                   "smallest gates, become streaming heads) or by --threshold (gate >= threshold: retrieval head). "
                   "Without either, a pattern JSON keeps its own roles and other inputs take --sparsity 0.5. "
                   "The streaming heads' window is the one the gates were trained with unless --sink/--recent "
                   "override it. Prints a layers x KV heads table (R = retrieval, S = streaming) and, with --out, "
                   "writes our pattern JSON (docs/pattern-format.md).");
    pattern->add_option("INPUT", input, "gate history (.h5), reference pattern directory or pattern JSON (see below)")->required();
    pattern_sel.add_rule(pattern, true);
    pattern_sel.add_window(pattern);
    pattern_sel.add_step(pattern);
    pattern->add_option("--out,-o", out_file, "write the pattern JSON here");

    auto* exporter = app.add_subcommand(
        "export", "Write the pattern for another runtime. --format duo-json: our pattern JSON. reference: a "
                  "directory with full_attention_heads.tsv (gates clipped to [0,1]) and config.json "
                  "(sink_size, recent_size), as mit-han-lab/duo-attention and NVIDIA kvpress load it; they "
                  "choose heads by their own sparsity setting. rtp-llm: {\"headwise_config\": {...}} with one "
                  "0/1 per query head per layer (1 = retrieval), to merge into the model's config.json. Roles "
                  "and window as for 'pattern': the window the gates were trained with unless --sink/--recent "
                  "override it.");
    exporter->add_option("INPUT", input, "gate history (.h5), reference pattern directory or pattern JSON (see below)")->required();
    exporter->add_option("--format,-f", format, "duo-json, reference or rtp-llm")
        ->capture_default_str()
        ->check(CLI::IsMember({"duo-json", "reference", "rtp-llm"}));
    exporter->add_option("--out,-o", out_dir, "output file (duo-json, rtp-llm) or directory (reference)")->required();
    export_sel.add_rule(exporter, true);
    export_sel.add_window(exporter);
    export_sel.add_step(exporter);
    exporter->add_option("--model,-m", export_model,
                         "the checkpoint directory the pattern is for: its config.json must have the pattern's "
                         "layers x KV heads, and gives rtp-llm the query heads per layer");
    exporter->add_option("--num-heads", num_heads,
                         "query heads per layer, for rtp-llm when the input does not record it (a reference "
                         "directory) and no --model gives it");
    exporter->add_option("--seqlen-threshold", seqlen_threshold,
                         "rtp-llm: sequences shorter than this use full attention in every head")
        ->capture_default_str();

    auto* compare = app.add_subcommand(
        "compare", "Two runs or patterns side by side: overlap of their retrieval heads at --sparsity (a pattern "
                   "JSON: its own roles; Jaccard: shared / either), Spearman rank correlation of all gates, and "
                   "the window each deploys with.");
    compare->add_option("A", input, "first input (history, reference directory or pattern JSON)")->required();
    compare->add_option("B", input_b, "second input, same model shape")->required();
    compare_sel.add_rule(compare, false);
    compare_sel.add_window(compare);

    auto* plot = app.add_subcommand(
        "plot", "Draw figures into --out: heatmap (gates, layers x KV heads, retrieval heads at --sparsity or a "
                "pattern JSON's own outlined, the deployment window in the subtitle), histogram of the gates, and for a history also gate trajectories over training and "
                "loss curves. PNG and/or SVG.");
    plot->add_option("INPUT", input, "gate history (.h5), reference pattern directory or pattern JSON (see below)")->required();
    plot->add_option("--out,-o", out_dir, "directory for the figures")->required();
    plot->add_option("--format,-f", plot_formats, "png, svg or both")
        ->capture_default_str()
        ->check(CLI::IsMember({"png", "svg", "both"}));
    plot_sel.add_rule(plot, false);
    plot_sel.add_window(plot);
    plot_sel.add_step(plot);

    std::string import_from;
    int import_kv_heads = 0;
    fs::path import_model, import_out;
    auto* importer = app.add_subcommand(
        "import", "Read head scores another project wrote into a head-score file every subcommand takes as gates. "
                  "--from prulong: PruLong's masks.tsv (one row per layer, one mask in [0, 1] per KV head, "
                  "1 = global). --from retrieval-head: Retrieval_Head's head-score JSON ({\"layer-head\": [score "
                  "per test]} over query heads): each query head's mean over tests, and a KV head takes the "
                  "largest of its query heads'. (A reference pattern directory needs no import: every "
                  "subcommand reads it as it is.)");
    importer->add_option("INPUT", input, "the file to import")->required();
    importer->add_option("--from", import_from, "prulong or retrieval-head")
        ->required()
        ->check(CLI::IsMember({"prulong", "retrieval-head"}));
    importer->add_option("--out,-o", import_out, "head-score file to write (.json)")->required();
    importer->add_option("--model,-m", import_model,
                         "the checkpoint the scores are for: its layers x KV heads are checked, and give the fold");
    importer->add_option("--num-kv-heads", import_kv_heads, "KV heads per layer, for retrieval-head without --model");

    duo::analysis::SweepCommand sweep(app);
    duo::analysis::AttentionCommand attention(app);
    duo::analysis::ScoreCommand score(app);

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      throw duo::Error(std::string(e.what()) + " (see duo-analyze --help)");
    }

    if (summary->parsed()) run_summary(input, summary_sel, window);
    if (pattern->parsed()) run_pattern(input, pattern_sel, out_file);
    if (exporter->parsed()) run_export(input, export_sel, format, out_dir, export_model, num_heads, seqlen_threshold);
    if (compare->parsed()) run_compare(input, input_b, compare_sel);
    if (plot->parsed()) run_plot(input, plot_sel, out_dir, plot_formats);
    if (sweep.parsed()) sweep.run();
    if (attention.parsed()) attention.run();
    if (score.parsed()) score.run();
    if (importer->parsed()) run_import(input, import_from, import_kv_heads, import_model, import_out);
    return 0;
  });
}
