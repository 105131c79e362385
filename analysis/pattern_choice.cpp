// A command's pattern: a pattern file's own, or the gates' by rule; the window recorded or given.
#include "analysis/pattern_choice.h"

#include "analysis/head_scores.h"
#include "analysis/pattern_json.h"
#include "util/error.h"

namespace duo::analysis {

Input load_input(const std::filesystem::path& input, std::optional<int64_t> step) {
  if (!std::filesystem::is_directory(input) && input.extension() == ".json" && !is_head_scores_file(input)) {
    if (step) throw Error(input, "--step applies to a gate history, not a pattern file");
    PatternFile file = read_pattern_json(input);
    return {std::move(file.gates), std::move(file.pattern)};
  }
  return {load_gates(input, step), std::nullopt};
}

Pattern choose_pattern(const Input& in, const PatternRequest& r) {
  Pattern p;
  if (in.pattern && !r.sparsity && !r.threshold) {
    p = *in.pattern;
  } else {
    p = r.threshold ? select_by_threshold(in.gates, *r.threshold)
                    : select_by_sparsity(in.gates, r.sparsity.value_or(kDefaultSparsity));
    if (in.pattern) {  // new roles, the file's window: where that came from stays as recorded
      p.window_source = in.pattern->window_source;
      p.trained_window = in.pattern->trained_window;
    }
  }
  override_window(p, r.window);
  return p;
}

std::string roles_note(const Input& in, const PatternRequest& r) {
  if (!in.pattern) return "";
  if (!r.reselects(in)) return "as the pattern file " + in.gates.source.string() + " holds them";
  return "re-selected by " + std::string(r.threshold ? "--threshold" : "--sparsity") + " from the gates " +
         in.gates.source.string() + " stores (its own roles set aside)";
}

}  // namespace duo::analysis
