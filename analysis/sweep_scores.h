// A sweep's scores per task: the mean score of each (task, pattern, length) over its samples,
// and RULER's average per (pattern, length) — the mean over RULER's synthetic tasks of their
// task scores, as RULER reports one number per model and length. A pattern is (method, seed,
// sparsity): duo's at sparsity 0 is full attention, at 1 every head streaming.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/sweep.h"

namespace duo::analysis {

inline constexpr const char* kRulerAverage = "ruler average";

struct TaskScore {
  std::string task;  // a --task name, or kRulerAverage
  std::string method;
  int64_t seed = 0;
  double sparsity = 0;
  int64_t length = 0;
  double score = 0;   // mean sample score in [0, 1] (RULER's task score / 100)
  int64_t count = 0;  // samples averaged; for kRulerAverage, the RULER tasks averaged
};

// Per (task, method, seed, sparsity, length), sorted by those keys.
std::vector<TaskScore> task_scores(const std::vector<SweepRow>& rows);

// kRulerAverage per (method, seed, sparsity, length) over the RULER tasks among `per_task`
// (task_scores' output) at that pattern and length; none when the rows hold no RULER task.
std::vector<TaskScore> ruler_averages(const std::vector<TaskScore>& per_task);

// Writes task_scores and ruler_averages as one CSV (task,method,seed,sparsity,length,score,count),
// rewritten whole (throws duo::Error naming the file when it cannot).
void write_task_scores_csv(const std::filesystem::path& path, const std::vector<TaskScore>& scores);

// The closing table of the evaluation tasks: per task (and the RULER average) and length, the
// score of full attention, of duo at each sparsity between 0 and 1, of random heads there (mean
// over seeds) and of every head streaming. Empty when `scores` holds none.
std::string task_scores_summary(const std::vector<TaskScore>& scores);

}  // namespace duo::analysis
