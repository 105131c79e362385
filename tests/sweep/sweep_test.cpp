// The sparsity sweep on the tiny-random model: the grid of cells and their CSV rows, KV bytes
// shrinking with sparsity by the formula, sparsity 0 answering exactly as plain greedy
// generation, a pattern file swept as it is with the window its input records, and an
// interrupted sweep that resumes without redoing finished cells, and one that refuses to resume
// with other settings.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "analysis/pattern.h"
#include "analysis/sweep.h"
#include "analysis/sweep_hdf5.h"
#include "model/decoder.h"
#include "model/llama.h"
#include "model/mixed_kv_cache.h"
#include "model/model_config.h"
#include "synth/passkey.h"
#include "tokenizer/tokenizer.h"
#include "file_limit.h"
#include "sweep_test_util.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace duo::analysis {
namespace {

using sweep_test::env;
using sweep_test::error_of;
using sweep_test::read_text;
using sweep_test::scratch;

GateSet tiny_gates() {
  GateSet g;
  g.source = "synthetic";
  g.kind = "pattern";
  g.num_layers = 4;
  g.num_kv_heads = 2;
  g.num_heads = 4;
  g.gates = {0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.3f, 0.6f, 0.4f};
  return g;
}

SweepOptions tiny_options(const fs::path& out) {
  SweepOptions o;
  o.model = fs::path(env("DUO_SOURCE_DIR")) / "models/tiny-random";
  o.random_weights = true;
  auto hay = out.parent_path() / "haystack.txt";
  std::ofstream(hay) << std::string(200, 'x') << " The grass is green. The sky is blue. The sun is yellow. "
                     << "Here we go. There and back again.\n";
  {
    std::ofstream h(hay, std::ios::app);
    for (int i = 0; i < 100; ++i) h << "Line " << i << " of a plain haystack, with words and numbers.\n";
  }
  o.haystack = {hay.string()};
  o.sparsities = {0, 0.5, 1};
  o.lengths = {400, 600};
  o.depths = {0.2, 0.8};
  o.random_seeds = 2;
  o.passkey_words = 2;
  o.window = StreamingWindow{8, 32};
  o.chunk = 128;
  o.dtype = "fp32";
  o.device = "cpu";
  o.out = out;
  return o;
}

TEST(Sweep, ScoresEveryCellAndKvBytesFollowThePattern) {
  auto out = scratch("grid");
  auto rows = run_sweep(tiny_gates(), tiny_options(out));
  // duo at 0, 0.5, 1 plus 2 random seeds at 0.5: 5 methods x 2 lengths x 2 depths.
  ASSERT_EQ(rows.size(), 20u);
  std::map<std::pair<std::string, double>, int64_t> bytes_at_600;
  for (const auto& r : rows) {
    EXPECT_TRUE(r.exact == 0 || r.exact == 1);
    EXPECT_GE(r.overlap, 0);
    EXPECT_LE(r.overlap, 1);
    EXPECT_GT(r.prefill_s, 0);
    if (r.length == 600) bytes_at_600[{r.method, r.sparsity}] = r.kv_bytes;
    EXPECT_EQ(r.retrieval_heads, std::lround((1 - r.sparsity) * 8));
  }
  // KV bytes shrink with sparsity; random heads at the same sparsity cost the same.
  auto bytes = [&](const char* method, double s) { return bytes_at_600[{method, s}]; };
  EXPECT_GT(bytes("duo", 0), bytes("duo", 0.5));
  EXPECT_GT(bytes("duo", 0.5), bytes("duo", 1));
  EXPECT_EQ(bytes("duo", 0.5), bytes("random", 0.5));
  EXPECT_EQ(read_sweep_csv(out / "results.csv").size(), 20u);
  EXPECT_NE(sweep_summary(rows).find("duo"), std::string::npos);
}

// The sweep's passkey sample of one cell, built independently of the sweep.
synth::PasskeySample cell_sample(const SweepOptions& o, int64_t length, double depth) {
  auto tokenizer = Tokenizer::from_dir(o.model);
  synth::PasskeyConfig c;
  c.haystack.files = {o.haystack[0]};
  c.seed = o.seed;
  c.num_passkeys = 1;
  c.passkey_words = o.passkey_words;
  c.depth_min = c.depth_max = depth;
  c.depth_count = 1;
  c.context_min = c.context_max = length;
  c.context_count = 1;
  c.shuffle = false;
  synth::PasskeyGenerator task(c, tokenizer);
  return task.sample(0);
}

TEST(Sweep, SparsityZeroAnswersAsPlainGreedyGeneration) {
  auto out = scratch("plain");
  auto o = tiny_options(out);
  o.sparsities = {0};
  o.random_seeds = 0;
  o.lengths = {500};
  o.depths = {0.5};
  auto rows = run_sweep(tiny_gates(), o);
  ASSERT_EQ(rows.size(), 1u);

  // The same prompt through the dense-cache generator: the score must agree.
  auto s = cell_sample(o, 500, 0.5);
  auto span = s.answer_spans.at(0);
  std::vector<int64_t> prompt(s.ids.begin(), s.ids.begin() + span.start);
  auto model = LlamaModel::random(load_model_config(o.model / "config.json"), 0, at::kFloat, at::kCPU);
  GenerateOptions g;
  g.max_new_tokens = span.size();
  auto got = generate_greedy(model, prompt, g).tokens;
  bool exact = std::equal(s.ids.begin() + span.start, s.ids.begin() + span.end, got.begin(), got.end());
  EXPECT_EQ(rows[0].exact, exact ? 1.0 : 0.0);
  HeadPattern full = HeadPattern::uniform(4, 2, true, 8, 32);
  EXPECT_EQ(rows[0].kv_bytes, pattern_kv_bytes(full, 1, int64_t(prompt.size()) + span.size(), 16, 4));
}

// A pattern of its own (a pattern file's) is swept at its sparsity, with its roles and, when no
// window is given, its window; without a pattern, the window the gates record.
TEST(Sweep, APatternIsSweptAsItIsWithItsWindow) {
  auto out = scratch("as_is");
  auto o = tiny_options(out);
  o.window.reset();
  o.lengths = {400};
  o.depths = {0.5};
  o.random_seeds = 1;
  const GateSet gates = tiny_gates();
  Pattern p = select_by_sparsity(gates, 0.25);
  p.retrieval = {0, 1, 1, 1, 1, 1, 1, 0};  // the largest gate and the 0.4 streaming: no rule's choice
  p.window = {8, 32};
  o.pattern = p;
  auto rows = run_sweep(gates, o);
  ASSERT_EQ(rows.size(), 2u);  // duo and one random seed, at the pattern's sparsity only
  auto s = cell_sample(o, 400, 0.5);
  HeadPattern deployed;
  deployed.num_layers = 4;
  deployed.num_kv_heads = 2;
  deployed.retrieval = p.retrieval;
  deployed.window = {8, 32};
  const int64_t length = s.answer_spans.at(0).end;  // prompt and answer
  for (const auto& r : rows) {
    EXPECT_DOUBLE_EQ(r.sparsity, 0.25);
    EXPECT_EQ(r.retrieval_heads, 6);
    EXPECT_EQ(r.kv_bytes, pattern_kv_bytes(deployed, 1, length, 16, 4)) << r.method;
  }

  // No pattern and no window given: the window the gates record.
  auto out2 = scratch("recorded");
  auto o2 = tiny_options(out2);
  o2.window.reset();
  o2.sparsities = {0.25};
  o2.lengths = {400};
  o2.depths = {0.5};
  o2.random_seeds = 0;
  GateSet recorded = tiny_gates();
  recorded.window = StreamingWindow{8, 32};
  rows = run_sweep(recorded, o2);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].kv_bytes, pattern_kv_bytes(deployed, 1, length, 16, 4));
}

