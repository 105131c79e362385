// The GPT-2 byte-level alphabet: each of the 256 byte values is shown as one printable code
// point, so byte-level BPE vocabularies are valid UTF-8 strings. duo only maps back (vocabulary
// at load time, decoding): encoding matches raw bytes against the mapped-back vocabulary.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace duo::byte_level {

// The byte a code point stands for, if it is one of the 256 alphabet characters.
std::optional<unsigned char> byte_of_char(char32_t cp);

// Maps a string of alphabet characters back to raw bytes; nullopt when some character is not
// in the alphabet.
std::optional<std::string> to_bytes(std::string_view token);

}  // namespace duo::byte_level
