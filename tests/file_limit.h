// A full disk without root or a small file system: while a FileSizeLimit lives, a write that
// would grow any file of this process (or of a program it starts meanwhile) past `max_bytes`
// fails with EFBIG, "File too large" (RLIMIT_FSIZE, with SIGXFSZ ignored so that the write fails
// instead of the process being killed). Writers take the same path as for ENOSPC on a full disk.
// Pipes and terminals are not limited, so test output and popen() captures are unaffected.
#pragma once
#include <signal.h>
#include <sys/resource.h>

#include <stdexcept>

namespace duo::test {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t max_bytes) {
    if (getrlimit(RLIMIT_FSIZE, &saved_) != 0) throw std::runtime_error("getrlimit(RLIMIT_FSIZE) failed");
    saved_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = max_bytes;  // the soft limit only, so that it can be raised again
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, saved_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t saved_handler_ = SIG_DFL;
};

}  // namespace duo::test