TEST(Sweep, InterruptedSweepResumesWithoutRedoingCells) {
  auto out = scratch("resume");
  auto o = tiny_options(out);
  auto first = run_sweep(tiny_gates(), o);
  // Cut the file after 12 of its 20 rows, the last one half-written, as a kill would leave it.
  std::ifstream in(out / "results.csv");
  std::string all((std::istreambuf_iterator<char>(in)), {}), kept;
  size_t pos = 0;
  for (int line = 0; line < 13; ++line) pos = all.find('\n', pos) + 1;
  kept = all.substr(0, pos) + all.substr(pos, 10);
  std::ofstream(out / "results.csv", std::ios::trunc) << kept;

  auto second = run_sweep(tiny_gates(), o);
  ASSERT_EQ(second.size(), 20u);
  auto stored = read_sweep_csv(out / "results.csv");
  ASSERT_EQ(stored.size(), 20u) << "finished cells were redone or cells are missing";
  // Deterministic on the CPU: the resumed sweep scores every cell as the uninterrupted one did.
  std::map<std::tuple<std::string, int64_t, double, int64_t, double>, double> a, b;
  for (const auto& r : first) a[{r.method, r.seed, r.sparsity, r.length, r.depth}] = r.overlap;
  for (const auto& r : stored) b[{r.method, r.seed, r.sparsity, r.length, r.depth}] = r.overlap;
  EXPECT_EQ(a, b);
}

