// duo-train end to end on the tiny-random model (CPU): a short run checked by h5py, a run killed
// with SIGKILL and resumed that must equal an uninterrupted run exactly, resumes that must say
// what they do with the history (or refuse, changing nothing), and bad invocations that must give
// one clear error line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>
#include <algorithm>
#include <string>
#include <thread>

#include "history/history_reader.h"
#include "history/history_writer.h"
#include "history/schema1_history.h"
#include "file_limit.h"

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) throw std::runtime_error(std::string("test harness did not set ") + name);
  return v;
}

struct Result {
  int exit_code;
  std::string output;
};

Result run(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

std::string train_cmd() {
  return env("DUO_BIN_DIR") + "/duo-train --config " + env("DUO_SOURCE_DIR") +
         "/configs/tiny-random.yaml --set model.path=" + env("DUO_SOURCE_DIR") + "/models/tiny-random";
}

std::string py(const std::string& script) {
  return env("DUO_PYTHON") + " " + env("DUO_SOURCE_DIR") + "/tests/train/" + script;
}

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("duo_train_test_" + std::to_string(getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir.parent_path());
  return dir;
}

TEST(DuoTrain, TrainsTinyModelAndWritesAHistoryH5pyReads) {
  auto out = fresh_dir("short");
  auto r = run(train_cmd() + " --set run.steps=6 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train"), std::string::npos);
  auto check = run(py("check_history.py") + " " + (out / "history.h5").string() + " 6 4 2");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_TRUE(fs::exists(out / "config.yaml"));
  EXPECT_TRUE(fs::exists(out / "checkpoint.pt"));
  // The run's recorded configuration holds every section of duo-train's; the programs that read
  // only some of them (the data section, defined in data/synth; model and streaming) pass over
  // the rest.
  auto synth = run(env("DUO_BIN_DIR") + "/duo-synth --config " + (out / "config.yaml").string() + " --lengths");
  EXPECT_EQ(synth.exit_code, 0) << synth.output;
  EXPECT_NE(synth.output.find("context lengths: 768 "), std::string::npos) << synth.output;
  auto attention = run(env("DUO_BIN_DIR") + "/duo-analyze attention --gates " + (out / "history.h5").string() +
                       " --out " + (out / "attention").string() + " --samples 1 --lengths 768");
  EXPECT_EQ(attention.exit_code, 0) << attention.output;
  EXPECT_TRUE(fs::exists(out / "attention" / "attention_scores.json")) << attention.output;
}

TEST(DuoTrain, KilledAndResumedRunEqualsAnUninterruptedRun) {
  const std::string args = " --set run.steps=12 --set run.checkpoint_every=3";
  auto whole = fresh_dir("whole");
  auto r = run(train_cmd() + args + " --out " + whole.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::mt19937 rng(1234);
  auto killed = fresh_dir("killed");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = train_cmd() + args + " --out " + killed.string() + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
    _exit(127);
  }
  // Kill somewhere after the first checkpoint, at a random moment of a step.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(killed / "checkpoint.pt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";

  auto resumed = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + killed.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  auto cmp = run(py("compare_histories.py") + " " + (whole / "history.h5").string() + " " +
                 (killed / "history.h5").string());
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
}

// Exit code 1 and the output ends with exactly one "duo-train: error: ..." line naming the
// problem (progress lines may come before it); no backtrace, no abort.
void expect_one_line_error(const Result& r, const std::string& must_contain) {
  EXPECT_EQ(r.exit_code, 1) << r.output;
  ASSERT_FALSE(r.output.empty());
  auto body = r.output.substr(0, r.output.size() - 1);
  auto last_line = body.substr(body.rfind('\n') == std::string::npos ? 0 : body.rfind('\n') + 1);
  EXPECT_EQ(last_line.rfind("duo-train: error: ", 0), 0u) << r.output;
  EXPECT_NE(last_line.find(must_contain), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("error"), r.output.find("duo-train: error: ") + 11) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
}

TEST(DuoTrain, BadConfigKeyIsOneClearError) {
  auto dir = fresh_dir("badcfg");
  fs::create_directories(dir);
  auto cfg = dir / "bad.yaml";
  std::ofstream(cfg) << "optim:\n  lr: 0.02\n  learning_rate: 0.1\n";
  expect_one_line_error(run(env("DUO_BIN_DIR") + "/duo-train --config " + cfg.string()),
                        "optim.learning_rate");
}

TEST(DuoTrain, OutOfRangeOverrideIsOneClearError) {
  expect_one_line_error(run(train_cmd() + " --set optim.lr=-1"), "optim.lr");
}

