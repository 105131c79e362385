// Gate-history file: round trip, refusal to overwrite, step checks, resume without duplicated or
// missing steps, reading while the writer is open, clear errors for bad files, an independent
// reader (h5py), and crash safety under kill -9 at random moments.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "history/history_reader.h"
#include "history/history_writer.h"
#include "synthetic_steps.h"
#include "file_limit.h"
#include "util/error.h"

extern char** environ;

namespace fs = std::filesystem;
using duo::HistoryReader;
using duo::HistoryWriter;
using duo::test::synthetic_meta;
using duo::test::synthetic_step;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / "history_test_data" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_steps(HistoryWriter& writer, int64_t first, int64_t count) {
  for (int64_t s = first; s < first + count; ++s) writer.append(synthetic_step(writer.meta(), s));
}

// Every row must be step == row with the synthetic values.
void expect_synthetic(const HistoryReader& reader) {
  const auto meta = reader.meta();
  for (int64_t row = 0; row < reader.rows(); ++row) {
    ASSERT_EQ(reader.steps()[row], row);
    auto expect = synthetic_step(meta, row);
    auto gates = reader.gates_at(row);
    ASSERT_EQ(gates.size(), expect.gates.size());
    for (size_t i = 0; i < gates.size(); ++i) ASSERT_EQ(gates[i], expect.gates[i]) << "row " << row;
    ASSERT_EQ(reader.loss_total()[row], expect.loss_total);
    ASSERT_EQ(reader.loss_distill()[row], expect.loss_distill);
    ASSERT_EQ(reader.loss_reg()[row], expect.loss_reg);
    ASSERT_EQ(reader.lr()[row], expect.lr);
    ASSERT_EQ(reader.tokens()[row], expect.tokens);
    ASSERT_EQ(reader.wall_time()[row], expect.wall_time);
  }
}

std::string run_capture(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    *status = -1;
    return output;
  }
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  *status = pclose(pipe);
  return output;
}

// Runs check_history.py (h5py); returns the row count it reports, or -1 on failure.
// The interpreter comes from DUO_PYTHON (the test environment), else from the build's setting.
int64_t h5py_rows(const fs::path& file) {
  const char* python = std::getenv("DUO_PYTHON");
  std::string command = std::string("'") + (python ? python : DUO_PYTHON_DEFAULT) + "' '" +
                        DUO_CHECK_HISTORY_SCRIPT + "' '" + file.string() + "' 2>&1";
  int status = 0;
  std::string output = run_capture(command, &status);
  if (status != 0) {
    ADD_FAILURE() << "h5py check failed: " << output;
    return -1;
  }
  return std::stoll(output);
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

void set_int_attr(const fs::path& file, const char* name, int64_t version) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t attr = H5Aopen(f, name, H5P_DEFAULT);
  ASSERT_GE(attr, 0);
  ASSERT_GE(H5Awrite(attr, H5T_NATIVE_INT64, &version), 0);
  H5Aclose(attr);
  H5Fclose(f);
}

}  // namespace

TEST(History, RoundTripKeepsMetadataAndEveryValue) {
  fs::path file = fresh_dir("roundtrip") / "run.h5";
  {
    auto writer = HistoryWriter::create(file, synthetic_meta());
    write_steps(writer, 0, 70);  // more than two chunks along the step axis
    EXPECT_EQ(writer.rows(), 70);
  }
  HistoryReader reader(file);
  const auto meta = synthetic_meta();
  EXPECT_EQ(reader.meta().config_yaml, meta.config_yaml);
  EXPECT_EQ(reader.meta().model_name, meta.model_name);
  EXPECT_EQ(reader.meta().architecture, meta.architecture);
  EXPECT_EQ(reader.meta().num_layers, 3);
  EXPECT_EQ(reader.meta().num_heads, 8);
  EXPECT_EQ(reader.meta().num_kv_heads, 4);
  EXPECT_EQ(reader.meta().head_dim, 16);
  EXPECT_EQ(reader.meta().sink, 128);
  EXPECT_EQ(reader.meta().recent, 256);
  EXPECT_EQ(reader.schema_version(), duo::kHistorySchemaVersion);
  EXPECT_EQ(reader.toolkit_version(), DUO_VERSION);
  EXPECT_EQ(reader.rows(), 70);
  EXPECT_EQ(reader.gates_all().size(), 70u * 12u);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(file), 70);
}

