// Word lists of the evaluation tasks (ruler.h, instructions.h), written for duo: common English
// adjectives, nouns and verbs, lowercase ASCII, sorted, each list without repeats. RULER draws
// its needle keys ("adjective-noun") and common-words vocabulary from the wonderwords package's
// lists; these play the same part, with fewer words (about 1,000 in all, 123,402 keys).
#pragma once
#include <string>
#include <vector>

namespace duo::synth::words {

const std::vector<std::string>& adjectives();
const std::vector<std::string>& nouns();
const std::vector<std::string>& verbs();

}  // namespace duo::synth::words
