// duo-analyze attention as users run it, on a tiny random Llama checkpoint that transformers made
// (fixture attention_checkpoint): its per-head scores against transformers' eager attention maps
// scored independently in numpy (attention_reference.py, on the same samples as duo-synth prints
// them), the gate comparison against a history, defaults taken from a history's recorded config,
// the heatmap as an image file, and one clear error line for each kind of bad input.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "analysis/gate_set.h"
#include "history/history_writer.h"
#include "cli_run.h"
#include "synthetic_run.h"

namespace fs = std::filesystem;

namespace {

using Result = duo::test::CliResult;
using duo::test::quote;
using duo::test::slurp;
std::string arg(const fs::path& p) { return quote(p.string()); }
std::string env(const char* name) { return std::getenv(name) ? std::getenv(name) : ""; }

const fs::path kModel = DUO_ATTENTION_CHECKPOINT;
constexpr int kSink = 4, kRecent = 48;

// The training config the tests use: the checkpoint, a small haystack of its own, two passkeys of
// three words, a short window.
std::string config_yaml(const fs::path& model, const fs::path& haystack) {
  std::ostringstream y;
  y << "model:\n  path: \"" << model.string() << "\"\n  dtype: fp32\n  device: cpu\n"
    << "data:\n  haystack: [\"" << haystack.string() << "\"]\n  num_passkeys: 2\n  passkey_words: 3\n"
    << "  depth_count: 50\n  context_min: 300\n  context_max: 420\n  context_count: 2\n"
    << "  prefix: \"A story: \"\n  suffix: \"\\n\\n\"\n  separator: \"\\n\"\n"
    << "  needle: \"The {ordinal} passkey is: \"\n  question: \"What is the {ordinal} passkey?\\n\"\n"
    << "  answer_prefix: \"Passkey: \"\n"
    << "streaming:\n  sink: " << kSink << "\n  recent: " << kRecent << "\n  granularity: token\n";
  return y.str();
}

// A fresh directory per test process (ctest runs the tests side by side) holding a haystack,
// the config and a gate history (3 layers x 4 KV heads, the checkpoint's shape) that records it.
fs::path work_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "duo_attention_test_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    const fs::path d = pattern;
    {
      std::ofstream hay(d / "haystack.txt");
      const char* words[] = {"river", "stone", "light", "garden", "window", "silver", "morning", "bread",
                             "lantern", "valley", "copper", "whisper", "harbor", "meadow", "thunder"};
      for (int i = 0; i < 300; ++i)
        hay << words[(7 * i) % 15] << " " << words[(11 * i + 3) % 15] << " " << i << " " << words[(5 * i + 1) % 15]
            << ".\n";
    }
    const std::string yaml = config_yaml(kModel, d / "haystack.txt");
    std::ofstream(d / "config.yaml") << yaml;

    duo::HistoryMeta meta = duo::test::analysis_meta();
    meta.config_yaml = yaml;
    duo::HistoryWriter::Options options;
    options.overwrite = true;
    options.fsync = false;
    auto writer = duo::HistoryWriter::create(d / "run.h5", meta, options);
    for (int64_t s = 0; s < 3; ++s) {
      duo::StepRecord r;
      r.step = s;
      for (int l = 0; l < meta.num_layers; ++l)
        for (int h = 0; h < meta.num_kv_heads; ++h) r.gates.push_back(duo::test::drifting_gate(s * 40, l, h));
      r.loss_total = r.loss_distill = 0.1;
      r.lr = 0.02;
      writer.append(r);
    }
    return d;
  }();
  return dir;
}

Result run(const std::string& command) { return duo::test::run_in(work_dir(), command); }

Result analyze(const std::string& args) { return run(arg(env("DUO_BIN_DIR") + "/duo-analyze") + " attention " + args); }

Result python(const std::string& script, const std::string& args) {
  return run(arg(env("DUO_PYTHON")) + " " + arg(env("DUO_SOURCE_DIR") + "/tests/analysis/" + script) + " " + args);
}

