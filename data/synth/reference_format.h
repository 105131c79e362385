// The reference implementation's passkey-retrieval format (mit-han-lab/duo-attention): its
// sentences and word list, in one place. They are the defaults of both synth::PasskeyConfig and
// duo-train's configuration (train/config.h), which must agree and which this header serves
// without a link dependency between them. Gates are calibrated on exactly these strings
// ("Remeber" is the reference's spelling).
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace duo::synth::reference {

// "{ordinal}" becomes first, second, ...; "{index}" becomes 1, 2, ...
inline constexpr std::string_view prefix = "<|im_start|> This is a very long story book: <book> ";
inline constexpr std::string_view suffix = " </book>.\n\n";
inline constexpr std::string_view separator = "\n\n";
inline constexpr std::string_view needle = "Remeber this sequence of words, it's the {ordinal} passkey to the vault: ";
inline constexpr std::string_view question =
    "Based on the content of the book, what is the {ordinal} passkey to the vault?\n";
inline constexpr std::string_view answer_prefix = "Passkey: ";

inline constexpr std::array<std::string_view, 26> nato_words = {
    "alpha", "bravo",  "charlie", "delta",  "echo",    "foxtrot", "golf",  "hotel",  "india",
    "juliett", "kilo", "lima",    "mike",   "november", "oscar",  "papa",  "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray",    "yankee", "zulu"};

inline std::vector<std::string> nato_alphabet() { return {nato_words.begin(), nato_words.end()}; }

}  // namespace duo::synth::reference
