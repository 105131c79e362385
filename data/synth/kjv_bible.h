// The King James Bible from Debian's bible-kjv-text package, the default haystack: public
// domain, installed by scripts/setup.sh, so training needs no download.
#pragma once
#include <filesystem>
#include <string>

namespace duo::synth {

// Where the bible-kjv-text package installs its (compressed) text.
inline const std::filesystem::path kKjvBibleFile = "/usr/lib/bible.data";

// The whole text as prose: verse references dropped, the verses of a chapter joined into one
// paragraph, chapters separated by blank lines. Throws duo::Error when the file is missing
// (saying how to install it or name other haystack files) or is not in the expected format.
std::string read_kjv_bible(const std::filesystem::path& file = kKjvBibleFile);

}  // namespace duo::synth
