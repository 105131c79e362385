#include "analysis/sweep_tasks.h"

#include <algorithm>

#include "synth/scoring.h"
#include "util/error.h"

namespace duo::analysis {
namespace {

std::vector<std::string> family(const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& name : synth::eval_task_names())
    if (name.starts_with(prefix)) out.push_back(name);
  return out;
}

std::vector<std::string> resolve(const std::string& item) {
  if (item == "passkey" || item == "niah") return {item};
  if (item == "ruler" || item == "retention") return family(item + ":");
  const std::vector<std::string> known = synth::eval_task_names();
  for (const std::string& name : known)
    if (name == item || name.substr(name.find(':') + 1) == item) return {name};
  std::string list = "passkey, niah, ruler, retention";
  for (const std::string& name : known) list += ", " + name;
  throw Error("--task: unknown task '" + item + "'; the tasks are " + list);
}

}  // namespace

std::vector<std::string> parse_sweep_tasks(const std::string& list) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= list.size()) {
    const size_t end = std::min(list.find(',', begin), list.size());
    const std::string item = list.substr(begin, end - begin);
    if (!item.empty())
      for (std::string& task : resolve(item))
        if (std::find(out.begin(), out.end(), task) == out.end()) out.push_back(std::move(task));
    begin = end + 1;
  }
  if (out.empty()) throw Error("--task: no task given");
  return out;
}

bool is_grid_task(const std::string& task) { return task == "passkey" || task == "niah"; }

bool is_ruler_task(const std::string& task) { return task.starts_with("ruler:"); }

double score_answer(const synth::EvalSample& sample, std::span<const int64_t> answer_ids, const Tokenizer& tokenizer) {
  const std::vector<int32_t> ids(answer_ids.begin(), answer_ids.end());
  return synth::score_sample(sample, tokenizer.decode(ids, /*skip_special_tokens=*/true));
}

}  // namespace duo::analysis