TEST(History, EmptyHistoryReadsAsZeroRows) {
  fs::path file = fresh_dir("empty") / "run.h5";
  HistoryWriter::create(file, synthetic_meta());
  HistoryReader reader(file);
  EXPECT_EQ(reader.rows(), 0);
  EXPECT_EQ(h5py_rows(file), 0);
}

TEST(History, RefusesToOverwriteUnlessTold) {
  fs::path file = fresh_dir("overwrite") / "run.h5";
  {
    auto writer = HistoryWriter::create(file, synthetic_meta());
    write_steps(writer, 0, 3);
  }
  EXPECT_NE(error_of([&] { HistoryWriter::create(file, synthetic_meta()); }).find("already exists"),
            std::string::npos);
  EXPECT_EQ(HistoryReader(file).rows(), 3);
  HistoryWriter::Options options;
  options.overwrite = true;
  HistoryWriter::create(file, synthetic_meta(), options);
  EXPECT_EQ(HistoryReader(file).rows(), 0);
  EXPECT_NE(error_of([&] { HistoryWriter::create(file.parent_path() / "no" / "run.h5", synthetic_meta()); })
                .find("directory does not exist"),
            std::string::npos);
}

TEST(History, AppendChecksGateCountAndConsecutiveSteps) {
  fs::path file = fresh_dir("append_checks") / "run.h5";
  auto writer = HistoryWriter::create(file, synthetic_meta());
  auto record = synthetic_step(writer.meta(), 0);
  record.gates.pop_back();
  EXPECT_NE(error_of([&] { writer.append(record); }).find("expected 12"), std::string::npos);
  writer.append(synthetic_step(writer.meta(), 0));
  EXPECT_NE(error_of([&] { writer.append(synthetic_step(writer.meta(), 2)); }).find("consecutive"),
            std::string::npos);
  EXPECT_EQ(writer.rows(), 1);
  EXPECT_EQ(writer.next_step(), 1);
}

TEST(History, ResumeDropsLaterRowsAndContinuesWithoutGaps) {
  fs::path file = fresh_dir("resume") / "run.h5";
  {
    auto writer = HistoryWriter::create(file, synthetic_meta());
    write_steps(writer, 0, 40);
  }
  {
    // The trainer's last checkpoint was at step 25: rows 25..39 are dropped and rewritten.
    auto writer = HistoryWriter::resume(file, 25);
    EXPECT_EQ(writer.rows(), 25);
    EXPECT_EQ(writer.next_step(), 25);
    write_steps(writer, 25, 30);
  }
  HistoryReader reader(file);
  EXPECT_EQ(reader.rows(), 55);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(file), 55);
  {
    auto writer = HistoryWriter::resume(file, 55);  // resuming exactly at the end drops nothing
    EXPECT_EQ(writer.rows(), 55);
    write_steps(writer, 55, 1);
  }
  EXPECT_EQ(HistoryReader(file).rows(), 56);
  auto writer = HistoryWriter::resume(file, 0);  // from scratch: everything goes
  EXPECT_EQ(writer.rows(), 0);
}

TEST(History, ResumeRefusesToLeaveStepsMissing) {
  fs::path file = fresh_dir("resume_gap") / "run.h5";
  {
    auto writer = HistoryWriter::create(file, synthetic_meta());
    write_steps(writer, 0, 10);
  }
  EXPECT_NE(error_of([&] { HistoryWriter::resume(file, 12); }).find("missing"), std::string::npos);
  EXPECT_EQ(HistoryReader(file).rows(), 10);
  EXPECT_NE(error_of([&] { HistoryWriter::resume(file.parent_path() / "nope.h5", 0); }).find("no such"),
            std::string::npos);
}

