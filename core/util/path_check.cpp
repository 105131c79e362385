#include "util/path_check.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "util/error.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

std::string str(std::string_view s) { return std::string(s); }

// The type of what `path` names, following links; not_found also when a parent is a file.
// Throws when it cannot be told (a parent that cannot be searched).
fs::file_type type_of(const fs::path& path, std::string_view flag) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec && status.type() == fs::file_type::none)
    throw Error(str(flag) + " " + path.string() + ": cannot be read: " + ec.message());
  return status.type();
}

// Empty when the current user may create entries in `dir` (and search it), else the reason.
std::string not_writable(const fs::path& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) == 0) return {};
  return std::strerror(errno);
}

// Makes `dir` (and its missing parents), whose nearest existing ancestor must be a writable
// directory; `shown` is the path the user gave (the directory itself, or the file in it).
void create_directory(const fs::path& dir, const fs::path& shown, std::string_view flag) {
  const std::string prefix = str(flag) + " " + shown.string() + ": cannot be created: ";
  fs::path ancestor = dir;
  while (type_of(ancestor, flag) == fs::file_type::not_found) {
    if (!ancestor.has_relative_path()) break;  // "/" (or "") itself
    ancestor = ancestor.parent_path();
    if (ancestor.empty()) ancestor = ".";
  }
  if (type_of(ancestor, flag) != fs::file_type::directory)
    throw Error(prefix + ancestor.string() + " is a file");
  if (const std::string why = not_writable(ancestor); !why.empty())
    throw Error(prefix + ancestor.string() + " is not writable (" + why + ")");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(prefix + ec.message());
}

// "--model is empty; it expects a checkpoint directory".
void require_given(const fs::path& path, std::string_view flag, std::string_view what) {
  if (path.empty()) throw Error(str(flag) + " is empty; it expects " + str(what));
}

}  // namespace

void require_directory(const fs::path& path, std::string_view flag, std::string_view what) {
  require_given(path, flag, what);
  const fs::file_type type = type_of(path, flag);
  if (type == fs::file_type::directory) return;
  const std::string start = str(flag) + " expects " + str(what) + "; " + path.string();
  if (type == fs::file_type::not_found) throw Error(start + " does not exist");
  throw Error(start + (type == fs::file_type::regular ? " is a file" : " is not a directory"));
}

void require_file(const fs::path& path, std::string_view flag, std::string_view what) {
  require_given(path, flag, what);
  const fs::file_type type = type_of(path, flag);
  const std::string start = str(flag) + " expects " + str(what) + "; " + path.string();
  if (type == fs::file_type::not_found) throw Error(start + " does not exist");
  if (type == fs::file_type::directory) throw Error(start + " is a directory");
}

void prepare_output_directory(const fs::path& dir, std::string_view flag) {
  require_given(dir, flag, "a directory");
  const fs::file_type type = type_of(dir, flag);
  if (type == fs::file_type::not_found) return create_directory(dir, dir, flag);
  if (type != fs::file_type::directory) throw Error(str(flag) + " expects a directory; " + dir.string() + " is a file");
  if (const std::string why = not_writable(dir); !why.empty())
    throw Error(str(flag) + " " + dir.string() + ": not writable (" + why + ")");
}

void prepare_output_file(const fs::path& file, std::string_view flag) {
  require_given(file, flag, "a file");
  const fs::file_type type = type_of(file, flag);
  if (type == fs::file_type::directory)
    throw Error(str(flag) + " expects a file; " + file.string() + " is a directory");
  if (type != fs::file_type::not_found && type != fs::file_type::regular) {
    // A device or a pipe is written in place (write_text_file): only it need be writable.
    if (::access(file.c_str(), W_OK) != 0)
      throw Error(str(flag) + " " + file.string() + ": not writable (" + std::strerror(errno) + ")");
    return;
  }
  // A new file, or a regular one replaced through a temporary beside it: its directory is written.
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  if (type_of(dir, flag) == fs::file_type::directory) {
    if (const std::string why = not_writable(dir); !why.empty())
      throw Error(str(flag) + " " + file.string() + ": cannot be " + (type == fs::file_type::regular ? "replaced" : "created") +
                  ": " + dir.string() + " is not writable (" + why + ")");
    return;
  }
  create_directory(dir, file, flag);
}

}  // namespace duo
