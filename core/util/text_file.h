// Writing a whole text file so that a failure is never silent: a full disk, a quota or a path
// that cannot be created is a duo::Error, and the file is never left empty or half written.
#pragma once
#include <filesystem>
#include <string_view>

namespace duo {

// Writes `text` to a temporary file beside `path`, flushes it to the disk, closes it, checks that
// it holds exactly the bytes written, then renames it over `path` (which keeps its old contents if
// anything fails). A `path` that exists and is not a regular file (a device such as /dev/stdout,
// a pipe) is written in place. Throws duo::Error naming `path` and the system's reason.
void write_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace duo
