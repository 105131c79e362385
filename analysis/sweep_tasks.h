// The tasks a sweep runs (`--task`): the two depth-grid retrieval tasks of the training format
// (passkey, niah), and the evaluation tasks of data/synth (eval_task.h: RULER's synthetic tasks,
// instruction retention), each scored by its own metric on the decoded answer text.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "synth/eval_task.h"
#include "tokenizer/tokenizer.h"

namespace duo::analysis {

// The depth written for a row of an evaluation task: its generator places the needles (RULER's
// depths, drawn per sample), so --depths does not apply.
inline constexpr double kTaskOwnDepth = -1;

// "passkey", "niah", "ruler:vt", "retention:instructions", ... from a --task list: comma-separated
// items, each "passkey", "niah", "ruler" (every RULER task), "retention" (both retention tasks),
// "ruler:NAME" / "retention:NAME", or a bare RULER or retention task name ("vt", "cwe",
// "instructions"; so "ruler:vt,cwe" is ruler:vt and ruler:cwe). "niah" is the depth-grid task, not
// one of RULER's niah_* tasks. Repeats are dropped, the first order kept.
// Throws duo::Error for an empty list or an unknown name, listing the known ones.
std::vector<std::string> parse_sweep_tasks(const std::string& list);

// Whether a canonical task name is a depth-grid task (passkey, niah), or an evaluation task.
bool is_grid_task(const std::string& task);
// Whether it is one of RULER's synthetic tasks (those the RULER average is taken over).
bool is_ruler_task(const std::string& task);

// The score of a greedy answer (token ids after the prompt, possibly ending in an EOS id) to an
// evaluation sample: decoded to text without special tokens, then the sample's metric
// (synth::score_sample: string_match_all for RULER's synthetic tasks, the instruction checks for
// retention). In [0, 1].
double score_answer(const synth::EvalSample& sample, std::span<const int64_t> answer_ids, const Tokenizer& tokenizer);

}  // namespace duo::analysis
