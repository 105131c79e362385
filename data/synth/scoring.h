// Scoring of the evaluation samples (eval_task.h) as RULER scores them
// (NVIDIA/RULER scripts/eval/evaluate.py and scripts/eval/synthetic/constants.py): the
// prediction is cleaned (postprocess_pred), then each task's metric compares it with the
// sample's references, case-insensitively, as substrings. RULER's task score is the mean over
// samples times 100 (which it rounds to 2 decimals).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "synth/eval_task.h"

namespace duo::synth {

// evaluate.py's postprocess_pred: strip, control characters (0x00-0x1F) -> '\n', strip.
std::string clean_prediction(std::string_view prediction);

// string_match_all: the fraction of the references found in the prediction (niah, vt, cwe, fwe).
// string_match_part: 1 when any reference is found, else 0 (RULER's qa tasks).
// Both lowercase ASCII letters only (Python's lower() also folds other scripts) and need at least
// one reference (duo::Error otherwise).
double string_match_all(std::string_view prediction, const std::vector<std::string>& references);
double string_match_part(std::string_view prediction, const std::vector<std::string>& references);

// A sample's score in [0, 1] by its metric: string_match_all or string_match_part of the cleaned
// prediction against sample.answers, or (metric "instructions") the fraction of the sample's
// instructions it follows (instructions.h).
double score_sample(const EvalSample& sample, std::string_view prediction);

// RULER's task score: 100 times the mean of the sample scores (0 for none).
double task_score(const std::vector<double>& sample_scores);

}  // namespace duo::synth
