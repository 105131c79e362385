// RULER's metrics; see scoring.h.
#include "synth/scoring.h"

#include <cctype>

#include "synth/instructions.h"
#include "util/error.h"

namespace duo::synth {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view strip(std::string_view text) {
  // Python's str.strip(): whitespace, ASCII's and the separators 0x1C-0x1F.
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) || (c >= 0x1C && c <= 0x1F); };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

void need_references(const std::vector<std::string>& references) {
  if (references.empty()) throw Error("scoring: a sample without references");
}

}  // namespace

std::string clean_prediction(std::string_view prediction) {
  std::string out(strip(prediction));
  for (char& c : out)
    if (static_cast<unsigned char>(c) <= 0x1F) c = '\n';
  return std::string(strip(out));
}

double string_match_all(std::string_view prediction, const std::vector<std::string>& references) {
  need_references(references);
  const std::string p = lower(prediction);
  double found = 0;
  for (const std::string& r : references) found += p.find(lower(r)) != std::string::npos ? 1 : 0;
  return found / double(references.size());
}

double string_match_part(std::string_view prediction, const std::vector<std::string>& references) {
  need_references(references);
  const std::string p = lower(prediction);
  for (const std::string& r : references)
    if (p.find(lower(r)) != std::string::npos) return 1;
  return 0;
}

double score_sample(const EvalSample& sample, std::string_view prediction) {
  const std::string p = clean_prediction(prediction);
  if (sample.metric == "string_match_all") return string_match_all(p, sample.answers);
  if (sample.metric == "string_match_part") return string_match_part(p, sample.answers);
  if (sample.metric == "instructions") return instruction_score(sample.instructions, p);
  throw Error("scoring: unknown metric '" + sample.metric + "' of task " + sample.task);
}

double task_score(const std::vector<double>& sample_scores) {
  if (sample_scores.empty()) return 0;
  double sum = 0;
  for (double s : sample_scores) sum += s;
  return 100 * sum / double(sample_scores.size());
}

}  // namespace duo::synth
