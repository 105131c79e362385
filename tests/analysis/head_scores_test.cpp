// Head scores from methods other than gate training: `duo-analyze score --method on-the-fly`
// against the same definition computed with transformers (head_scores_reference.py) on a tiny
// random checkpoint that transformers made (fixture attention_checkpoint); `duo-analyze import`
// of PruLong and Retrieval_Head files; the head-score file read back as gates by the other
// subcommands; one clear error line for each kind of bad input.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "analysis/gate_set.h"
#include "analysis/head_scores.h"
#include "cli_run.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace {

using Result = duo::test::CliResult;
using duo::test::quote;
std::string arg(const fs::path& p) { return quote(p.string()); }
std::string env(const char* name) { return std::getenv(name) ? std::getenv(name) : ""; }

const fs::path kModel = DUO_ATTENTION_CHECKPOINT;  // 3 layers, 8 query heads, 4 KV heads, vocabulary 258

fs::path work_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "duo_head_scores_test_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return fs::path(pattern);
  }();
  return dir;
}

Result run(const std::string& command) { return duo::test::run_in(work_dir(), command); }
Result analyze(const std::string& args) { return run(arg(env("DUO_BIN_DIR") + "/duo-analyze") + " " + args); }

void expect_one_error(const Result& r, const std::string& contains) {
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("duo-analyze: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(contains), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

fs::path write(const std::string& name, const std::string& text) {
  const fs::path p = work_dir() / name;
  std::ofstream(p) << text;
  return p;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(ScoreCommand, OnTheFlyScoresMatchTheDefinitionComputedWithTransformers) {
  // Three samples of random ids, of different lengths.
  std::mt19937 rng(5);
  std::string lines;
  for (int length : {40, 97, 160}) {
    nlohmann::json ids = nlohmann::json::array();
    for (int i = 0; i < length; ++i) ids.push_back(int(rng() % 256));
    lines += nlohmann::json{{"ids", ids}}.dump() + "\n";
  }
  const fs::path ids = write("ids.jsonl", lines), out = work_dir() / "otf.json";
  Result r = analyze("score --model " + arg(kModel) + " --ids " + arg(ids) + " --q-len 64 --out " + arg(out));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 layers, 8 query heads, 4 KV heads, fp32 on cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("samples    3 from"), std::string::npos) << r.out;
  const nlohmann::json doc = read_json(out);
  EXPECT_EQ(doc["options"]["q_len"], 64);
  EXPECT_GT(doc["wall_seconds"].get<double>(), 0.0);
  Result check = run(arg(env("DUO_PYTHON")) + " " + arg(env("DUO_SOURCE_DIR") + "/tests/analysis/head_scores_reference.py") +
                     " on-the-fly " + arg(kModel) + " " + arg(ids) + " 64 " + arg(out));
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("3 samples, 3x4 scores agree"), std::string::npos) << check.out;
}

TEST(ScoreCommand, HaystackSpansGiveScoresThatEverySubcommandReadsAsGates) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "The river " + std::to_string(i) + " runs past the stone mill. ";
  const fs::path hay = write("hay.txt", text), out = work_dir() / "spans.json";
  Result r = analyze("score --model " + arg(kModel) + " --text " + arg(hay) +
                     " --samples 3 --sample-tokens 120 --q-len 50 --out " + arg(out));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 haystack spans"), std::string::npos) << r.out;
  const duo::analysis::GateSet g = duo::analysis::load_gates(out);
  EXPECT_EQ(g.kind, "scores");
  EXPECT_EQ(g.num_layers, 3);
  EXPECT_EQ(g.num_kv_heads, 4);
  EXPECT_EQ(g.num_heads, 8);
  for (float v : g.gates) EXPECT_TRUE(v >= 0 && v <= 1) << v;
  Result pattern = analyze("pattern " + arg(out) + " --sparsity 0.5 --out " + arg(work_dir() / "p.json"));
  EXPECT_EQ(pattern.status, 0) << pattern.err;
  EXPECT_NE(pattern.out.find("6 retrieval (R) and 6 streaming (S) KV heads"), std::string::npos) << pattern.out;
  Result summary = analyze("summary " + arg(out));
  EXPECT_EQ(summary.status, 0) << summary.err;
  EXPECT_NE(summary.out.find("(scores)"), std::string::npos) << summary.out;
  Result exported = analyze("export " + arg(out) + " --format reference --model " + arg(kModel) + " --out " +
                            arg(work_dir() / "ref"));
  EXPECT_EQ(exported.status, 0) << exported.err;
  EXPECT_TRUE(fs::exists(work_dir() / "ref" / "full_attention_heads.tsv"));
}