// Samples longer than the model's positions are refused before the model loads, naming both
// numbers and both files.
TEST(DuoTrain, ContextBeyondTheModelsPositionsIsOneClearError) {
  auto out = fresh_dir("too_long");
  auto r = run(train_cmd() + " --set data.context_max=9000 --out " + out.string());
  expect_one_line_error(r, "data.context_max is 9000 tokens (" + env("DUO_SOURCE_DIR") +
                               "/configs/tiny-random.yaml with --set), more than the model's max_position_embeddings "
                               "of 8192 (" + env("DUO_SOURCE_DIR") + "/models/tiny-random/config.json)");
  EXPECT_EQ(r.output.find("loading"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out / "config.yaml"));
  EXPECT_FALSE(fs::exists(out / "history.h5"));
}

TEST(DuoTrain, MissingCheckpointDirectoryIsOneClearError) {
  auto dir = fresh_dir("nomodel");
  expect_one_line_error(run(train_cmd() + " --set model.random_config=false --model " +
                            (dir / "absent").string() + " --out " + (dir / "out").string()),
                        "absent");
}

// A path of the wrong kind, or an output that cannot be made, is one line naming the flag (or
// config key) and the path, before the model loads.
TEST(DuoTrain, PathsOfTheWrongKindAreOneClearErrorBeforeLoading) {
  auto dir = fresh_dir("paths");
  fs::create_directories(dir);
  const fs::path file = dir / "a-file";
  std::ofstream(file) << "not a directory\n";
  const std::string model = env("DUO_SOURCE_DIR") + "/models/tiny-random";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {train_cmd() + " --model " + model + "/config.json --out " + (dir / "o1").string(),
       "--model expects a directory holding config.json; " + model + "/config.json is a file"},
      {train_cmd() + " --set model.random_config=false --set model.path=" + file.string() + " --out " +
           (dir / "o2").string(),
       "model.path expects a checkpoint directory; " + file.string() + " is a file"},
      {train_cmd() + " --set data.tokenizer=" + model + "/tokenizer.json --out " + (dir / "o3").string(),
       "data.tokenizer expects a tokenizer directory; " + model + "/tokenizer.json is a file"},
      {train_cmd() + " --out " + (file / "run").string(),
       "--out " + (file / "run").string() + ": cannot be created: " + file.string() + " is a file"},
      {train_cmd() + " --out " + file.string(), "--out expects a directory; " + file.string() + " is a file"},
      {env("DUO_BIN_DIR") + "/duo-train --resume --out " + file.string(),
       "--out expects the run directory to resume; " + file.string() + " is a file"},
      {env("DUO_BIN_DIR") + "/duo-train --resume --out " + (dir / "none").string(),
       "--out expects the run directory to resume; " + (dir / "none").string() + " does not exist"},
  };
  for (const auto& [command, want] : cases) {
    auto r = run(command);
    expect_one_line_error(r, want);
    const std::string line = "duo-train: error: " + want + "\n";
    EXPECT_EQ(r.output.substr(r.output.size() - std::min(r.output.size(), line.size())), line) << r.output;
    EXPECT_EQ(r.output.find("loading"), std::string::npos) << "the model loaded first: " << r.output;
  }
  for (const char* never : {"o1", "o2", "o3"}) EXPECT_FALSE(fs::exists(dir / never)) << never;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// --resume never drops history rows without saying so: steps that cannot be continued (no
// checkpoint) are refused before the model loads, and the history is left as it was.
TEST(DuoTrain, ResumeWithoutACheckpointRefusesAndKeepsTheHistory) {
  auto out = fresh_dir("no_checkpoint");
  ASSERT_EQ(run(train_cmd() + " --set run.steps=3 --out " + out.string()).exit_code, 0);
  fs::remove(out / "checkpoint.pt");  // as a run killed before its first checkpoint leaves it
  const std::string before = read_bytes(out / "history.h5");
  auto r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  expect_one_line_error(r, (out / "checkpoint.pt").string() + ": missing, but history.h5 holds 3 steps, which cannot "
                           "be continued without it; nothing was changed. Use a new --out to start afresh, or remove " +
                           (out / "history.h5").string() + " to train again from step 0");
  EXPECT_EQ(r.output.find("loading"), std::string::npos) << "the model loaded first: " << r.output;
  EXPECT_EQ(read_bytes(out / "history.h5"), before);
  EXPECT_FALSE(fs::exists(out / "checkpoint.pt"));
}

TEST(DuoTrain, ResumeWithoutStepsYetStartsFromStepZeroAndSaysSo) {
  auto out = fresh_dir("no_steps");
  ASSERT_EQ(run(train_cmd() + " --set run.steps=3 --out " + out.string()).exit_code, 0);
  // A run killed after creating its history, before its first step.
  {
    duo::HistoryMeta meta = duo::HistoryReader(out / "history.h5").meta();
    duo::HistoryWriter::Options replace;
    replace.overwrite = true;
    duo::HistoryWriter::create(out / "history.h5", meta, replace);
  }
  fs::remove(out / "checkpoint.pt");
  auto r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("duo-train: " + out.string() +
                          " has no checkpoint and its history holds no steps yet: starting from step 0\n"),
            std::string::npos)
      << r.output;
  auto check = run(py("check_history.py") + " " + (out / "history.h5").string() + " 3 4 2");
  EXPECT_EQ(check.exit_code, 0) << check.output;

  // Killed before even the history existed.
  fs::remove(out / "checkpoint.pt");
  fs::remove(out / "history.h5");
  r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("has no checkpoint and no history yet: starting from step 0"), std::string::npos) << r.output;
}