TEST(History, ReadersSeeFlushedStepsWhileTheWriterIsOpen) {
  fs::path file = fresh_dir("live") / "run.h5";
  auto writer = HistoryWriter::create(file, synthetic_meta());
  write_steps(writer, 0, 5);
  EXPECT_EQ(HistoryReader(file).rows(), 5);
  EXPECT_EQ(h5py_rows(file), 5);
  write_steps(writer, 5, 5);
  HistoryReader reader(file);
  EXPECT_EQ(reader.rows(), 10);
  expect_synthetic(reader);
}

TEST(History, BadFilesGiveOneClearError) {
  fs::path dir = fresh_dir("bad");
  EXPECT_EQ(error_of([&] { HistoryReader(dir / "missing.h5"); }), (dir / "missing.h5").string() + ": no such file");

  fs::path garbage = dir / "garbage.h5";
  std::ofstream(garbage) << "this is not an HDF5 file\n";
  EXPECT_NE(error_of([&] { HistoryReader{garbage}; }).find("not a readable HDF5 file"), std::string::npos);

  fs::path good = dir / "good.h5";
  {
    auto writer = HistoryWriter::create(good, synthetic_meta());
    write_steps(writer, 0, 50);
  }
  fs::path truncated = dir / "truncated.h5";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  std::string message = error_of([&] { HistoryReader{truncated}; });
  EXPECT_EQ(message.rfind(truncated.string() + ": ", 0), 0u) << message;
  EXPECT_FALSE(message.empty());

  fs::path newer = dir / "newer.h5";
  fs::copy_file(good, newer);
  set_int_attr(newer, "schema_version", duo::kHistorySchemaVersion + 1);
  message = error_of([&] { HistoryReader{newer}; });
  EXPECT_NE(message.find("schema version 2 is newer"), std::string::npos) << message;

  // Sizes past what the reader holds are refused as they are, not after a cast (2^40 layers read
  // as "got 0", a sink of 1e12 as "must not be negative").
  for (const auto& [name, value, expected] : std::vector<std::tuple<const char*, int64_t, std::string>>{
           {"num_layers", int64_t{1} << 40, "attribute 'num_layers' is 1099511627776, not an integer in [1, 2147483647]"},
           {"num_kv_heads", 0, "attribute 'num_kv_heads' is 0, not an integer in [1, 2147483647]"},
           {"sink", 1000000000000, "attribute 'sink' is 1000000000000, not an integer in [0, 16777216]"},
           {"recent", -5, "attribute 'recent' is -5, not an integer in [0, 16777216]"}}) {
    fs::path edited = dir / (std::string(name) + ".h5");
    fs::copy_file(good, edited);
    set_int_attr(edited, name, value);
    EXPECT_EQ(error_of([&] { HistoryReader{edited}; }), edited.string() + ": " + expected);
  }

  fs::path other = dir / "other.h5";
  hid_t f = H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  EXPECT_NE(error_of([&] { HistoryReader{other}; }).find("not a duo gate history"), std::string::npos);
}

namespace {

// Overwrites one gate of a history in place, as an edit by another tool would.
void set_gate(const fs::path& file, int64_t row, int layer, int head, float value) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t set = H5Dopen2(f, "gates", H5P_DEFAULT);
  hid_t space = H5Dget_space(set);
  const hsize_t start[3] = {static_cast<hsize_t>(row), static_cast<hsize_t>(layer), static_cast<hsize_t>(head)};
  const hsize_t count[3] = {1, 1, 1};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  hid_t one = H5Screate_simple(1, count, nullptr);
  ASSERT_GE(H5Dwrite(set, H5T_NATIVE_FLOAT, one, space, H5P_DEFAULT, &value), 0);
  H5Sclose(one);
  H5Sclose(space);
  H5Dclose(set);
  H5Fclose(f);
}

}  // namespace