TEST(ScoreCommand, BadInputsGetOneLine) {
  const fs::path out = work_dir() / "bad.json";
  const fs::path outside = write("outside.jsonl", "{\"ids\": [1, 2, 3]}\n{\"ids\": [4, 900]}\n");
  expect_one_error(analyze("score --model " + arg(kModel) + " --ids " + arg(outside) + " --out " + arg(out)),
                   "outside.jsonl:2: id 900 is not in the model's vocabulary [0, 258)");
  const fs::path not_ids = write("notids.jsonl", "{\"text\": \"hello\"}\n");
  expect_one_error(analyze("score --model " + arg(kModel) + " --ids " + arg(not_ids) + " --out " + arg(out)),
                   "notids.jsonl:1: expected a JSON object with a non-empty \"ids\" list");
  const fs::path tiny = write("tiny.txt", "Too short a text.");
  expect_one_error(analyze("score --model " + arg(kModel) + " --text " + arg(tiny) + " --samples 4 --out " + arg(out)),
                   "fewer than --samples x --sample-tokens = 16384");
  expect_one_error(analyze("score --model " + arg(kModel) + " --samples 0 --out " + arg(out)),
                   "--samples 0: must be at least 1");
  expect_one_error(analyze("score --model " + arg(work_dir() / "nowhere") + " --out " + arg(out)),
                   "--model expects a checkpoint directory");
  EXPECT_FALSE(fs::exists(out));
}

TEST(ImportCommand, PruLongMasksAreTakenAsTheyAre) {
  const fs::path masks = write("masks.tsv", "1\t0\t0.25\t1\n0\t0\t1\t0.5\n1\t1\t0\t0\n"), out = work_dir() / "pl.json";
  Result r = analyze("import " + arg(masks) + " --from prulong --model " + arg(kModel) + " --out " + arg(out));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 layers x 4 KV heads"), std::string::npos) << r.out;
  const duo::analysis::GateSet g = duo::analysis::load_gates(out);
  EXPECT_EQ(g.gates, (std::vector<float>{1, 0, 0.25f, 1, 0, 0, 1, 0.5f, 1, 1, 0, 0}));
  EXPECT_EQ(read_json(out)["method"], "prulong");
  EXPECT_EQ(read_json(out)["fold"], "none");
  // The threshold rule gives PruLong's own 0.5 cut: the masks at or above it are global heads.
  Result pattern = analyze("pattern " + arg(out) + " --threshold 0.5");
  EXPECT_NE(pattern.out.find("6 retrieval (R) and 6 streaming (S) KV heads"), std::string::npos) << pattern.out;

  const fs::path wide = write("wide.tsv", "1\t0\n0\t1\n1\t1\n");
  expect_one_error(analyze("import " + arg(wide) + " --from prulong --model " + arg(kModel) + " --out " + arg(out)),
                   "wide.tsv");
  const fs::path big = write("big.tsv", "1\t1.5\n");
  expect_one_error(analyze("import " + arg(big) + " --from prulong --out " + arg(work_dir() / "big.json")),
                   "big.tsv: the score of layer 0, KV head 1 is 1.500000, not in [0, 1]");
}