// A full disk (here: a file size limit) while the sweep records a cell or writes results.h5 is one
// error naming the file and the reason, and leaves the results as they were: no half row in the
// CSV (a resumed sweep would stumble on it), results.h5 still the previous version, no temporary.
TEST(Sweep, AFailedWriteOfTheResultsIsOneErrorAndLeavesThemAsTheyWere) {
  auto out = scratch("full");
  const auto csv = out / "results.csv", h5 = out / "results.h5";
  SweepRow row{"passkey", "duo", 0, 0.5, 400, 0.2, 0, 1, 1, 1, 4096, 0.01, 0.002, 3};
  append_sweep_csv(csv, row);
  row.sample = 1;
  append_sweep_csv(csv, row);
  const std::string before = read_text(csv);
  write_sweep_h5(h5, read_sweep_csv(csv), "{}");
  const std::string h5_before = read_text(h5);
  {
    duo::test::FileSizeLimit limit(before.size() + 20);  // room for part of one more row
    row.sample = 2;
    EXPECT_EQ(error_of([&] { append_sweep_csv(csv, row); }), csv.string() + ": write failed: File too large");
  }
  EXPECT_EQ(read_text(csv), before);
  EXPECT_EQ(read_sweep_csv(csv).size(), 2u);
  {
    duo::test::FileSizeLimit limit(h5_before.size() / 2);
    EXPECT_EQ(error_of([&] { write_sweep_h5(h5, std::vector<SweepRow>(3, row), "{}"); }),
              h5.string() + ": write failed: File too large");
  }
  EXPECT_EQ(read_text(h5), h5_before);
  EXPECT_FALSE(fs::exists(out / "results.h5.partial"));
}