// duo-train clamps every gate to [0, 1] after each step (as the reference does): a value outside,
// or NaN, is refused naming the file, step, layer and KV head, by the reader and by the writer.
TEST(History, GatesOutsideZeroToOneAreRefusedNamingTheHead) {
  fs::path dir = fresh_dir("gates");
  fs::path good = dir / "good.h5";
  {
    auto writer = HistoryWriter::create(good, synthetic_meta());
    write_steps(writer, 0, 5);
  }
  for (const auto& [value, shown] : std::vector<std::pair<float, std::string>>{
           {5.0f, "5 is not in [0, 1]"}, {-3.0f, "-3 is not in [0, 1]"},
           {std::nanf(""), "nan is not in [0, 1] (the training diverged?)"}}) {
    fs::path bad = dir / "bad.h5";
    fs::remove(bad);
    fs::copy_file(good, bad);
    set_gate(bad, 3, 2, 1, value);
    EXPECT_EQ(error_of([&] { HistoryReader{bad}; }), bad.string() + ": step 3, layer 2, KV head 1: gate " + shown);
    EXPECT_EQ(error_of([&] { HistoryWriter::resume(bad, 5); }),
              bad.string() + ": step 3, layer 2, KV head 1: gate " + shown);
  }
  auto writer = HistoryWriter::resume(good, 5);
  auto record = synthetic_step(writer.meta(), 5);
  record.gates[1] = std::nanf("");
  EXPECT_EQ(error_of([&] { writer.append(record); }),
            good.string() + ": step 5, layer 0, KV head 1: gate nan is not in [0, 1] (the training diverged?)");
  EXPECT_EQ(HistoryReader(good).rows(), 5) << "the refused step reached the file";
  record.gates[1] = 1.0f;
  writer.append(record);
  EXPECT_EQ(HistoryReader(good).rows(), 6);
}

namespace {

struct WriterRun {
  int64_t last_committed = -1;  // the last step the writer reported as returned from append()
};

// Starts the writer process, kills it with SIGKILL after `delay`, returns what it reported.
WriterRun run_and_kill(const std::vector<std::string>& args, std::chrono::microseconds delay,
                       const fs::path& log) {
  std::vector<char*> argv;
  std::vector<std::string> storage = args;
  storage.insert(storage.begin(), DUO_CRASH_WRITER);
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Output goes to a file, not a pipe, so the writer never blocks on a full pipe.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "writer exited on its own: " << std::ifstream(log).rdbuf();
  WriterRun run;
  std::ifstream in(log);
  std::string word;
  int64_t value = 0;
  while (in >> word >> value)
    if (word == "committed") run.last_committed = value;
  return run;
}

}  // namespace

