// RULER's task wording (NVIDIA/RULER, scripts/data/synthetic/constants.py and the task scripts
// beside it), in one place: duo's generators (ruler.cpp) build their prompts from these strings,
// and the tests check samples against them. In a template, "{context}" is the haystack with its
// needles; the other fields are filled per task. RULER's prompt is the template followed by the
// answer prefix (scripts/data/prepare.py, with the "base" model template: no chat wrapping).
#pragma once
#include <string_view>

namespace duo::synth::ruler_format {

// scripts/data/synthetic/constants.py, TASKS['niah']. niah.py rewrites it to the singular when a
// sample asks for one value (num_needle_q * num_needle_v == 1): "Some" -> "A", "are all" -> "is",
// "are" -> "is", "answers" -> "answer", and type_needle_v loses its final "s".
inline constexpr std::string_view niah_template =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize "
    "it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special "
    "magic {type_needle_v} for {query} mentioned in the provided text?";
inline constexpr std::string_view niah_answer_prefix =
    " The special magic {type_needle_v} for {query} mentioned in the provided text are";
// niah.py: the needle sentence (type_needle_v stays plural here), and the "noise" haystack
// sentence, repeated once per line.
inline constexpr std::string_view niah_needle = "One of the special magic {type_needle_v} for {key} is: {value}.";
inline constexpr std::string_view noise_sentence =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

// TASKS['variable_tracking']; variable_tracking.py's chain statements.
inline constexpr std::string_view vt_template =
    "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n"
    "{context}\nQuestion: Find all variables that are assigned the value {query} in the text above.";
inline constexpr std::string_view vt_answer_prefix =
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables "
    "are assigned the value {query}, they are: ";
inline constexpr std::string_view vt_first_statement = "VAR {var} = {value}";
inline constexpr std::string_view vt_next_statement = "VAR {var} = VAR {previous} ";  // sic: trailing space

// TASKS['common_words_extraction'] (the "10" is literal in RULER's template).
inline constexpr std::string_view cwe_template =
    "Below is a numbered list of words. In these words, some appear more often than others. "
    "Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most common "
    "words in the above list?";
inline constexpr std::string_view cwe_answer_prefix =
    " Answer: The top 10 words that appear most often in the list are:";

// TASKS['freq_words_extraction'].
inline constexpr std::string_view fwe_template =
    "Read the following coded text and track the frequency of each coded word. Find the three most "
    "frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please "
    "ignore the dots '....'. What are the three most frequently appeared words in the above coded "
    "text?";
inline constexpr std::string_view fwe_answer_prefix =
    " Answer: According to the coded text above, the three most frequently appeared words are:";

}  // namespace duo::synth::ruler_format
