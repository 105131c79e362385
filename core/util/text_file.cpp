#include "util/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "util/error.h"

namespace duo {
namespace {

// Writes all of `text` to `fd`; false (errno set) when the system refuses part of it.
bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool write_all(int fd, std::span<const std::string_view> parts) {
  for (std::string_view part : parts)
    if (!write_all(fd, part)) return false;
  return true;
}

uint64_t total_size(std::span<const std::string_view> parts) {
  uint64_t size = 0;
  for (std::string_view part : parts) size += part.size();
  return size;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int error) {
  throw Error(path, what + ": " + std::strerror(error));
}

}  // namespace

void write_text_file(const std::filesystem::path& path, std::string_view text, WriteFileOptions options) {
  const std::string_view parts[] = {text};
  write_file_parts(path, parts, options);
}

void write_file_parts(const std::filesystem::path& path, std::span<const std::string_view> parts,
                      WriteFileOptions options) {
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    if (S_ISDIR(existing.st_mode)) throw Error(path, "cannot be written: it is a directory");
    // Nothing can be renamed over a device or a pipe: write to it directly.
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot be written", errno);
    const bool written = write_all(fd, parts);
    const int error = errno;
    if (::close(fd) != 0 && written) fail(path, "write failed", errno);
    if (!written) fail(path, "write failed", error);
    return;
  }

  // A symbolic link keeps pointing where it did: the file it names is the one replaced.
  std::filesystem::path target = path;
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    target = real;
    std::free(real);
  }
  std::filesystem::path tmp = target;
  tmp += ".partial";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(path, "cannot be written", errno);
  auto give_up = [&](const std::string& what, int error) {
    std::remove(tmp.c_str());
    fail(path, what, error);
  };
  if (!write_all(fd, parts)) {
    const int error = errno;
    ::close(fd);
    give_up("write failed", error);
  }
  // Some file systems report a full disk or quota only when the data are flushed or closed.
  if (options.sync && ::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    give_up("write failed", error);
  }
  if (::close(fd) != 0) give_up("write failed", errno);
  struct stat written {};
  if (::stat(tmp.c_str(), &written) != 0) give_up("write failed", errno);
  if (static_cast<uint64_t>(written.st_size) != total_size(parts)) {
    std::remove(tmp.c_str());
    throw Error(path, "write failed: " + std::to_string(written.st_size) + " of " + std::to_string(total_size(parts)) +
                          " bytes reached the disk");
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) give_up("cannot be moved into place", errno);
}

void append_text_file(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EISDIR) throw Error(path, "cannot be written: it is a directory");
    fail(path, "cannot be written", errno);
  }
  struct stat before {};
  if (::fstat(fd, &before) != 0) {
    const int error = errno;
    ::close(fd);
    fail(path, "cannot be written", error);
  }
  const bool regular = S_ISREG(before.st_mode);
  bool ok = write_all(fd, text) && (!regular || ::fsync(fd) == 0);
  int error = errno;
  if (!ok && regular && ::ftruncate(fd, before.st_size) != 0) {
    // The half-written tail stays; say so rather than hide it.
    ::close(fd);
    throw Error(path, std::string("write failed: ") + std::strerror(error) + "; the last " +
                          "line is incomplete and could not be removed");
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) fail(path, "write failed", error);
}

}  // namespace duo