TEST(DuoTrain, ResumeSaysWhichRowsPastTheCheckpointItDrops) {
  auto out = fresh_dir("past_checkpoint");
  ASSERT_EQ(run(train_cmd() + " --set run.steps=4 --out " + out.string()).exit_code, 0);
  // Two steps past the checkpoint at step 4, as a kill between checkpoints leaves them.
  {
    auto history = duo::HistoryWriter::resume(out / "history.h5", 4);
    for (int64_t step : {4, 5}) {
      duo::StepRecord row;
      row.step = step;
      row.gates.assign(8, 0.5f);
      history.append(row);
    }
  }
  auto r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("duo-train: history.h5 holds steps up to 5, past the checkpoint at step 4: those 2 rows are "
                          "dropped and the steps trained again\n"),
            std::string::npos)
      << r.output;
  auto check = run(py("check_history.py") + " " + (out / "history.h5").string() + " 4 4 2");
  EXPECT_EQ(check.exit_code, 0) << check.output;

  // A checkpoint beyond the history's end would leave steps missing: refused before loading.
  {
    auto history = duo::HistoryWriter::resume(out / "history.h5", 2);
  }
  r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  expect_one_line_error(r, (out / "history.h5").string() + ": ends at step 1, but checkpoint.pt is at step 4: steps "
                           "would be missing; nothing was changed");
  EXPECT_EQ(r.output.find("loading"), std::string::npos) << r.output;
}

// A run whose history an older duo wrote (schema 1, variable-length strings) resumes: the history
// is read, its rows past the checkpoint dropped as ever, and it is rewritten as schema 2 with the
// steps and metadata it held.
TEST(DuoTrain, ResumesARunWithASchemaOneHistory) {
  auto out = fresh_dir("schema1");
  ASSERT_EQ(run(train_cmd() + " --set run.steps=4 --out " + out.string()).exit_code, 0);
  const fs::path history = out / "history.h5", trained = out / "trained.h5", old = out / "old.h5";
  fs::copy_file(history, trained);
  {
    auto writer = duo::HistoryWriter::resume(history, 4);
    for (int64_t step : {4, 5}) {
      duo::StepRecord row;
      row.step = step;
      row.gates.assign(8, 0.5f);
      writer.append(row);
    }
  }
  duo::test::write_schema1_copy(history, old);
  fs::rename(old, history);
  ASSERT_EQ(duo::HistoryReader(history).schema_version(), 1);
  const std::string config_yaml = duo::HistoryReader(history).meta().config_yaml;

  auto r = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("past the checkpoint at step 4: those 2 rows are dropped"), std::string::npos) << r.output;
  const duo::HistoryReader upgraded(history);
  EXPECT_EQ(upgraded.schema_version(), duo::kHistorySchemaVersion);
  EXPECT_EQ(upgraded.meta().config_yaml, config_yaml);
  auto cmp = run(py("compare_histories.py") + " " + trained.string() + " " + history.string());
  EXPECT_EQ(cmp.exit_code, 0) << cmp.output;
  auto check = run(py("check_history.py") + " " + history.string() + " 4 4 2");
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// A full disk during training: one error line naming history.h5 and the reason, exit 1 (HDF5
// writing the file itself printed two lines, left history.h5.partial and crashed at exit, rc 139);
// the history keeps what was written before and the run resumes once there is room.
TEST(DuoTrain, DiskFullIsOneErrorAndTheRunResumesLater) {
  auto out = fresh_dir("disk_full");
  fs::create_directories(out);
  // config.yaml (1 KB) and the empty history (5 KB) fit; the history with its first step (14 KB) does not.
  const Result r = [&] {
    duo::test::FileSizeLimit limit(10 * 1024);
    return run(train_cmd() + " --set run.steps=2 --out " + out.string());
  }();
  expect_one_line_error(r, (out / "history.h5").string() + ": write failed: File too large");
  EXPECT_EQ(r.output.find("HDF5"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out / "history.h5.partial"));
  EXPECT_EQ(duo::HistoryReader(out / "history.h5").rows(), 0);

  auto resumed = run(env("DUO_BIN_DIR") + "/duo-train --resume --out " + out.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto check = run(py("check_history.py") + " " + (out / "history.h5").string() + " 2 4 2");
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(DuoTrain, RefusesToOverwriteAnExistingRun) {
  auto out = fresh_dir("twice");
  ASSERT_EQ(run(train_cmd() + " --set run.steps=1 --out " + out.string()).exit_code, 0);
  expect_one_line_error(run(train_cmd() + " --set run.steps=1 --out " + out.string()), "--resume");
}

}  // namespace
