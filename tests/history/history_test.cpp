// Gate-history file: round trip, refusal to overwrite, step checks, resume without duplicated or
// missing steps, reading while the writer is open, clear errors for bad files, an independent
// reader (h5py), crash safety under kill -9 at random moments, and schema 1 (variable-length
// strings) still read and resumed, damaged or not.
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
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "history/history_layout.h"
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "schema1_history.h"
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
  EXPECT_EQ(message, newer.string() + ": gate history schema version " + std::to_string(duo::kHistorySchemaVersion + 1) +
                         " is newer than this build reads (up to " + std::to_string(duo::kHistorySchemaVersion) +
                         "); update duo");

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

// ---- Schema 2: fixed-length string attributes; schema 1 (variable-length) still read ----

namespace {

const char* const kStringAttrs[] = {"format", "toolkit_version", "config_yaml", "model_name", "architecture"};

// Runs check_history.py expecting `schema`; returns the row count it reports, or -1 on failure.
int64_t h5py_rows(const fs::path& file, int schema) {
  const char* python = std::getenv("DUO_PYTHON");
  std::string command = std::string("'") + (python ? python : DUO_PYTHON_DEFAULT) + "' '" + DUO_CHECK_HISTORY_SCRIPT +
                        "' '" + file.string() + "' " + std::to_string(schema) + " 2>&1";
  int status = 0;
  std::string output = run_capture(command, &status);
  if (status != 0) {
    ADD_FAILURE() << "h5py check failed: " << output;
    return -1;
  }
  return std::stoll(output);
}

fs::path history_with_steps(const fs::path& file, int64_t steps, const duo::HistoryMeta& meta = synthetic_meta()) {
  auto writer = HistoryWriter::create(file, meta);
  write_steps(writer, 0, steps);
  return file;
}

fs::path schema1_history(const fs::path& dir, int64_t steps, const duo::HistoryMeta* meta = nullptr) {
  const fs::path source = history_with_steps(dir / "schema2-source.h5", steps);
  const fs::path file = dir / "schema1.h5";
  duo::test::write_schema1_copy(source, file, meta);
  fs::remove(source);
  return file;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

void put_le(std::string& bytes, size_t at, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

// The reader's error for `file`, which must be exactly one line naming it.
std::string one_line_error(const fs::path& file) {
  std::string message = error_of([&] { HistoryReader{file}; });
  EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

}  // namespace

TEST(History, NewFilesStoreFixedLengthUtf8StringAttributes) {
  const fs::path file = history_with_steps(fresh_dir("fixed_strings") / "run.h5", 3);
  const auto meta = synthetic_meta();
  const std::map<std::string, std::string> expected{{"format", "duo-gate-history"},
                                                    {"toolkit_version", DUO_VERSION},
                                                    {"config_yaml", meta.config_yaml},
                                                    {"model_name", meta.model_name},
                                                    {"architecture", meta.architecture}};
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (const char* name : kStringAttrs) {
    SCOPED_TRACE(name);
    hid_t attr = H5Aopen(f, name, H5P_DEFAULT);
    ASSERT_GE(attr, 0);
    hid_t type = H5Aget_type(attr);
    EXPECT_EQ(H5Tget_class(type), H5T_STRING);
    EXPECT_EQ(H5Tis_variable_str(type), 0);
    EXPECT_EQ(H5Tget_cset(type), H5T_CSET_UTF8);
    EXPECT_EQ(H5Tget_strpad(type), H5T_STR_NULLTERM);
    EXPECT_EQ(H5Tget_size(type), expected.at(name).size() + 1);
    H5Tclose(type);
    H5Aclose(attr);
  }
  H5Fclose(f);
  EXPECT_EQ(HistoryReader(file).schema_version(), 2);
  EXPECT_EQ(h5py_rows(file, 2), 3);  // checks the types too: h5py reads them as UTF-8 bytes
}

TEST(History, StringAttributesRoundTripEmptyNonAsciiAndAtTheirLimit) {
  const fs::path dir = fresh_dir("string_limits");
  auto meta = synthetic_meta();
  meta.model_name = "";
  meta.architecture = "Llama\xc3\xa9\xe2\x82\xac";
  meta.config_yaml = std::string(duo::history_layout::kMaxStringBytes - 3, 'y') + "\xc3\xa9\n";
  const fs::path file = history_with_steps(dir / "run.h5", 2, meta);
  HistoryReader reader(file);
  EXPECT_EQ(reader.meta().model_name, "");
  EXPECT_EQ(reader.meta().architecture, meta.architecture);
  EXPECT_EQ(reader.meta().config_yaml, meta.config_yaml);

  meta.config_yaml += "z";
  EXPECT_EQ(error_of([&] { HistoryWriter::create(dir / "long.h5", meta); }),
            (dir / "long.h5").string() + ": config_yaml is 65001 bytes, more than the 65000 a gate history's string "
                                         "attribute holds");
  meta.config_yaml = std::string("a\0b", 3);
  EXPECT_EQ(error_of([&] { HistoryWriter::create(dir / "nul.h5", meta); }),
            (dir / "nul.h5").string() + ": attribute 'config_yaml' cannot be written: its value holds a NUL byte");
  EXPECT_FALSE(fs::exists(dir / "long.h5"));
  EXPECT_FALSE(fs::exists(dir / "nul.h5"));
}

// Histories written before schema 2 (variable-length strings) are read as they were, by our
// reader (which decodes their strings itself, history/legacy_strings.h) and by h5py.
TEST(History, SchemaOneHistoriesAreStillRead) {
  const fs::path dir = fresh_dir("schema1");
  const fs::path file = schema1_history(dir, 70);
  HistoryReader reader(file);
  EXPECT_EQ(reader.schema_version(), 1);
  EXPECT_EQ(reader.toolkit_version(), DUO_VERSION);
  const auto meta = synthetic_meta();
  EXPECT_EQ(reader.meta().config_yaml, meta.config_yaml);
  EXPECT_EQ(reader.meta().model_name, meta.model_name);
  EXPECT_EQ(reader.meta().architecture, meta.architecture);
  EXPECT_EQ(reader.meta().num_layers, meta.num_layers);
  EXPECT_EQ(reader.meta().sink, meta.sink);
  EXPECT_EQ(reader.rows(), 70);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(file, 1), 70);

  // Strings schema 2 could not store, an empty one, and one in a global heap collection of its own.
  auto odd = meta;
  odd.config_yaml = std::string(100000, 'c') + "\xc3\xa9";
  odd.model_name = "";
  odd.architecture = std::string(5000, 'a');
  const fs::path big = schema1_history(dir, 2, &odd);
  HistoryReader big_reader(big);
  EXPECT_EQ(big_reader.meta().config_yaml, odd.config_yaml);
  EXPECT_EQ(big_reader.meta().model_name, "");
  EXPECT_EQ(big_reader.meta().architecture, odd.architecture);
}

// Resuming a schema-1 run upgrades its history: the next version published (at the resume when
// rows are dropped, else at the first append) is a schema-2 file holding the same metadata and rows.
TEST(History, ResumingASchemaOneHistoryRewritesItAsSchemaTwo) {
  const fs::path dir = fresh_dir("schema1_resume");
  const fs::path file = schema1_history(dir, 6);
  {
    auto writer = HistoryWriter::resume(file, 6);  // nothing dropped: the file is left as it is
    EXPECT_EQ(HistoryReader(file).schema_version(), 1);
    write_steps(writer, 6, 2);
  }
  HistoryReader upgraded(file);
  EXPECT_EQ(upgraded.schema_version(), 2);
  EXPECT_EQ(upgraded.rows(), 8);
  EXPECT_EQ(upgraded.meta().config_yaml, synthetic_meta().config_yaml);
  EXPECT_EQ(upgraded.meta().model_name, synthetic_meta().model_name);
  expect_synthetic(upgraded);
  EXPECT_EQ(h5py_rows(file, 2), 8);

  const fs::path dropped = schema1_history(dir, 6);
  {
    auto writer = HistoryWriter::resume(dropped, 4);
    EXPECT_EQ(HistoryReader(dropped).schema_version(), 2);
    EXPECT_EQ(HistoryReader(dropped).rows(), 4);
    write_steps(writer, 4, 3);
  }
  HistoryReader reader(dropped);
  EXPECT_EQ(reader.rows(), 7);
  expect_synthetic(reader);
  EXPECT_EQ(h5py_rows(dropped, 2), 7);
}

// A damaged schema-1 file is refused in one line naming it before anything reads a heap object
// the file does not hold whole: the kinds of damage on which libhdf5 1.10.8's own reader crashed
// (an object size of gigabytes: memcpy-param-overlap) or looped (sizes that wrap around).
TEST(History, DamagedSchemaOneStringsAreRefusedInOneLine) {
  const fs::path dir = fresh_dir("schema1_damaged");
  const std::string good = read_bytes(schema1_history(dir, 3));
  const size_t heap = good.find("GCOL");
  ASSERT_NE(heap, std::string::npos);
  ASSERT_EQ(good.find("GCOL", heap + 1), std::string::npos) << "expected one global heap collection";
  const size_t first_object = heap + 16;  // index 1: "duo-gate-history", the format attribute
  ASSERT_EQ(good.substr(first_object + 16, 16), "duo-gate-history");
  const std::string refused = ": cannot read this gate history (HDF5's earliest file format, read by duo): ";
  const std::string what = "the global heap collection of attribute 'format'";
  const auto damaged = [&](const std::string& name, const std::function<void(std::string&)>& edit) {
    std::string bytes = good;
    edit(bytes);
    const fs::path file = dir / (name + ".h5");
    write_bytes(file, bytes);
    return file;
  };
  struct Case {
    std::string name;
    std::function<void(std::string&)> edit;
    std::string message;
  };
  const std::vector<Case> cases{
      {"object-gigabytes", [&](std::string& b) { put_le(b, first_object + 8, uint64_t{1} << 34, 8); },
       what + ": object 1 of 17179869184 bytes runs past the collection's end"},
      {"object-wraps", [&](std::string& b) { put_le(b, first_object + 8, ~uint64_t{15}, 8); },
       what + ": object 1 of 18446744073709551600 bytes runs past the collection's end"},
      {"object-shorter", [&](std::string& b) { put_le(b, first_object + 8, 8, 8); },
       "attribute 'format' is 16 bytes long, its heap object 8"},
      {"object-missing", [&](std::string& b) { put_le(b, first_object, 9, 2); }, what + " holds no object 1"},
      {"collection-huge", [&](std::string& b) { put_le(b, heap + 8, uint64_t{1} << 40, 8); },
       what + " (1099511627776 bytes at offset " + std::to_string(heap) + ") lies past the end of the file (" +
           std::to_string(good.size()) + " bytes)"},
      {"collection-tiny", [&](std::string& b) { put_le(b, heap + 8, 3, 8); }, what + " declares 3 bytes"},
      {"no-signature", [&](std::string& b) { b[heap] = 'X'; }, what + " has no heap signature"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path file = damaged(c.name, c.edit);
    EXPECT_EQ(one_line_error(file), file.string() + refused + c.message);
    EXPECT_EQ(error_of([&] { HistoryWriter::resume(file, 3); }), file.string() + refused + c.message);
  }
}

// Inputs on which libhdf5 1.10.8 crashed or hung (found by fuzz/gate_history, and two made as in
// DamagedSchemaOneStringsAreRefusedInOneLine; docs/fuzzing.md lists them): each is one error line
// naming the file now, from duo's decoder or before libhdf5 reads anything unchecked.
TEST(History, LibraryFindingsOfTheFuzzerAreOneLineErrors) {
  const fs::path dir = fs::path(DUO_SOURCE_TREE) / "fuzz" / "regressions" / "gate_history";
  size_t inputs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".h5") continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++inputs;
    one_line_error(entry.path());
  }
  EXPECT_EQ(inputs, 7u);
  for (const char* name : {"h5hg-read-hang.h5", "h5hg-read-memcpy-overlap.h5"})
    EXPECT_EQ(one_line_error(dir / name), (dir / name).string() +
                                              ": a schema-1 history in HDF5's 1.10 file format, which duo never wrote "
                                              "it in: its variable-length strings are not read (their heap carries no "
                                              "checksum)");
}

// A schema-2 file must hold fixed-length strings: a variable-length one is refused unread.
TEST(History, VariableLengthStringsInASchemaTwoFileAreRefused) {
  const fs::path dir = fresh_dir("schema2_vlen");
  const fs::path file = schema1_history(dir, 2);
  set_int_attr(file, "schema_version", 2);
  EXPECT_EQ(one_line_error(file), file.string() + ": attribute 'format' is a variable-length string, not the "
                                                  "fixed-length one expected (corrupt file?)");
}

// Schema 2 is written in HDF5's 1.10 format: every metadata structure checksummed (a damaged one
// is one error from HDF5's check, never a decode of garbage) and no global heap.
TEST(History, NewFilesAreChecksummedAndHoldNoGlobalHeap) {
  const fs::path dir = fresh_dir("checksummed");
  const std::string good = read_bytes(history_with_steps(dir / "run.h5", 70));
  EXPECT_EQ(good[8], 3) << "superblock version";
  EXPECT_EQ(good.find("GCOL"), std::string::npos);
  size_t structures = 0;
  for (const char* signature : {"OHDR", "OCHK", "EAHD", "EAIB"})
    for (size_t at = good.find(signature); at != std::string::npos; at = good.find(signature, at + 1)) {
      SCOPED_TRACE(std::string(signature) + " at " + std::to_string(at));
      std::string bytes = good;
      bytes[at + 5] ^= 0x10;  // a bit inside the structure, past its signature and version
      const fs::path file = dir / "damaged.h5";
      write_bytes(file, bytes);
      EXPECT_NE(one_line_error(file).find("checksum"), std::string::npos);
      ++structures;
    }
  EXPECT_GE(structures, 10u);
  // So is the superblock, whose checksum duo recomputes (HDF5 1.10.8 leaves it stale in the image).
  std::string bytes = good;
  bytes[20] ^= 0x01;
  write_bytes(dir / "superblock.h5", bytes);
  EXPECT_NE(one_line_error(dir / "superblock.h5").find("checksum"), std::string::npos);
}

// The other file formats duo never wrote are refused before libhdf5 decodes anything: the 1.8
// format (superblock version 2, chunk indexes without checksums) and files with a user block.
TEST(History, FileFormatsDuoNeverWroteAreRefused) {
  const fs::path dir = fresh_dir("formats");
  const fs::path v18 = dir / "v18.h5";
  {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(v18.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Fclose(f);
    H5Pclose(fapl);
  }
  EXPECT_EQ(one_line_error(v18), v18.string() + ": HDF5 superblock version 2: not a file format duo writes (the "
                                                "earliest, or 1.10's), and one whose structures libhdf5 1.10.8 "
                                                "cannot be trusted to decode when damaged");
  const fs::path user_block = dir / "user_block.h5";
  {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 512);
    hid_t f = H5Fcreate(user_block.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Fclose(f);
    H5Pclose(fcpl);
  }
  EXPECT_EQ(one_line_error(user_block),
            user_block.string() + ": not a gate history: no HDF5 signature at its start (duo writes no user block)");
}

// Damage on the way to a schema-1 file's values is refused in one line by duo's decoder (where
// libhdf5 1.10.8 overran buffers, H5Dread), naming the dataset.
TEST(History, DamagedSchemaOneDatasetsAreRefusedInOneLine) {
  const fs::path dir = fresh_dir("schema1_datasets");
  const fs::path source = schema1_history(dir, 70);  // two chunks of 64 rows per dataset
  const std::string good = read_bytes(source);
  EXPECT_EQ(HistoryReader(source).rows(), 70);
  size_t node = std::string::npos;  // the first chunk B-tree node: "TREE", type 1
  for (size_t at = good.find("TREE"); at != std::string::npos; at = good.find("TREE", at + 1))
    if (good[at + 4] == 1) {
      node = at;
      break;
    }
  ASSERT_NE(node, std::string::npos);
  ASSERT_EQ(good[node + 6], 2) << "two chunks";
  // Keys of a rank-1 dataset's chunks: size (4), filter mask (4), two offsets (8 each); then the
  // chunk's address (8). The second chunk starts at row 64.
  const size_t first_key = node + 8 + 16, second_key = first_key + 24 + 8;
  ASSERT_EQ(good.substr(second_key + 8, 8), std::string("\x40\0\0\0\0\0\0\0", 8));
  const std::string refused = ": cannot read this gate history (HDF5's earliest file format, read by duo): dataset '";
  struct Case {
    std::string name;
    std::function<void(std::string&)> edit;
    std::string message;
  };
  const std::vector<Case> cases{
      {"chunk-lost", [&](std::string& b) { b[node + 6] = 1; }, "stores 1 of its 2 chunks"},
      {"chunk-twice", [&](std::string& b) { put_le(b, second_key + 8, 0, 8); }, "stores a chunk twice"},
      {"chunk-elsewhere", [&](std::string& b) { put_le(b, first_key + 8, uint64_t{1} << 40, 8); },
       "has a chunk at an offset outside it"},
      {"chunk-beyond-its-rank", [&](std::string& b) { put_le(b, first_key + 8 + 8, 8, 8); },
       "has a chunk at an offset outside it"},
      {"chunk-resized", [&](std::string& b) { put_le(b, first_key, 12345, 4); },
       "has a chunk of another size than its chunk dimensions"},
      {"chunk-past-the-end", [&](std::string& b) { put_le(b, first_key + 8 + 16, good.size() - 8, 8); },
       "'s chunk ("},
      {"node-lost", [&](std::string& b) { b[node] = 'X'; }, "'s chunk B-tree node has no signature"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string bytes = good;
    c.edit(bytes);
    const fs::path file = dir / (c.name + ".h5");
    write_bytes(file, bytes);
    const std::string message = one_line_error(file);
    EXPECT_EQ(message.rfind(file.string() + refused, 0), 0u) << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
  }
  const fs::path truncated = dir / "truncated.h5";
  write_bytes(truncated, good.substr(0, good.size() / 2));
  EXPECT_EQ(one_line_error(truncated),
            truncated.string() + ": cannot read this gate history (HDF5's earliest file format, read by duo): "
                                 "truncated file: it holds " + std::to_string(good.size() / 2) +
                                 " bytes, its superblock says " + std::to_string(good.size()));
}
