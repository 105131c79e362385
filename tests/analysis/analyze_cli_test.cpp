// duo-analyze as users run it: each subcommand on a synthetic history, exports read back by an
// independent Python reader (check_exports.py), figures checked as image files
// (check_images.py), one clear error line with exit status 1 for each kind of bad input, and
// outputs that cannot be written whole (/dev/full, a full disk) reported as errors.
#include <gtest/gtest.h>
#include <unistd.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <csignal>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.h"
#include "history/schema1_history.h"
#include "synthetic_run.h"

namespace fs = std::filesystem;

namespace {

using Result = duo::test::CliResult;
using duo::test::quote;
using duo::test::slurp;

fs::path work_dir() {
  static const fs::path dir = [] {
    // One directory per test process: ctest runs the tests of this file side by side.
    fs::path d = fs::current_path() / ("analyze_cli_test_data_" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    duo::test::write_synthetic_run(d / "run.h5", 100);
    return d;
  }();
  return dir;
}

Result run(const std::string& program, const std::string& args) {
  return duo::test::run_in(work_dir(), program + " " + args);
}

Result analyze(const std::string& args) { return run(quote(DUO_ANALYZE), args); }

Result python(const std::string& script, const std::string& args) {
  const char* env = std::getenv("DUO_PYTHON");
  return run(quote(env ? env : DUO_PYTHON_DEFAULT), quote(std::string(DUO_ANALYSIS_TEST_DIR) + "/" + script) + " " + args);
}

std::string path_arg(const fs::path& p) { return quote(p.string()); }

// The error contract: exit 1 and exactly "duo-analyze: error: <what>: <problem>\n" on stderr.
void expect_one_error(const Result& r, const std::string& starts, const std::string& contains) {
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("duo-analyze: error: " + starts, 0), 0u) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << r.err;
}

// duo-analyze unable to write more than `bytes` to any regular file (RLIMIT_FSIZE: what a disk
// that fills up looks like to it). Its stdout and stderr come back together through a pipe, which
// the limit does not touch.
Result analyze_with_file_limit(const std::string& args, rlim_t bytes) {
  const fs::path dir = work_dir();
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit limit{bytes, bytes};
    setrlimit(RLIMIT_FSIZE, &limit);
    signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    if (chdir(dir.c_str()) != 0) _exit(127);
    execl("/bin/sh", "sh", "-c", (quote(DUO_ANALYZE) + " " + args).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  Result r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.err.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = r.err;
  return r;
}

}  // namespace

TEST(AnalyzeCli, HelpExplainsEverySubcommand) {
  Result r = analyze("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"summary", "pattern", "export", "compare", "plot", "full_attention_heads.tsv"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  r = analyze("export --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("rtp-llm"), std::string::npos);
  EXPECT_NE(r.out.find("--sparsity"), std::string::npos);
}

TEST(AnalyzeCli, SummaryDescribesTheRun) {
  Result r = analyze("summary " + path_arg(work_dir() / "run.h5") + " --sparsity 0.5 --window 50");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* text : {"3 layers, 8 query heads, 4 KV heads (GQA group 2)", "steps      100 (0..99)",
                           "2 near 0 (< 0.1), 2 near 1 (> 0.9), 8 in between", "at sparsity 0.50: 6 of 12 KV heads",
                           "    0     1/4      0.25", "    2     3/4      0.75", "over the last 50 steps"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
}

TEST(AnalyzeCli, PatternPrintsTheTableAndWritesJson) {
  const fs::path json = work_dir() / "pattern.json";
  Result r = analyze("pattern " + path_arg(work_dir() / "run.h5") + " --sparsity 0.25 -o " + path_arg(json));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("9 retrieval (R) and 3 streaming (S)"), std::string::npos) << r.out;
  // Layer 0's targets are 3/11, 10/11, 5/11, 0: only kv3 is among the 3 smallest overall.
  EXPECT_NE(r.out.find("    0  R 0.273 R 0.909 R 0.455 S 0.000   3/4"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(json));
  r = analyze("pattern " + path_arg(work_dir() / "run.h5") + " --threshold 0.7");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("4 retrieval (R) and 8 streaming (S)"), std::string::npos) << r.out;
}

// A history written before schema 2 (variable-length strings) analyses exactly as its schema-2
// twin; the same file with a damaged global heap is one error line.
TEST(AnalyzeCli, SchemaOneHistoriesAnalyseAsBefore) {
  const fs::path old_run = work_dir() / "schema1" / "run.h5", new_run = work_dir() / "run.h5";
  fs::create_directories(old_run.parent_path());
  duo::test::write_schema1_copy(new_run, old_run);
  for (const std::string command : {"summary", "pattern"}) {
    SCOPED_TRACE(command);
    const Result expected = analyze(command + " " + path_arg(new_run) + " --sparsity 0.25");
    const Result r = analyze(command + " " + path_arg(old_run) + " --sparsity 0.25");
    ASSERT_EQ(r.status, 0) << r.err;
    std::string out = r.out;
    for (size_t at; (at = out.find(old_run.string())) != std::string::npos;)
      out.replace(at, old_run.string().size(), new_run.string());
    if (command == "summary") {
      EXPECT_NE(out.find(", schema 1, "), std::string::npos) << out;
      out.replace(out.find(", schema 1, "), 12, ", schema " + std::to_string(duo::kHistorySchemaVersion) + ", ");
    }
    EXPECT_EQ(out, expected.out);
  }
  std::string bytes = slurp(old_run);
  const size_t heap = bytes.find("GCOL");
  ASSERT_NE(heap, std::string::npos);
  bytes[heap + 16 + 8 + 3] = '\x40';  // the first heap object ("format") claims 1 GiB more
  const fs::path damaged = work_dir() / "schema1" / "damaged.h5";
  std::ofstream(damaged, std::ios::binary) << bytes;
  expect_one_error(analyze("pattern " + path_arg(damaged)), damaged.string() + ": ",
                   "(HDF5's earliest file format, read by duo): the global heap collection of attribute 'format': object 1 of "
                   "1073741840 bytes runs past the collection's end");
}

TEST(AnalyzeCli, ExportsReadBackIdenticallyInPython) {
  for (const char* sparsity : {"0.25", "0.5", "0.75"}) {
    SCOPED_TRACE(sparsity);
    const fs::path dir = work_dir() / (std::string("export_") + sparsity);
    const std::string run = path_arg(work_dir() / "run.h5") + " --sparsity " + sparsity;
    ASSERT_EQ(analyze("export " + run + " -f duo-json -o " + path_arg(dir.string() + ".json")).status, 0);
    ASSERT_EQ(analyze("export " + run + " -f reference -o " + path_arg(dir)).status, 0);
    ASSERT_EQ(analyze("export " + run + " -f rtp-llm -o " + path_arg(dir.string() + ".rtp.json")).status, 0);
    Result check = python("check_exports.py", path_arg(work_dir() / "run.h5") + " " + path_arg(dir.string() + ".json") +
                                                  " " + path_arg(dir) + " " + path_arg(dir.string() + ".rtp.json") +
                                                  " " + sparsity);
    EXPECT_EQ(check.status, 0) << check.err;
    EXPECT_EQ(check.out, "ok\n");
  }
  // A reference directory from elsewhere records no query head count; rtp-llm needs it.
  const fs::path ref = work_dir() / "foreign_reference";
  fs::create_directories(ref);
  std::ofstream(ref / "full_attention_heads.tsv") << "0.1\t0.9\n0.8\t0.2\n";
  std::ofstream(ref / "config.json") << R"({"sink_size": 128, "recent_size": 256})";
  Result r = analyze("export " + path_arg(ref) + " -f rtp-llm -o " + path_arg(work_dir() / "x.json"));
  expect_one_error(r, ref.string() + ": ", "pass --num-heads");
  r = analyze("export " + path_arg(ref) + " -f rtp-llm --num-heads 4 -o " + path_arg(work_dir() / "x.json"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(slurp(work_dir() / "x.json").find("\"0\": [\n      0,\n      0,\n      1,\n      1\n    ]"),
            std::string::npos)
      << slurp(work_dir() / "x.json");
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(slurp(path)); }

// A checkpoint directory holding only a Llama config.json of the given shape.
fs::path model_dir(const std::string& name, int layers, int heads, int kv_heads) {
  const fs::path dir = work_dir() / name;
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": )" << layers << R"(, "num_attention_heads": )" << heads
                                     << R"(, "num_key_value_heads": )" << kv_heads << R"(, "vocab_size": 258})";
  return dir;
}

// export --model: the pattern must have the model's layers x KV heads (the check every command
// that applies a pattern to a model makes), and rtp-llm takes the query heads from it.
TEST(AnalyzeCli, ExportChecksThePatternAgainstTheModel) {
  const fs::path run = work_dir() / "run.h5";  // 3 layers x 4 KV heads, 8 query heads
  const fs::path out = work_dir() / "model_check";
  fs::create_directories(out);
  const fs::path wrong = model_dir("model_4x2", 4, 4, 2);
  for (const char* format : {"duo-json", "rtp-llm"}) {
    Result r = analyze("export " + path_arg(run) + " -f " + format + " --model " + path_arg(wrong) + " -o " +
                       path_arg(out / (std::string(format) + ".json")));
    expect_one_error(r, run.string() + ": 3 layers x 4 KV heads, but the model in " + (wrong / "config.json").string() +
                            " has 4 x 2", "");
    EXPECT_FALSE(fs::exists(out / (std::string(format) + ".json")));
  }
  // A pattern JSON and a reference directory are checked the same way.
  ASSERT_EQ(analyze("pattern " + path_arg(run) + " -o " + path_arg(out / "pattern.json")).status, 0);
  expect_one_error(analyze("export " + path_arg(out / "pattern.json") + " -f reference --model " + path_arg(wrong) +
                           " -o " + path_arg(out / "reference")),
                   (out / "pattern.json").string() + ": 3 layers x 4 KV heads, but the model in " +
                       (wrong / "config.json").string() + " has 4 x 2",
                   "");
  const fs::path ref = work_dir() / "foreign_reference_2x2";
  fs::create_directories(ref);
  std::ofstream(ref / "full_attention_heads.tsv") << "0.1\t0.9\n0.8\t0.2\n";
  expect_one_error(analyze("export " + path_arg(ref) + " -f rtp-llm --model " + path_arg(wrong) + " -o " +
                           path_arg(out / "ref.json")),
                   ref.string() + ": 2 layers x 2 KV heads, but the model in " + (wrong / "config.json").string() +
                       " has 4 x 2",
                   "");

  // The right model: the export is written; a reference directory gets its query heads from it.
  Result r = analyze("export " + path_arg(run) + " -f rtp-llm --model " + path_arg(model_dir("model_3x4", 3, 8, 4)) +
                     " -o " + path_arg(out / "rtp.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path ref_model = model_dir("model_2x2", 2, 4, 2);
  r = analyze("export " + path_arg(ref) + " -f rtp-llm --model " + path_arg(ref_model) + " -o " + path_arg(out / "ref.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_json(out / "ref.json")["headwise_config"]["0"], nlohmann::json::parse("[0, 0, 1, 1]"));
  // Query heads that disagree with the model's are refused.
  expect_one_error(analyze("export " + path_arg(ref) + " -f rtp-llm --num-heads 2 --model " + path_arg(ref_model) +
                           " -o " + path_arg(out / "ref.json")),
                   ref.string() + ": --num-heads says 2 query heads, but the model in " +
                       (ref_model / "config.json").string() + " has 4",
                   "");
  expect_one_error(analyze("export " + path_arg(run) + " -f rtp-llm --model " + path_arg(model_dir("model_3x4_q4", 3, 4, 4)) +
                           " -o " + path_arg(out / "rtp.json")),
                   run.string() + ": records 8 query heads, but the model in ", "has 4");
  // --model names a directory.
  expect_one_error(analyze("export " + path_arg(run) + " --model " + path_arg(wrong / "config.json") + " -o " +
                           path_arg(out / "x.json")),
                   "--model expects a checkpoint directory (its config.json); " + (wrong / "config.json").string() +
                       " is a file",
                   "");
}

// Outputs are checked before anything is read or computed: one line naming the path.
TEST(AnalyzeCli, OutputsThatCannotBeCreatedAreRefusedAtTheStart) {
  const fs::path run = work_dir() / "run.h5";
  const fs::path dir = work_dir() / "outputs";
  fs::create_directories(dir);
  const fs::path under_a_file = run / "sub" / "pattern.json";
  expect_one_error(analyze("pattern " + path_arg(run) + " -o " + path_arg(under_a_file)),
                   "--out " + under_a_file.string() + ": cannot be created: " + run.string() + " is a file", "");
  expect_one_error(analyze("export " + path_arg(run) + " -f reference -o " + path_arg(run / "reference")),
                   "--out " + (run / "reference").string() + ": cannot be created: " + run.string() + " is a file", "");
  expect_one_error(analyze("export " + path_arg(run) + " -f duo-json -o " + path_arg(dir)),
                   "--out expects a file; " + dir.string() + " is a directory", "");
  expect_one_error(analyze("export " + path_arg(run) + " -f reference -o " + path_arg(run)),
                   "--out expects a directory; " + run.string() + " is a file", "");
  // A missing input is still reported as such when the output is fine...
  expect_one_error(analyze("pattern " + path_arg(dir / "missing.h5") + " -o " + path_arg(dir / "p.json")),
                   (dir / "missing.h5").string() + ": ", "no such file");
  // ... and a new directory for an output file is made.
  ASSERT_EQ(analyze("pattern " + path_arg(run) + " -o " + path_arg(dir / "new" / "p.json")).status, 0);
  EXPECT_TRUE(fs::exists(dir / "new" / "p.json"));
#ifdef DUO_WITH_PLPLOT
  expect_one_error(analyze("plot " + path_arg(run) + " -o " + path_arg(run / "plots")),
                   "--out " + (run / "plots").string() + ": cannot be created: " + run.string() + " is a file", "");
#endif
}


// The synthetic history was trained with sink 128 + recent 256 (synthetic_meta): every export
// deploys that window unless --sink/--recent say otherwise, and the pattern JSON records which.
TEST(AnalyzeCli, ExportsDeployTheTrainedWindowUnlessOverridden) {
  const fs::path dir = work_dir() / "window";
  fs::create_directories(dir);
  const std::string run = path_arg(work_dir() / "run.h5");
  Result r = analyze("export " + run + " -f reference -o " + path_arg(dir / "trained"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deploy with sink 128 + recent 256 (trained)"), std::string::npos) << r.out;
  nlohmann::json config = read_json(dir / "trained" / "config.json");
  EXPECT_EQ(config["sink_size"], 128);
  EXPECT_EQ(config["recent_size"], 256);
  ASSERT_EQ(analyze("export " + run + " -f rtp-llm -o " + path_arg(dir / "trained.rtp.json")).status, 0);
  nlohmann::json rtp = read_json(dir / "trained.rtp.json")["headwise_config"];
  EXPECT_EQ(rtp["sink_token_num"], 128);
  EXPECT_EQ(rtp["swa_token_num"], 256);
  ASSERT_EQ(analyze("export " + run + " -f duo-json -o " + path_arg(dir / "trained.json")).status, 0);
  nlohmann::json pattern = read_json(dir / "trained.json");
  EXPECT_EQ(pattern["sink"], 128);
  EXPECT_EQ(pattern["window_source"], "trained");
  EXPECT_EQ(pattern["trained_window"], nlohmann::json({{"sink", 128}, {"recent", 256}}));

  r = analyze("export " + run + " --sink 32 -f reference -o " + path_arg(dir / "override"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deploy with sink 32 + recent 256 (override; trained with sink 128 + recent 256)"),
            std::string::npos)
      << r.out;
  config = read_json(dir / "override" / "config.json");
  EXPECT_EQ(config["sink_size"], 32);
  EXPECT_EQ(config["recent_size"], 256);
  r = analyze("pattern " + run + " --sink 32 -o " + path_arg(dir / "override.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deploy with sink 32 + recent 256 (override; trained with sink 128 + recent 256)"),
            std::string::npos)
      << r.out;
  pattern = read_json(dir / "override.json");
  EXPECT_EQ(pattern["sink"], 32);
  EXPECT_EQ(pattern["recent"], 256);
  EXPECT_EQ(pattern["window_source"], "override");
  EXPECT_EQ(pattern["trained_window"], nlohmann::json({{"sink", 128}, {"recent", 256}}));
  // Read back, the pattern keeps its window and knows it was an override.
  r = analyze("export " + path_arg(dir / "override.json") + " -f rtp-llm -o " + path_arg(dir / "override.rtp.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("sink 32 + recent 256 (override; trained with sink 128 + recent 256)"), std::string::npos) << r.out;
  EXPECT_EQ(read_json(dir / "override.rtp.json")["headwise_config"]["sink_token_num"], 32);

  r = analyze("summary " + run);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deploy     streaming heads keep sink 128 + recent 256 (trained)"), std::string::npos) << r.out;
  expect_one_error(analyze("pattern " + run + " --recent -5"), "--recent -5: ", "expected an integer in [0, 16777216]");
  expect_one_error(analyze("export " + run + " --sink 1000000000000 --out " + (dir / "huge").string()),
                   "--sink 1000000000000: ", "expected an integer in [0, 16777216]");
}

// A pattern file is a pattern: export keeps its roles exactly, even roles no rule would give.
TEST(AnalyzeCli, PatternFileKeepsItsRolesUnlessReselected) {
  const fs::path dir = work_dir() / "roles";
  fs::create_directories(dir);
  const fs::path made = dir / "made.json", edited = dir / "edited.json";
  ASSERT_EQ(analyze("pattern " + path_arg(work_dir() / "run.h5") + " --sparsity 0.25 -o " + path_arg(made)).status, 0);
  // Swap two roles: the largest gate (layer 2, kv 0: target 1) becomes streaming and the
  // smallest (layer 0, kv 3: target 0) a retrieval head, which neither 0.25 nor the default 0.5
  // would select.
  nlohmann::json doc = read_json(made);
  std::vector<std::string> roles;
  for (auto& head : doc["heads"]) {
    const int l = head["layer"], h = head["kv_head"];
    if (duo::test::target_gate(l, h) == 1.0f) head["role"] = "streaming";
    if (duo::test::target_gate(l, h) == 0.0f) head["role"] = "retrieval";
    roles.push_back(head["role"]);
  }
  std::ofstream(edited) << doc.dump(2);

  Result r = analyze("export " + path_arg(edited) + " -f duo-json -o " + path_arg(dir / "out.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("roles      as the pattern file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deploy with sink 128 + recent 256 (trained)"), std::string::npos) << r.out;
  nlohmann::json out = read_json(dir / "out.json");
  std::vector<std::string> out_roles;
  for (const auto& head : out["heads"]) out_roles.push_back(head["role"]);
  EXPECT_EQ(out_roles, roles);
  EXPECT_EQ(out["rule"], "sparsity");
  EXPECT_EQ(out["requested_sparsity"], 0.25);
  EXPECT_EQ(out["threshold"], doc["threshold"]);
  EXPECT_EQ(out["retrieval_heads"], 9);

  r = analyze("export " + path_arg(edited) + " -f rtp-llm -o " + path_arg(dir / "out.rtp.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json rtp = read_json(dir / "out.rtp.json")["headwise_config"];
  for (int l = 0; l < 3; ++l)
    for (int q = 0; q < 8; ++q)
      EXPECT_EQ(rtp[std::to_string(l)][q], roles[l * 4 + q / 2] == "retrieval" ? 1 : 0) << l << " " << q;
  // The reference format cannot carry such roles, and export says so.
  r = analyze("export " + path_arg(edited) + " -f reference -o " + path_arg(dir / "out_reference"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("the reference and kvpress choose other heads"), std::string::npos) << r.out;

  r = analyze("pattern " + path_arg(edited));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("9 retrieval (R) and 3 streaming (S)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    0  R 0.273 R 0.909 R 0.455 R 0.000   4/4"), std::string::npos) << r.out;

  // --sparsity re-selects from the stored gates, and says so.
  r = analyze("export " + path_arg(edited) + " --sparsity 0.5 -f duo-json -o " + path_arg(dir / "again.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("roles      re-selected by --sparsity"), std::string::npos) << r.out;
  nlohmann::json again = read_json(dir / "again.json");
  EXPECT_EQ(again["retrieval_heads"], 6);
  for (const auto& head : again["heads"])
    EXPECT_EQ(head["role"] == "retrieval", duo::test::target_gate(head["layer"], head["kv_head"]) > 0.5f) << head;
}

// A reference directory whose config.json has no sink_size: the paper's window, said aloud.
TEST(AnalyzeCli, ReferenceDirectoryWithoutAWindowFallsBackToThePapersWindow) {
  const fs::path ref = work_dir() / "windowless_reference";
  fs::create_directories(ref);
  std::ofstream(ref / "full_attention_heads.tsv") << "0.1\t0.9\n0.8\t0.2\n";
  std::ofstream(ref / "config.json") << R"({"model_name": "elsewhere"})";
  const std::string said = "deploy with sink 64 + recent 256 (default: no trained window recorded, so the paper's deployment window)";
  Result r = analyze("export " + path_arg(ref) + " -f reference -o " + path_arg(work_dir() / "windowless_out"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(said), std::string::npos) << r.out;
  nlohmann::json config = read_json(work_dir() / "windowless_out" / "config.json");
  EXPECT_EQ(config["sink_size"], 64);
  EXPECT_EQ(config["recent_size"], 256);
  r = analyze("pattern " + path_arg(ref) + " -o " + path_arg(work_dir() / "windowless.json"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(said), std::string::npos) << r.out;
  nlohmann::json pattern = read_json(work_dir() / "windowless.json");
  EXPECT_EQ(pattern["window_source"], "default");
  EXPECT_TRUE(pattern["trained_window"].is_null());
  EXPECT_EQ(pattern["sink"], 64);
  // Its config.json's window when it has one.
  std::ofstream(ref / "config.json") << R"({"sink_size": 16, "recent_size": 48})";
  r = analyze("pattern " + path_arg(ref));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("deploy with sink 16 + recent 48 (trained)"), std::string::npos) << r.out;
}

TEST(AnalyzeCli, CompareReportsOverlapAndRankCorrelation) {
  const fs::path run = work_dir() / "run.h5";
  Result r = analyze("compare " + path_arg(run) + " " + path_arg(run));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Jaccard overlap 1.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Spearman 1.0000"), std::string::npos) << r.out;
  // A pattern directory with the gates in reverse order: no shared heads at 0.5, correlation -1.
  const fs::path reversed = work_dir() / "reversed";
  fs::create_directories(reversed);
  {
    std::ofstream tsv(reversed / "full_attention_heads.tsv");
    for (int l = 0; l < 3; ++l)
      for (int h = 0; h < 4; ++h) tsv << 1.0 - duo::test::target_gate(l, h) << (h == 3 ? "\n" : "\t");
    std::ofstream(reversed / "config.json") << R"({"sink_size": 64, "recent_size": 256})";
  }
  r = analyze("compare " + path_arg(run) + " " + path_arg(reversed) + " --sparsity 0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("both 0; Jaccard overlap 0.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Spearman -1.0000"), std::string::npos) << r.out;
}

// A file that cannot be written whole is an error, never "wrote": the stream is checked after it
// is flushed and closed, and the old file stays as it was.
TEST(AnalyzeCli, ExportsThatCannotBeWrittenAreErrors) {
  const std::string run = path_arg(work_dir() / "run.h5");
  for (const char* format : {"duo-json", "rtp-llm"}) {
    Result r = analyze("export " + run + " -f " + format + " -o /dev/full");
    expect_one_error(r, "/dev/full: ", "write failed: No space left on device");
    EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;
  }
  Result r = analyze("pattern " + run + " -o /dev/full");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("duo-analyze: error: /dev/full: write failed: No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;

  // A path below a regular file cannot be created: refused before anything is written.
  const fs::path under_a_file = work_dir() / "run.h5" / "pattern.json";
  expect_one_error(analyze("export " + run + " -f duo-json -o " + path_arg(under_a_file)),
                   "--out " + under_a_file.string() + ": cannot be created: " + (work_dir() / "run.h5").string() +
                       " is a file",
                   "");

  // A full disk: the export fails, and the one already there is kept whole.
  const fs::path dir = work_dir() / "full_disk";
  fs::create_directories(dir);
  const fs::path kept = dir / "kept.json";
  ASSERT_EQ(analyze("export " + run + " -f duo-json -o " + path_arg(kept)).status, 0);
  const std::string before = slurp(kept);
  r = analyze_with_file_limit("export " + run + " --sparsity 0.25 -f duo-json -o " + path_arg(kept), 0);
  expect_one_error(r, kept.string() + ": ", "write failed: File too large");
  EXPECT_EQ(slurp(kept), before);
  r = analyze_with_file_limit("export " + run + " -f reference -o " + path_arg(dir / "reference"), 0);
  expect_one_error(r, (dir / "reference" / "full_attention_heads.tsv").string() + ": ", "write failed: File too large");
  r = analyze_with_file_limit("export " + run + " -f rtp-llm -o " + path_arg(dir / "rtp.json"), 100);
  expect_one_error(r, (dir / "rtp.json").string() + ": ", "write failed: File too large");
  std::vector<std::string> left;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) left.push_back(entry.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"kept.json", "reference"})) << "empty or partial files left behind";
}

#ifdef DUO_WITH_PLPLOT
// PLplot does not report failed writes: the figure is checked once it is finished.
TEST(AnalyzeCli, PlotsCutShortByAFullDiskAreErrors) {
  const fs::path figs = work_dir() / "figures_full_disk";
  // Room for PLplot's own small temporary files, not for a whole figure.
  Result r = analyze_with_file_limit("plot " + path_arg(work_dir() / "run.h5") + " -o " + path_arg(figs), 4096);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("duo-analyze: error: " + (figs / "heatmap.png").string() +
                       ": is cut short after plotting: the disk may be full\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(figs / "heatmap.png"));
}

TEST(AnalyzeCli, PlotsAreValidNonBlankImages) {
  const fs::path figs = work_dir() / "figures";
  Result r = analyze("plot " + path_arg(work_dir() / "run.h5") + " -o " + path_arg(figs));
  ASSERT_EQ(r.status, 0) << r.err;
  std::string files;
  for (const char* name : {"heatmap", "trajectories", "losses", "histogram"})
    for (const char* ext : {".png", ".svg"}) {
      ASSERT_TRUE(fs::exists(figs / (std::string(name) + ext))) << name << ext;
      files += " " + path_arg(figs / (std::string(name) + ext));
    }
  Result check = python("check_images.py", files);
  EXPECT_EQ(check.status, 0) << check.err;
  std::string expect;
  for (int i = 0; i < 4; ++i) expect += "1100x750\nsvg 1100pt 750pt\n";
  EXPECT_EQ(check.out, expect);
}
#else
TEST(AnalyzeCli, PlotSaysItWasBuiltWithoutPlotting) {
  Result r = analyze("plot " + path_arg(work_dir() / "run.h5") + " -o " + path_arg(work_dir() / "figures"));
  expect_one_error(r, "this duo-analyze was built without PLplot", "cannot plot");
}
#endif

TEST(AnalyzeCli, BadInputsGiveOneClearErrorEach) {
  const fs::path dir = work_dir();
  const fs::path missing = dir / "missing.h5";
  expect_one_error(analyze("summary " + path_arg(missing)), missing.string() + ": ", "no such file");

  const fs::path truncated = dir / "truncated.h5";
  fs::copy_file(dir / "run.h5", truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  expect_one_error(analyze("summary " + path_arg(truncated)), truncated.string() + ": ", "");

  const fs::path garbage = dir / "garbage.h5";
  std::ofstream(garbage) << "not hdf5 at all\n";
  expect_one_error(analyze("pattern " + path_arg(garbage)), garbage.string() + ": ", "not a readable HDF5 file");

  const fs::path newer = dir / "newer.h5";
  fs::copy_file(dir / "run.h5", newer, fs::copy_options::overwrite_existing);
  {
    hid_t f = H5Fopen(newer.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int64_t v = duo::kHistorySchemaVersion + 1;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
  }
  expect_one_error(analyze("summary " + path_arg(newer)), newer.string() + ": ",
                   "schema version " + std::to_string(duo::kHistorySchemaVersion + 1) + " is newer");

  const fs::path empty = dir / "empty.h5";
  duo::test::write_synthetic_run(empty, 0);
  expect_one_error(analyze("pattern " + path_arg(empty)), empty.string() + ": ", "no steps");

  expect_one_error(analyze("pattern " + path_arg(dir / "run.h5") + " --sparsity 1.5"), "--sparsity 1.5: ",
                   "must be between 0 and 1");
  expect_one_error(analyze("summary " + path_arg(dir / "run.h5") + " --sparsity -0.25"), "--sparsity -0.25: ",
                   "must be between 0 and 1");
  expect_one_error(analyze("pattern " + path_arg(dir / "run.h5") + " --step 500"), (dir / "run.h5").string() + ": ",
                   "no step 500");

  const fs::path ragged = dir / "ragged";
  fs::create_directories(ragged);
  std::ofstream(ragged / "full_attention_heads.tsv") << "0.1\t0.2\n0.3\n";
  expect_one_error(analyze("pattern " + path_arg(ragged)), (ragged / "full_attention_heads.tsv").string() + ": ",
                   "ragged rows: line 2 has 1 values, line 1 has 2");
  const fs::path words = dir / "words";
  fs::create_directories(words);
  std::ofstream(words / "full_attention_heads.tsv") << "0.1\tzero\n";
  expect_one_error(analyze("pattern " + path_arg(words)), (words / "full_attention_heads.tsv").string() + ": ",
                   "'zero' is not a number");

  expect_one_error(analyze("pattern"), "", "INPUT is required");
}