// kill -9 at random moments (during create, resume or append, with and without fsync); after
// every kill our reader and h5py must both read steps 0..n-1 with exactly the values written,
// n covering at least every step the writer reported as appended, and a resume must continue it.
TEST(History, SurvivesKillNineAtRandomMoments) {
  fs::path dir = fresh_dir("crash");
  fs::path file = dir / "run.h5";
  fs::path log = dir / "writer.log";
  std::mt19937 rng(12345);
  int64_t rows = 0;  // rows after the previous kill
  int mid_write_kills = 0;  // kills that left a half-written new version behind
  // A new version is built in memory and only its write (and fsync) touches the disk, a small part
  // of each append: 40 kills, two thirds of them with fsync (duo-train's default), hit a write a
  // few times a run.
  constexpr int kKills = 40;
  for (int iteration = 0; iteration < kKills; ++iteration) {
    const bool exists = fs::exists(file);
    const std::string fsync = iteration % 3 != 0 ? "1" : "0";
    int64_t next_step = 0;
    std::vector<std::string> args;
    if (!exists) {
      args = {"create", file.string(), fsync};
    } else {
      // Resume a little before the end, as from an older checkpoint, or exactly at the end.
      next_step = std::max<int64_t>(0, rows - static_cast<int64_t>(rng() % 20));
      args = {"resume", file.string(), std::to_string(next_step), fsync};
    }
    auto delay = std::chrono::microseconds(1000 + rng() % 120000);
    fs::remove(dir / "run.h5.partial");
    WriterRun run = run_and_kill(args, delay, log);
    if (fs::exists(dir / "run.h5.partial")) ++mid_write_kills;
    SCOPED_TRACE("iteration " + std::to_string(iteration) + " " + args[0] + " next_step " +
                 std::to_string(next_step) + " delay " + std::to_string(delay.count()) + "us, last committed " +
                 std::to_string(run.last_committed));
    if (!fs::exists(file)) {
      ASSERT_FALSE(exists) << "an existing history disappeared";
      ASSERT_EQ(run.last_committed, -1);
      continue;  // killed while creating: nothing was renamed into place yet
    }
    HistoryReader reader(file);
    expect_synthetic(reader);
    const int64_t got = reader.rows();
    if (run.last_committed >= 0) {
      // Everything append() returned from is there; at most one more step (appended, not yet reported).
      EXPECT_GE(got, run.last_committed + 1);
      EXPECT_LE(got, run.last_committed + 2);
    } else {
      // Killed before the first append returned: the old rows, cut back to next_step or not yet.
      EXPECT_GE(got, std::min(rows, next_step));
      EXPECT_LE(got, std::max(rows, next_step + 1));
    }
    EXPECT_EQ(h5py_rows(file), got);
    rows = got;
  }
  std::cout << "kills during the write of a new version: " << mid_write_kills << " of " << kKills << "\n";
  EXPECT_GT(mid_write_kills, 0) << "the kills never hit a write; the test proves little";
  // Finally the killed file resumes and finishes like a normal run.
  {
    auto writer = HistoryWriter::resume(file, rows);
    write_steps(writer, rows, 5);
  }
  HistoryReader reader(file);
  EXPECT_EQ(reader.rows(), rows + 5);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(file), rows + 5);
}

// A write the system refuses (here: past the file size limit, as on a full disk) ends the writer
// with one error line naming the file and the reason; no temporary file is left, and the history
// keeps every step append() returned from, readable by us and by h5py. (HDF5 writing to the disk
// itself printed a two-line error, left history.partial behind and crashed at exit.)
TEST(History, AFailedWriteIsOneErrorAndKeepsTheStepsWritten) {
  fs::path dir = fresh_dir("full");
  fs::path file = dir / "run.h5";
  // Room for the history with a few hundred steps; the writer appends until a write fails.
  int status = 0;
  const std::string output = [&] {
    duo::test::FileSizeLimit limit(48 * 1024);
    return run_capture(std::string(DUO_CRASH_WRITER) + " create '" + file.string() + "' 1 2>&1", &status);
  }();
  ASSERT_TRUE(WIFEXITED(status)) << output;
  ASSERT_EQ(WEXITSTATUS(status), 1) << output;
  int64_t last_committed = -1;
  std::string line, last_line;
  std::istringstream lines(output);
  while (std::getline(lines, line)) {
    if (line.rfind("committed ", 0) == 0) last_committed = std::stoll(line.substr(10));
    if (!line.empty()) last_line = line;
  }
  EXPECT_EQ(last_line, "history_crash_writer: error: " + file.string() + ": write failed: File too large") << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n') - 2, last_committed + 1)
      << "expected only 'ready', the 'committed' lines and one error line:\n" << output;
  ASSERT_GT(last_committed, 10) << output;
  EXPECT_FALSE(fs::exists(dir / "run.h5.partial"));
  HistoryReader reader(file);
  EXPECT_EQ(reader.rows(), last_committed + 1);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(file), last_committed + 1);
}
