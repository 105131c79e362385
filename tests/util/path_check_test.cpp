// The path checks (core/util/path_check.h): each kind of wrong path is one duo::Error naming the
// flag and the path, outputs are created when they can be, and nothing else is touched.
#include "util/path_check.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "util/error.h"

namespace duo {
namespace {

namespace fs = std::filesystem;

// A fresh directory of this test's own, which every user may enter (the read-only checks run
// as an unprivileged user).
fs::path scratch(const std::string& name) {
  static const fs::path root = [] {
    std::string pattern = (fs::temp_directory_path() / "duo_path_check_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    fs::permissions(pattern, fs::perms::all);
    return fs::path(pattern);
  }();
  const fs::path dir = root / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::all);
  return dir;
}

// The message `check` throws; "" when it throws nothing.
std::string error_of(const std::function<void()>& check) {
  try {
    check();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The message `check` throws when run as a user who owns nothing here (root may write to a
// read-only directory; a checked-out tree's user may not): in a child that drops to "nobody"
// when the test runs as root. Returns "skip" when it cannot become that user.
std::string error_as_other_user(const std::function<void()>& check) {
  int fds[2];
  if (pipe(fds) != 0) return "skip";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    const std::string message = error_of(check);
    if (write(fds[1], message.data(), message.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? message : "skip";
}

TEST(PathCheck, ADirectoryFlagGivenAFileOrNothingSaysSo) {
  const fs::path dir = scratch("require_directory");
  const fs::path file = dir / "model.safetensors";
  std::ofstream(file) << "weights";
  EXPECT_EQ(error_of([&] { require_directory(dir, "--model", "a checkpoint directory"); }), "");
  EXPECT_EQ(error_of([&] { require_directory(file, "--model", "a checkpoint directory"); }),
            "--model expects a checkpoint directory; " + file.string() + " is a file");
  EXPECT_EQ(error_of([&] { require_directory(dir / "nowhere", "--model", "a checkpoint directory"); }),
            "--model expects a checkpoint directory; " + (dir / "nowhere").string() + " does not exist");
  EXPECT_EQ(error_of([&] { require_directory(file / "x", "--tokenizer", "a tokenizer directory"); }),
            "--tokenizer expects a tokenizer directory; " + (file / "x").string() + " does not exist");
  EXPECT_EQ(error_of([&] { require_directory("/dev/null", "model.path", "a checkpoint directory"); }),
            "model.path expects a checkpoint directory; /dev/null is not a directory");
  EXPECT_EQ(error_of([&] { require_directory("", "--model", "a checkpoint directory"); }),
            "--model is empty; it expects a checkpoint directory");
  // A link to a directory is one.
  fs::create_directory_symlink(dir, dir / "link");
  EXPECT_EQ(error_of([&] { require_directory(dir / "link", "--model", "a checkpoint directory"); }), "");
}

TEST(PathCheck, AFileFlagGivenADirectoryOrNothingSaysSo) {
  const fs::path dir = scratch("require_file");
  const fs::path file = dir / "config.json";
  std::ofstream(file) << "{}";
  EXPECT_EQ(error_of([&] { require_file(file, "--random-config", "a config.json file"); }), "");
  EXPECT_EQ(error_of([&] { require_file("/dev/null", "--random-config", "a config.json file"); }), "");
  EXPECT_EQ(error_of([&] { require_file(dir, "--random-config", "a config.json file"); }),
            "--random-config expects a config.json file; " + dir.string() + " is a directory");
  EXPECT_EQ(error_of([&] { require_file(dir / "none.json", "--random-config", "a config.json file"); }),
            "--random-config expects a config.json file; " + (dir / "none.json").string() + " does not exist");
}

TEST(PathCheck, OutputDirectoriesAreCreatedOrRefusedWithTheirPath) {
  const fs::path dir = scratch("output_directory");
  const fs::path file = dir / "run.h5";
  std::ofstream(file) << "history";

  // Existing, or created with its missing parents.
  EXPECT_EQ(error_of([&] { prepare_output_directory(dir, "--out"); }), "");
  EXPECT_EQ(error_of([&] { prepare_output_directory(dir / "a" / "b", "--out"); }), "");
  EXPECT_TRUE(fs::is_directory(dir / "a" / "b"));

  EXPECT_EQ(error_of([&] { prepare_output_directory(file, "--out"); }),
            "--out expects a directory; " + file.string() + " is a file");
  EXPECT_EQ(error_of([&] { prepare_output_directory(file / "plots" / "png", "run.out"); }),
            "run.out " + (file / "plots" / "png").string() + ": cannot be created: " + file.string() + " is a file");
  EXPECT_EQ(error_of([&] { prepare_output_directory("", "--out"); }), "--out is empty; it expects a directory");

  const fs::path read_only = dir / "read_only";
  fs::create_directory(read_only);
  fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                 fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const std::string below = error_as_other_user([&] { prepare_output_directory(read_only / "sweep", "--out"); });
  const std::string itself = error_as_other_user([&] { prepare_output_directory(read_only, "--out"); });
  if (below == "skip" || itself == "skip") GTEST_SKIP() << "cannot run a check as an unprivileged user";
  EXPECT_EQ(below, "--out " + (read_only / "sweep").string() + ": cannot be created: " + read_only.string() +
                       " is not writable (Permission denied)");
  EXPECT_EQ(itself, "--out " + read_only.string() + ": not writable (Permission denied)");
  EXPECT_FALSE(fs::exists(read_only / "sweep"));
}

TEST(PathCheck, OutputFilesAreCheckedAndTheirDirectoryCreated) {
  const fs::path dir = scratch("output_file");
  const fs::path file = dir / "run.h5";
  std::ofstream(file) << "history";

  EXPECT_EQ(error_of([&] { prepare_output_file(dir / "pattern.json", "--out"); }), "");
  EXPECT_FALSE(fs::exists(dir / "pattern.json")) << "the check wrote the file";
  EXPECT_EQ(error_of([&] { prepare_output_file(file, "--out"); }), "");  // replaced later
  EXPECT_EQ(error_of([&] { prepare_output_file(dir / "new" / "dump.h5", "--dump"); }), "");
  EXPECT_TRUE(fs::is_directory(dir / "new"));
  EXPECT_FALSE(fs::exists(dir / "new" / "dump.h5"));
  EXPECT_EQ(error_of([&] { prepare_output_file("/dev/null", "--out"); }), "");  // written in place

  EXPECT_EQ(error_of([&] { prepare_output_file(dir, "--out"); }),
            "--out expects a file; " + dir.string() + " is a directory");
  EXPECT_EQ(error_of([&] { prepare_output_file(file / "pattern.json", "--out"); }),
            "--out " + (file / "pattern.json").string() + ": cannot be created: " + file.string() + " is a file");
  EXPECT_EQ(error_of([&] { prepare_output_file(file / "a" / "p.json", "--out"); }),
            "--out " + (file / "a" / "p.json").string() + ": cannot be created: " + file.string() + " is a file");

  const fs::path read_only = dir / "read_only";
  fs::create_directory(read_only);
  std::ofstream(read_only / "old.json") << "{}";
  fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                 fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const std::string fresh = error_as_other_user([&] { prepare_output_file(read_only / "dump.h5", "--dump"); });
  const std::string replaced = error_as_other_user([&] { prepare_output_file(read_only / "old.json", "--out"); });
  const std::string below = error_as_other_user([&] { prepare_output_file(read_only / "d" / "p.json", "--out"); });
  if (fresh == "skip" || replaced == "skip" || below == "skip")
    GTEST_SKIP() << "cannot run a check as an unprivileged user";
  EXPECT_EQ(fresh, "--dump " + (read_only / "dump.h5").string() + ": cannot be created: " + read_only.string() +
                       " is not writable (Permission denied)");
  EXPECT_EQ(replaced, "--out " + (read_only / "old.json").string() + ": cannot be replaced: " + read_only.string() +
                          " is not writable (Permission denied)");
  EXPECT_EQ(below, "--out " + (read_only / "d" / "p.json").string() + ": cannot be created: " + read_only.string() +
                       " is not writable (Permission denied)");
}

}  // namespace
}  // namespace duo
