// EvalGenerator: the task by name, then a draft per sample, fitted to its length.
#include <cmath>

#include "synth/eval_build.h"
#include "util/error.h"

namespace duo::synth {

std::vector<std::string> eval_task_names() {
  std::vector<std::string> out;
  for (const std::string& n : eval::ruler_task_names()) out.push_back("ruler:" + n);
  for (const std::string& n : eval::retention_task_names()) out.push_back("retention:" + n);
  return out;
}

EvalGenerator::EvalGenerator(EvalConfig config, Tokenizer tokenizer)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)) {
  if (config_.depth && !(*config_.depth >= 0 && *config_.depth <= 1))
    throw Error("the depth must be a fraction in [0, 1], got " + std::to_string(*config_.depth));
  const std::string& name = config_.task;
  if (name.starts_with("ruler:")) task_ = eval::make_ruler_task(name.substr(6), config_, tokenizer_);
  if (name.starts_with("retention:")) task_ = eval::make_retention_task(name.substr(10), config_, tokenizer_);
  if (!task_) {
    std::string known;
    for (const std::string& n : eval_task_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown task '" + name + "'; the tasks are " + known);
  }
}

EvalGenerator::~EvalGenerator() = default;
EvalGenerator::EvalGenerator(EvalGenerator&&) noexcept = default;

EvalSample EvalGenerator::sample(int64_t index, int64_t length) const {
  if (index < 0) throw Error("the sample index must be at least 0");
  if (length < 1) throw Error("the length must be at least 1 token");
  const std::unique_ptr<eval::Draft> draft = task_->draft(index, length);
  return eval::fit(*draft, tokenizer_, length);
}

}  // namespace duo::synth