// The error contract: exit 1 and exactly "duo-analyze: error: <what>: <problem>\n" on stderr.
void expect_one_error(const Result& r, const std::string& contains) {
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("duo-analyze: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

TEST(AttentionCommand, ScoresMatchTransformersEagerAttention) {
  const fs::path dir = work_dir(), out = dir / "scores";
  // The samples the tool will score, as duo-synth prints them (sample indices 0, 1 of the seed).
  std::string sample_files;
  for (int length : {300, 420}) {
    const fs::path file = dir / ("samples_" + std::to_string(length) + ".jsonl");
    Result synth = run(arg(env("DUO_BIN_DIR") + "/duo-synth") + " --config " + arg(dir / "config.yaml") +
                       " --seed 77 --index 0 --count 2 --length " + std::to_string(length) + " --json > " + arg(file) +
                       " 2>/dev/null; test -s " + arg(file));
    ASSERT_EQ(synth.status, 0) << synth.err;
    sample_files += " " + arg(file);
  }
  Result r = analyze("--config " + arg(dir / "config.yaml") + " --out " + arg(out) +
                     " --samples 2 --lengths 300,420 --seed 77 --gates " + arg(dir / "run.h5"));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  for (const char* text : {"3 layers, 8 query heads, 4 KV heads", "2 per length at 300 420 tokens (seed 77",
                           "retrieval score:", "outside-window mass: attention mass beyond sink 4 + recent 48",
                           "agreement  Spearman rank correlation over 12 KV heads", "top 6 KV heads (sparsity 0.50)"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;

  Result check = python("attention_reference.py", "check " + arg(kModel) + " " + arg(out) + " " +
                                                      std::to_string(kSink) + " " + std::to_string(kRecent) +
                                                      sample_files + " --gates " + arg(dir / "run.h5"));
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("4 samples"), std::string::npos) << check.out;
#ifdef DUO_WITH_PLPLOT
  Result image = python("check_images.py", arg(out / "attention_scores.png"));
  EXPECT_EQ(image.status, 0) << image.err;
  EXPECT_EQ(image.out, "1100x750\n");
#endif
}

TEST(AttentionCommand, TakesTheConfigRecordedInAHistoryAndItsDefaults) {
  const fs::path out = work_dir() / "from_history";
  Result r = analyze("--gates " + arg(work_dir() / "run.h5") + " --out " + arg(out) + " --samples 1");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string json = slurp(out / "attention_scores.json");
  // Lengths default to data.context_min and context_max, the window to streaming.sink/recent.
  EXPECT_NE(json.find("\"lengths\": [\n    300,\n    420\n  ]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sink\": 4,\n  \"recent\": 48"), std::string::npos) << json;
  EXPECT_NE(json.find("\"seed\": 20241014"), std::string::npos) << json;
  EXPECT_NE(slurp(out / "attention_scores.csv").find("layer,kv_head,retrieval_score,outside_window_mass,copy_score\n0,0,"),
            std::string::npos);
}

TEST(AttentionCommand, BadInputsGiveOneClearErrorEach) {
  const fs::path dir = work_dir(), out = dir / "bad";
  const std::string config = " --config " + arg(dir / "config.yaml") + " --out " + arg(out);

  const fs::path missing_model = dir / "no_such_model";
  expect_one_error(analyze(config + " --model " + arg(missing_model)),
                   "--model expects a checkpoint directory; " + missing_model.string() + " does not exist");
  const fs::path a_file = fs::path(kModel) / "config.json";
  expect_one_error(analyze(config + " --model " + arg(a_file)),
                   "--model expects a checkpoint directory; " + a_file.string() + " is a file");
  const fs::path under_a_file = dir / "config.yaml" / "attention";
  expect_one_error(analyze(" --config " + arg(dir / "config.yaml") + " --out " + arg(under_a_file)),
                   "--out " + under_a_file.string() + ": cannot be created: " + (dir / "config.yaml").string() +
                       " is a file");

  const fs::path missing_config = dir / "no_such_config.yaml";
  expect_one_error(analyze("--config " + arg(missing_config) + " --out " + arg(out)), missing_config.string());

  // A bad key of a section this command reads; duo-train's own sections (gates, optim, run) it
  // passes over, unchecked.
  const fs::path bad_key = dir / "bad_key.yaml";
  std::ofstream(bad_key) << config_yaml(kModel, dir / "haystack.txt") << "  recnt: 40\n";
  expect_one_error(analyze("--config " + arg(bad_key) + " --out " + arg(out)),
                   bad_key.string() + ":23: streaming.recnt: unknown key; streaming has sink, recent, granularity, "
                   "block_size; did you mean recent?");
  const fs::path bad_value = dir / "bad_value.yaml";
  std::ofstream(bad_value) << config_yaml(kModel, dir / "haystack.txt") << "optim:\n  lr: fast\n";
  expect_one_error(analyze("--config " + arg(bad_value) + " --out " + arg(out) + " --set data.num_passkeys=0"),
                   "--set data.num_passkeys=0: data.num_passkeys: expected an integer in [1, 10000], got 0");
  expect_one_error(analyze(config + " --set optim.lr=1"),
                   "--set optim.lr=1: optim.lr: not read here (optim is another program's section; the sections "
                   "read here are model, data, streaming)");

  const fs::path not_yaml = dir / "not_yaml.yaml";
  std::ofstream(not_yaml) << "model: [unclosed\n";
  expect_one_error(analyze("--config " + arg(not_yaml) + " --out " + arg(out)), not_yaml.string());

  expect_one_error(analyze("--out " + arg(out)), "--config FILE is required");
  expect_one_error(analyze(config + " --samples 0"), "--samples 0: must be at least 1");
  expect_one_error(analyze(config + " --lengths 100"), "cannot hold the prompt");
  expect_one_error(analyze(config + " --sparsity 2"), "--sparsity 2");
  expect_one_error(analyze(config + " --recent -3"), "--recent -3: expected an integer in [0, 16777216]");
  expect_one_error(analyze(config + " --sink 1000000000000"), "--sink 1000000000000: expected an integer in [0, 16777216]");

  const fs::path wrong_shape = dir / "wrong_shape";
  fs::create_directories(wrong_shape);
  std::ofstream(wrong_shape / "full_attention_heads.tsv") << "0.9\t0.1\n0.8\t0.2\n";
  std::ofstream(wrong_shape / "config.json") << R"({"sink_size": 4, "recent_size": 48})";
  // Refused before the model loads and before --out is made.
  const fs::path shape_out = dir / "wrong_shape_out";
  expect_one_error(analyze(" --config " + arg(dir / "config.yaml") + " --out " + arg(shape_out) + " --gates " +
                           arg(wrong_shape)),
                   wrong_shape.string() + ": 2 layers x 2 KV heads, but the model in " +
                       (fs::path(kModel) / "config.json").string() + " has 3 x 4");
  EXPECT_FALSE(fs::exists(shape_out));

  expect_one_error(analyze(config + " --bogus"), "--bogus");
}

// On the built-in model, which really retrieves, the copy score (Wu et al.) is not all zeros as
// on a random checkpoint: it matches transformers' eager maps there too, and its top KV head is
// the retrieval head the attention maps show (layer 5, KV head 1: experiments/tiny-validation.md).
TEST(AttentionCommand, CopyScoresOfTheBuiltInModelMatchTransformersAndFindItsRetrievalHead) {
  const fs::path dir = work_dir(), out = dir / "tiny_scores", source = env("DUO_SOURCE_DIR");
  const fs::path config = source / "configs" / "tiny.yaml", model = source / "models" / "tiny";
  const fs::path samples = dir / "tiny_samples.jsonl";
  Result synth = run(arg(env("DUO_BIN_DIR") + "/duo-synth") + " --config " + arg(config) + " --set model.path=" +
                     arg(model) + " --seed 31 --index 0 --count 2 --length 1024 --json > " + arg(samples) +
                     " 2>/dev/null; test -s " + arg(samples));
  ASSERT_EQ(synth.status, 0) << synth.err;
  Result r = analyze("--config " + arg(config) + " --model " + arg(model) + " --out " + arg(out) +
                     " --samples 2 --lengths 1024 --seed 31");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  Result check = python("attention_reference.py", "check " + arg(model) + " " + arg(out) + " 64 256 " + arg(samples));
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  const duo::analysis::GateSet copies = duo::analysis::load_gates(out / "copy_scores.json");
  ASSERT_EQ(copies.gates.size(), 12u);
  const auto top = std::max_element(copies.gates.begin(), copies.gates.end()) - copies.gates.begin();
  EXPECT_EQ(top, 5 * 2 + 1) << "copy scores peak at layer " << top / 2 << ", KV head " << top % 2;
  EXPECT_GT(copies.gates[11], 0.2f);
}
