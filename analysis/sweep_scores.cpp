#include "analysis/sweep_scores.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "analysis/sweep_tasks.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo::analysis {
namespace {

using PatternKey = std::tuple<std::string, int64_t, double, int64_t>;  // method, seed, sparsity, length

struct Mean {
  double sum = 0;
  int64_t n = 0;
  void add(double x) {
    sum += x;
    ++n;
  }
  double value() const { return n ? sum / double(n) : 0; }
};

}  // namespace

std::vector<TaskScore> task_scores(const std::vector<SweepRow>& rows) {
  std::map<std::tuple<std::string, std::string, int64_t, double, int64_t>, Mean> by;
  for (const auto& r : rows) by[{r.task, r.method, r.seed, r.sparsity, r.length}].add(r.score);
  std::vector<TaskScore> out;
  for (const auto& [key, mean] : by) {
    const auto& [task, method, seed, sparsity, length] = key;
    out.push_back({task, method, seed, sparsity, length, mean.value(), mean.n});
  }
  return out;
}

std::vector<TaskScore> ruler_averages(const std::vector<TaskScore>& per_task) {
  std::map<PatternKey, Mean> by;
  for (const auto& t : per_task)
    if (is_ruler_task(t.task)) by[{t.method, t.seed, t.sparsity, t.length}].add(t.score);
  std::vector<TaskScore> out;
  for (const auto& [key, mean] : by) {
    const auto& [method, seed, sparsity, length] = key;
    out.push_back({kRulerAverage, method, seed, sparsity, length, mean.value(), mean.n});
  }
  return out;
}

void write_task_scores_csv(const std::filesystem::path& path, const std::vector<TaskScore>& scores) {
  std::ostringstream out;
  out << "task,method,seed,sparsity,length,score,count\n";
  for (const auto& t : scores)
    out << t.task << ',' << t.method << ',' << t.seed << ',' << format_number(t.sparsity, 6) << ',' << t.length << ','
        << format_number(t.score, 6) << ',' << t.count << "\n";
  write_text_file(path, out.str());
}

std::string task_scores_summary(const std::vector<TaskScore>& scores) {
  // Columns: full attention, then duo and random (mean over seeds) at each sparsity in (0, 1),
  // then every head streaming.
  std::set<double> between;
  bool full = false, streaming = false;
  std::map<std::tuple<std::string, int64_t, std::string, double>, Mean> cell;  // task, length, method, sparsity
  std::vector<std::string> tasks;
  for (const auto& t : scores) {
    if (is_grid_task(t.task)) continue;
    if (std::find(tasks.begin(), tasks.end(), t.task) == tasks.end()) tasks.push_back(t.task);
    cell[{t.task, t.length, t.method, t.sparsity}].add(t.score);
    if (t.sparsity == 0) full = true;
    else if (t.sparsity == 1) streaming = true;
    else between.insert(t.sparsity);
  }
  if (tasks.empty()) return "";
  std::vector<std::pair<std::string, double>> columns;
  if (full) columns.push_back({"duo", 0});
  for (double s : between) {
    columns.push_back({"duo", s});
    columns.push_back({"random", s});
  }
  if (streaming) columns.push_back({"duo", 1});
  std::ostringstream out;
  char field[64];
  std::snprintf(field, sizeof field, "%-28s %7s", "task (score in [0, 1])", "length");
  out << field;
  for (const auto& [method, s] : columns) {
    const std::string name = s == 0 ? "full" : s == 1 ? "stream" : (method == "duo" ? "duo " : "rand ") + format_number(s, 3);
    std::snprintf(field, sizeof field, " %9s", name.c_str());
    out << field;
  }
  out << "\n";
  std::set<int64_t> lengths;
  for (const auto& t : scores) lengths.insert(t.length);
  for (const std::string& task : tasks)
    for (int64_t length : lengths) {
      const bool any = std::any_of(columns.begin(), columns.end(), [&](const auto& c) {
        return cell.count({task, length, c.first, c.second}) > 0;
      });
      if (!any) continue;
      std::snprintf(field, sizeof field, "%-28s %7lld", task.c_str(), (long long)length);
      out << field;
      for (const auto& [method, s] : columns) {
        auto it = cell.find({task, length, method, s});
        if (it == cell.end())
          std::snprintf(field, sizeof field, " %9s", "-");
        else
          std::snprintf(field, sizeof field, " %9.3f", it->second.value());
        out << field;
      }
      out << "\n";
    }
  return out.str();
}

}  // namespace duo::analysis