// Runs the sweep expecting a duo::Error whose message holds every one of `parts`.
void expect_refused(const GateSet& gates, const SweepOptions& o, const std::vector<std::string>& parts) {
  try {
    run_sweep(gates, o);
    ADD_FAILURE() << "the sweep ran; expected it to refuse with: " << parts.front();
  } catch (const Error& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// Finished cells are keyed by (method, seed, sparsity, length, depth, sample) only, so a sweep
// continuing a directory with any other setting changed must refuse rather than reprint them.
TEST(Sweep, ResumingWithOtherSettingsRefusesAndSaysWhichDiffer) {
  auto out = scratch("settings");
  auto o = tiny_options(out);
  o.sparsities = {0.5};
  o.random_seeds = 0;
  o.lengths = {400};
  o.depths = {0.5};
  const GateSet gates = tiny_gates();
  ASSERT_EQ(run_sweep(gates, o).size(), 1u);
  const std::string csv = read_text(out / "results.csv");
  const std::string again = "Use a new --out, or remove " + out.string() + ", to start afresh";

  GateSet other_gates = gates;
  other_gates.gates[1] = 0.15f;
  other_gates.source = "other.h5";
  expect_refused(other_gates, o, {"sweep-config.json", "1 finished cell in ", "--gates was 4 layers x 2 KV heads, values ",
                                  "from synthetic, now 4 layers x 2 KV heads, values ", "from other.h5", again});
  auto changed = [&](auto edit, const std::vector<std::string>& parts) {
    SweepOptions c = o;
    edit(c);
    expect_refused(gates, c, parts);
  };
  changed([](SweepOptions& c) { c.seed = 7; }, {"--seed was 20241014, now 7", again});
  changed([](SweepOptions& c) { c.window = StreamingWindow{8, 64}; },
          {"window (--sink/--recent) was sink 8 + recent 32, now sink 8 + recent 64"});
  changed([](SweepOptions& c) { c.dtype = "bf16"; }, {"--dtype was fp32, now bf16"});
  changed([](SweepOptions& c) { c.chunk = 64; }, {"--chunk was 128, now 64"});
  changed([](SweepOptions& c) { c.passkey_words = 3; }, {"--passkey-words was 2, now 3"});
  changed([](SweepOptions& c) { c.haystack.push_back(c.haystack[0]); }, {"--haystack was "});
  changed([](SweepOptions& c) { c.random_weights = false; }, {"--random-weights was yes, now no"});
  changed([&](SweepOptions& c) { c.pattern = select_by_sparsity(gates, 0.5); },
          {"duo roles was selected from the gates at each sparsity, now a pattern's own at sparsity 0.5, roles "});
  // Two at once: both are named.
  changed(
      [](SweepOptions& c) {
        c.seed = 7;
        c.dtype = "fp16";
      },
      {"--seed was 20241014, now 7; --dtype was fp32, now fp16"});
  // The window the gates carry counts as well as --sink/--recent.
  SweepOptions from_gates = o;
  from_gates.window.reset();
  GateSet trained = gates;
  trained.window = StreamingWindow{16, 32};
  expect_refused(trained, from_gates, {"window (--sink/--recent) was sink 8 + recent 32, now sink 16 + recent 32"});
  EXPECT_EQ(read_text(out / "results.csv"), csv) << "a refused sweep changed the results";

  // The same settings over a larger grid, or with another task added, continue the directory.
  o.depths = {0.5, 0.8};
  EXPECT_EQ(run_sweep(gates, o).size(), 2u);
  o.tasks = {"passkey", "niah"};
  EXPECT_EQ(run_sweep(gates, o).size(), 4u);
}

TEST(Sweep, AnOutputDirectoryWithoutARecordedConfigurationIsRefused) {
  auto out = scratch("unrecorded");
  auto o = tiny_options(out);
  o.sparsities = {0};
  o.random_seeds = 0;
  o.lengths = {400};
  o.depths = {0.5};
  ASSERT_EQ(run_sweep(tiny_gates(), o).size(), 1u);
  // As an older duo-analyze left it: results.csv only.
  ASSERT_EQ(std::remove((out / "sweep-config.json").c_str()), 0);
  expect_refused(tiny_gates(), o,
                 {(out / "results.csv").string(), "holds 1 finished cell but no recorded sweep configuration",
                  "Use a new --out, or remove " + out.string()});
  EXPECT_FALSE(fs::exists(out / "sweep-config.json")) << "the refused sweep recorded a configuration";
}

int run(const std::string& command) { return std::system(command.c_str()); }

TEST(SweepCommand, WritesCsvHdf5AndFiguresFromAReferencePatternDirectory) {
  auto out = scratch("cli");
  auto gates = out.parent_path() / "reference";
  fs::create_directories(gates);
  std::ofstream(gates / "full_attention_heads.tsv") << "0.9\t0.1\n0.8\t0.2\n0.7\t0.3\n0.6\t0.4\n";
  std::ofstream(gates / "config.json") << R"({"sink_size": 8, "recent_size": 32})";
  auto o = tiny_options(out);
  const std::string common = " --model " + o.model.string() + " --random-weights --lengths 400 --depths 0.5" +
                             " --random-seeds 1 --passkey-words 2 --chunk 128 --dtype fp32 --device cpu --haystack " +
                             o.haystack[0];
  // No --sink/--recent: the window config.json records.
  std::string cmd = env("DUO_BIN_DIR") + "/duo-analyze sweep --gates " + gates.string() + " --out " + out.string() +
                    " --sparsities 0,0.5" + common;
  ASSERT_EQ(run(cmd + " > " + (out / "log.txt").string() + " 2>&1"), 0);
  std::ifstream log(out / "log.txt");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("streaming heads keep sink 8 + recent 32 (trained)"), std::string::npos) << text;
  // duo at 0 and 0.5, one random seed at 0.5: 3 rows.
  EXPECT_EQ(run(env("DUO_PYTHON") + " " + env("DUO_SOURCE_DIR") + "/tests/sweep/check_sweep_outputs.py " +
                out.string() + " 3"),
            0);

  // Again into the same --out with another task seed: one error line, exit 1, nothing recomputed.
  const std::string csv = read_text(out / "results.csv");
  const auto log2 = out.parent_path() / "log2.txt";
  EXPECT_EQ(run(cmd + " --seed 5 > " + log2.string() + " 2>&1"), 1 << 8);
  text = read_text(log2);
  EXPECT_NE(text.find("duo-analyze: error: " + (out / "sweep-config.json").string() +
                      ": this sweep's settings differ from those of the 3 finished cells in " + out.string() +
                      ": --seed was 20241014, now 5. Use a new --out, or remove " + out.string() +
                      ", to start afresh\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("duo-analyze: error: "), text.rfind('\n', text.size() - 2) + 1) << "not the last line: " << text;
  EXPECT_EQ(text.find("exact_match"), std::string::npos) << text;
  EXPECT_EQ(read_text(out / "results.csv"), csv);
}

// Sizes that would hang, crash or measure nothing get one error line each, exit 1, before any
// model loads.
TEST(SweepCommand, OutOfRangeSizesGiveOneClearErrorEach) {
  auto out = scratch("cli_ranges");
  auto gates = out.parent_path() / "reference_ranges";
  fs::create_directories(gates);
  std::ofstream(gates / "full_attention_heads.tsv") << "0.9\t0.1\n0.8\t0.2\n0.7\t0.3\n0.6\t0.4\n";
  std::ofstream(gates / "config.json") << R"({"sink_size": 8, "recent_size": 32})";
  auto o = tiny_options(out);
  const std::string base = env("DUO_BIN_DIR") + "/duo-analyze sweep --gates " + gates.string() + " --model " +
                           o.model.string() + " --random-weights --depths 0.5 --dtype fp32 --device cpu --haystack " +
                           o.haystack[0];
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --lengths 400 --chunk 0", "--chunk: Value 0 not in range"},
      {" --lengths 400 --chunk -5", "--chunk: Value -5 not in range"},
      {" --lengths 400 --samples 0", "--samples: Value 0 not in range"},
      {" --lengths 400 --random-seeds -1", "--random-seeds: Value -1 not in range"},
      {" --lengths 400 --recent 0", "--recent: Value 0 not in range"},
      {" --lengths 400 --depths 1.5", "--depths: Value 1.5 not in range"},
      {" --lengths 400 --sink 100000", "holds every context of --lengths (up to 400 tokens)"},
      {" --lengths 9000", "--lengths: 9000 tokens exceed the model's max_position_embeddings (8192"},
  };
  int i = 0;
  for (const auto& [args, want] : cases) {
    const fs::path log = out.parent_path() / ("ranges" + std::to_string(i++) + ".txt");
    EXPECT_EQ(run(base + " --out " + (out / std::to_string(i)).string() + args + " > " + log.string() + " 2>&1"), 1 << 8)
        << args;
    const std::string text = read_text(log);
    EXPECT_NE(text.find(want), std::string::npos) << args << ": " << text;
    // One error line: the last line of the output, and the only one of its kind.
    const size_t error = text.find("duo-analyze: error: ");
    EXPECT_NE(error, std::string::npos) << args << ": " << text;
    EXPECT_EQ(text.find("duo-analyze: error: ", error + 1), std::string::npos) << args << ": " << text;
    EXPECT_EQ(text.find('\n', error), text.size() - 1) << args << ": " << text;
  }
}

// Gates of another shape than the model are refused before the output directory is made or the
// weights load, with both shapes and both files.
TEST(Sweep, GatesOfAnotherShapeThanTheModelAreRefusedFirst) {
  auto dir = scratch("shape");
  auto o = tiny_options(dir / "never");
  GateSet gates = tiny_gates();  // 4 layers x 2 KV heads, as models/tiny-random
  gates.num_layers = 2;
  gates.num_kv_heads = 4;
  expect_refused(gates, o, {"synthetic: 2 layers x 4 KV heads, but the model in " + (o.model / "config.json").string() +
                                " has 4 x 2"});
  EXPECT_FALSE(fs::exists(o.out));
}

// Paths of the wrong kind: one line naming the flag and the path, before anything loads.
TEST(SweepCommand, PathsOfTheWrongKindGiveOneClearErrorEach) {
  auto out = scratch("cli_paths");
  auto gates = out.parent_path() / "reference_paths";
  fs::create_directories(gates);
  std::ofstream(gates / "full_attention_heads.tsv") << "0.9\t0.1\n0.8\t0.2\n0.7\t0.3\n0.6\t0.4\n";
  std::ofstream(gates / "config.json") << R"({"sink_size": 8, "recent_size": 32})";
  auto o = tiny_options(out);
  const std::string hay = o.haystack[0];
  const std::string base = env("DUO_BIN_DIR") + "/duo-analyze sweep --gates " + gates.string() +
                           " --lengths 400 --depths 0.5 --dtype fp32 --device cpu";
  const std::string model = " --random-weights --model " + o.model.string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --random-weights --model " + (o.model / "config.json").string() + " --haystack " + hay + " --out " + out.string(),
       "--model expects a directory holding config.json; " + (o.model / "config.json").string() + " is a file"},
      {" --model " + (o.model / "tokenizer.json").string() + " --haystack " + hay + " --out " + out.string(),
       "--model expects a checkpoint directory; " + (o.model / "tokenizer.json").string() + " is a file"},
      {model + " --tokenizer " + (o.model / "tokenizer.json").string() + " --haystack " + hay + " --out " + out.string(),
       "--tokenizer expects a tokenizer directory; " + (o.model / "tokenizer.json").string() + " is a file"},
      {model + " --haystack " + out.string() + " --out " + out.string(),
       "--haystack expects a text file; " + out.string() + " is a directory"},
      {model + " --haystack " + hay + " --out " + hay + "/sweep",
       "--out " + hay + "/sweep: cannot be created: " + hay + " is a file"},
      {model + " --haystack " + hay + " --out " + hay, "--out expects a directory; " + hay + " is a file"},
  };
  int i = 0;
  for (const auto& [args, want] : cases) {
    const fs::path log = out.parent_path() / ("paths" + std::to_string(i++) + ".txt");
    EXPECT_EQ(run(base + args + " > " + log.string() + " 2>&1"), 1 << 8) << args;
    const std::string text = read_text(log);
    EXPECT_EQ(text.substr(text.find("duo-analyze: error: ")), "duo-analyze: error: " + want + "\n") << args << ": " << text;
  }
}