TEST(ImportCommand, RetrievalHeadScoresFoldTheirQueryHeadsByTheMaximum) {
  // 3 layers x 8 query heads; KV head k reads query heads 2k and 2k + 1.
  nlohmann::json doc;
  for (int l = 0; l < 3; ++l)
    for (int h = 0; h < 8; ++h) doc[std::to_string(l) + "-" + std::to_string(h)] = {0.0, 0.1 * h * (l + 1) / 3.0};
  const fs::path file = write("heads.json", doc.dump()), out = work_dir() / "rh.json";
  Result r = analyze("import " + arg(file) + " --from retrieval-head --model " + arg(kModel) + " --out " + arg(out));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("each the max of its query heads"), std::string::npos) << r.out;
  const duo::analysis::GateSet g = duo::analysis::load_gates(out);
  ASSERT_EQ(g.gates.size(), 12u);
  for (int l = 0; l < 3; ++l)
    for (int k = 0; k < 4; ++k)  // max over h in {2k, 2k + 1} of the mean 0.05 h (l + 1) / 3
      EXPECT_NEAR(g.gates[l * 4 + k], 0.05 * (2 * k + 1) * (l + 1) / 3.0, 1e-6) << l << " " << k;
  EXPECT_EQ(read_json(out)["fold"], "max");
  EXPECT_EQ(read_json(out)["num_heads"], 8);

  expect_one_error(analyze("import " + arg(file) + " --from retrieval-head --out " + arg(out)),
                   "give --num-kv-heads N or --model DIR");
  expect_one_error(analyze("import " + arg(file) + " --from retrieval-head --num-kv-heads 3 --out " + arg(out)),
                   "its 8 query heads per layer do not divide into 3 KV heads");
  doc.erase("1-5");
  const fs::path gap = write("gap.json", doc.dump());
  expect_one_error(analyze("import " + arg(gap) + " --from retrieval-head --num-kv-heads 4 --out " + arg(out)),
                   "gap.json: holds scores of 23 heads, not of every layer-head of 3 layers x 8 heads");
  const fs::path bad_key = write("key.json", "{\"0-x\": [0.5]}");
  expect_one_error(analyze("import " + arg(bad_key) + " --from retrieval-head --num-kv-heads 1 --out " + arg(out)),
                   "key \"0-x\" is not \"layer-head\"");
}

TEST(HeadScoresFile, RoundTripsAndRefusesWhatIsNotScores) {
  duo::analysis::HeadScores s;
  s.method = "test";
  s.num_layers = 2;
  s.num_kv_heads = 2;
  s.scores = {0.1f, 0.9f, 0.0f, 1.0f};
  s.window = duo::StreamingWindow{16, 64};
  const fs::path p = work_dir() / "rt.json";
  duo::analysis::write_head_scores(p, s);
  ASSERT_TRUE(duo::analysis::is_head_scores_file(p));
  const duo::analysis::GateSet g = duo::analysis::read_head_scores(p);
  EXPECT_EQ(g.gates, s.scores);
  ASSERT_TRUE(g.window.has_value());
  EXPECT_EQ(g.window->sink, 16);
  EXPECT_EQ(g.window->recent, 64);

  nlohmann::json doc = read_json(p);
  doc["scores"][1][0] = -0.5;
  std::ofstream(work_dir() / "neg.json") << doc.dump();
  EXPECT_THROW(duo::analysis::read_head_scores(work_dir() / "neg.json"), duo::Error);
  doc["scores"][1][0] = 0.5;
  doc["schema_version"] = 99;
  std::ofstream(work_dir() / "new.json") << doc.dump();
  EXPECT_THROW(duo::analysis::read_head_scores(work_dir() / "new.json"), duo::Error);
  doc["schema_version"] = 1;
  doc["scores"][1] = {0.5};
  std::ofstream(work_dir() / "short.json") << doc.dump();
  EXPECT_THROW(duo::analysis::read_head_scores(work_dir() / "short.json"), duo::Error);
  EXPECT_FALSE(duo::analysis::is_head_scores_file(write("other.json", "{\"format\": \"duo-attention-pattern\"}")));
}
