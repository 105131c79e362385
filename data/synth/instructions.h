// Instruction retention: a few independent, machine-checkable instructions (or a system prompt
// holding them) placed at a chosen depth of a long text, then a question whose answer must follow
// them. After "The Pitfalls of KV Cache Compression" (Chen et al., 2025, arXiv:2510.00231), which
// finds that KV-cache eviction makes a model drop some of a prompt's instructions while keeping
// others; its instructions come from IFEval, these are duo's own, each with a deterministic check.
//
// Tasks (eval_task.h): "retention:instructions" puts "Instructions for your answer ..." at a depth
// drawn from RULER's depth grid (or --depth); "retention:system_prompt" puts a system prompt with
// the same rules at depth 0 (or --depth). The haystack is the essay text (the shipped KJV Bible by
// default). A sample's `instructions` are what follows() checks.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "synth/eval_task.h"
#include "synth/rng.h"

namespace duo::synth {

// The kinds, in the order they are documented:
//   language       "Write your entire answer in French." (French, Spanish or German): more of
//                  that language's common function words than of any other's (English included),
//                  and at least 3 of them
//   end_word       "End your answer with the word "harbor".": the last word is that word
//   start_word     "Begin your answer with the word "lantern".": the first word is that word
//   number         "Include the number 417 in your answer.": 417 appears, not inside a longer number
//   keyword_twice  "Use the word "walnut" at least twice in your answer.": two or more times
//   capitals       "Write your entire answer in capital letters.": letters, none of them lowercase
//   no_commas      "Do not use any commas in your answer.": no ','
//   bullets        "Give your answer as exactly 3 bullet points, ...": exactly 3 lines start with "* "
// Words are runs of letters and digits (bytes above 0x7F count as letters), compared without case.
const std::vector<std::string>& instruction_kinds();

// Whether the answer follows the instruction. Throws duo::Error for an unknown kind.
bool follows(const Instruction& instruction, std::string_view answer);

// The fraction of the instructions the answer follows (IFEval's instruction-level accuracy;
// the prompt-level one is whether this is 1).
double instruction_score(const std::vector<Instruction>& instructions, std::string_view answer);

// `count` instructions of distinct kinds drawn with rng (used by the generator; exposed for tests).
std::vector<Instruction> draw_instructions(Rng& rng, int64_t count);

}  // namespace duo::synth
