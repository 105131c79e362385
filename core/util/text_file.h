// Writing a whole file so that a failure is never silent: a full disk, a quota or a path that
// cannot be created is a duo::Error, and the file is never left empty or half written.
#pragma once
#include <filesystem>
#include <span>
#include <string_view>

namespace duo {

struct WriteFileOptions {
  // Flush the new file to the disk before it is renamed into place (survives a power loss, not
  // only a kill; some file systems report a full disk or quota only here).
  bool sync = true;
};

// Writes `text` (any bytes) to a temporary file beside `path` ("<path>.partial"), flushes it to
// the disk, closes it, checks that it holds exactly the bytes written, then renames it over `path`
// (which keeps its old contents if anything fails; the temporary file is removed). A `path` that
// exists and is not a regular file (a device such as /dev/stdout, a pipe) is written in place.
// Throws duo::Error naming `path` and the system's reason.
void write_text_file(const std::filesystem::path& path, std::string_view text, WriteFileOptions options);
inline void write_text_file(const std::filesystem::path& path, std::string_view text) {
  write_text_file(path, text, WriteFileOptions{});
}

// The same for a file given as consecutive pieces (a header, then tensors' bytes), written one
// after the other without joining them first.
void write_file_parts(const std::filesystem::path& path, std::span<const std::string_view> parts,
                      WriteFileOptions options = {});

// Appends `text` to `path` (created when absent) and flushes it to the disk. When the system
// refuses part of it, the file is cut back to its old length, so no half-written line is left,
// and a duo::Error names `path` and the system's reason.
void append_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace duo