TEST(SweepCommand, SweepsAPatternFileAsItIsUnlessSparsitiesAreGiven) {
  auto out = scratch("cli_pattern");
  auto dir = out.parent_path();
  fs::create_directories(dir / "reference");
  std::ofstream(dir / "reference" / "full_attention_heads.tsv") << "0.9\t0.1\n0.8\t0.2\n0.7\t0.3\n0.6\t0.4\n";
  std::ofstream(dir / "reference" / "config.json") << R"({"sink_size": 8, "recent_size": 32})";
  const std::string analyze = env("DUO_BIN_DIR") + "/duo-analyze ";
  const fs::path pattern = dir / "pattern.json";
  ASSERT_EQ(run(analyze + "pattern " + (dir / "reference").string() + " --sparsity 0.25 -o " + pattern.string() +
                " > /dev/null"),
            0);
  auto o = tiny_options(out);
  const std::string common = " --model " + o.model.string() + " --random-weights --lengths 400 --depths 0.5" +
                             " --random-seeds 1 --passkey-words 2 --chunk 128 --dtype fp32 --device cpu --haystack " +
                             o.haystack[0];
  ASSERT_EQ(run(analyze + "sweep --gates " + pattern.string() + " --out " + out.string() + common + " > " +
                (dir / "log.txt").string() + " 2>&1"),
            0);
  std::ifstream log(dir / "log.txt");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("streaming heads keep sink 8 + recent 32 (trained)"), std::string::npos) << text;
  EXPECT_NE(text.find("duo: the roles " + pattern.string() + " holds, at its sparsity 0.25"), std::string::npos) << text;
  auto rows = read_sweep_csv(out / "results.csv");
  ASSERT_EQ(rows.size(), 2u);  // duo and one random seed at the file's sparsity 0.25
  for (const auto& r : rows) EXPECT_DOUBLE_EQ(r.sparsity, 0.25);

  auto again = dir / "again";
  ASSERT_EQ(run(analyze + "sweep --gates " + pattern.string() + " --out " + again.string() + " --sparsities 0,0.5" +
                common + " > " + (dir / "log2.txt").string() + " 2>&1"),
            0);
  EXPECT_EQ(read_sweep_csv(again / "results.csv").size(), 3u);  // re-selected at 0 and 0.5
}

}  // namespace
}  // namespace duo::analysis
