// The sweep over evaluation tasks (RULER's synthetic tasks, instruction retention) on the built-in
// models/tiny: the --task list, the decoded answer scored by the task's metric, the rows and the
// score tables of a short sweep, RULER's average, and a resume that recomputes nothing while new
// tasks only add their cells.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "analysis/sweep.h"
#include "analysis/sweep_scores.h"
#include "analysis/sweep_tasks.h"
#include "synth/eval_task.h"
#include "synth/instructions.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "sweep_test_util.h"

namespace fs = std::filesystem;

namespace duo::analysis {
namespace {

using sweep_test::env;
using sweep_test::error_of;
using sweep_test::read_text;
using sweep_test::scratch;

fs::path tiny_model() { return fs::path(env("DUO_SOURCE_DIR")) / "models/tiny"; }

TEST(SweepTasks, ParsesFamiliesQualifiedAndBareNames) {
  const auto ruler = parse_sweep_tasks("ruler");
  ASSERT_EQ(ruler.size(), 11u);
  EXPECT_EQ(ruler.front(), "ruler:niah_single_1");
  EXPECT_EQ(ruler.back(), "ruler:fwe");
  EXPECT_EQ(parse_sweep_tasks("ruler:vt,cwe"), (std::vector<std::string>{"ruler:vt", "ruler:cwe"}));
  EXPECT_EQ(parse_sweep_tasks("passkey,retention,vt,passkey"),
            (std::vector<std::string>{"passkey", "retention:instructions", "retention:system_prompt", "ruler:vt"}));
  // "niah" is the depth-grid task, not one of RULER's.
  EXPECT_EQ(parse_sweep_tasks("niah"), std::vector<std::string>{"niah"});
  EXPECT_EQ(parse_sweep_tasks("ruler,ruler:vt").size(), 11u);
  EXPECT_TRUE(is_grid_task("passkey"));
  EXPECT_FALSE(is_grid_task("ruler:niah_single_1"));
  EXPECT_TRUE(is_ruler_task("ruler:cwe"));
  EXPECT_FALSE(is_ruler_task("retention:instructions"));
  const std::string unknown = error_of([] { parse_sweep_tasks("passkey,qa_1"); });
  EXPECT_NE(unknown.find("--task: unknown task 'qa_1'; the tasks are passkey, niah, ruler, retention, ruler:niah_single_1"),
            std::string::npos)
      << unknown;
  EXPECT_NE(error_of([] { parse_sweep_tasks(","); }).find("no task given"), std::string::npos);
}

// The greedy answer's ids are decoded with the model's tokenizer (special tokens dropped) and scored
// by the sample's metric: string_match_all gives the fraction of references found.
TEST(SweepTasks, TheDecodedAnswerIsScoredByTheTasksMetric) {
  const Tokenizer tokenizer = Tokenizer::from_dir(tiny_model());
  synth::EvalConfig c;
  c.task = "ruler:niah_multivalue";
  const synth::EvalGenerator generator(c, tokenizer);
  const synth::EvalSample s = generator.sample(0, 1024);
  ASSERT_EQ(s.metric, "string_match_all");
  ASSERT_EQ(s.answers.size(), 4u);
  auto ids = [&](const std::string& text) {
    const auto encoded = tokenizer.encode(text, /*add_special_tokens=*/false);
    std::vector<int64_t> out(encoded.begin(), encoded.end());
    out.push_back(257);  // the tiny model's EOS, as greedy decoding leaves it
    return out;
  };
  EXPECT_DOUBLE_EQ(score_answer(s, ids(" " + s.answers[0] + ", " + s.answers[1] + "."), tokenizer), 0.5);
  EXPECT_DOUBLE_EQ(
      score_answer(s, ids(" " + s.answers[3] + ", " + s.answers[2] + ", " + s.answers[1] + ", " + s.answers[0]), tokenizer),
      1.0);
  EXPECT_DOUBLE_EQ(score_answer(s, ids(" the LORD spake unto Moses"), tokenizer), 0.0);

  // Retention: the fraction of the sample's instructions the answer follows.
  c.task = "retention:instructions";
  const synth::EvalSample r = synth::EvalGenerator(c, tokenizer).sample(0, 1024);
  ASSERT_EQ(r.metric, "instructions");
  const std::string answer = " WELL, THE ANSWER IS 42 AND NOTHING ELSE.";
  EXPECT_DOUBLE_EQ(score_answer(r, ids(answer), tokenizer), synth::instruction_score(r.instructions, answer));
}

// The gates duo-train finds on models/tiny (experiments/tiny-validation.md): layer 5 KV head 1 and
// layer 0 KV head 0 highest.
GateSet tiny_gates() {
  GateSet g;
  g.source = "tiny-validation";
  g.kind = "pattern";
  g.num_layers = 6;
  g.num_kv_heads = 2;
  g.num_heads = 8;
  g.gates = {0.84f, 0.05f, 0.10f, 0.69f, 0.06f, 0.12f, 0.03f, 0.15f, 0.07f, 0.04f, 0.09f, 0.998f};
  return g;
}

SweepOptions ruler_options(const fs::path& out) {
  SweepOptions o;
  o.model = tiny_model();
  o.tasks = {"passkey", "ruler:niah_single_1", "ruler:vt"};
  o.sparsities = {0, 0.5, 1};
  o.lengths = {1400};
  o.depths = {0.5};
  o.random_seeds = 1;
  o.window = StreamingWindow{64, 256};
  o.chunk = 512;
  o.dtype = "fp32";
  o.device = "cpu";
  o.out = out;
  return o;
}

TEST(RulerSweep, ScoresEveryTaskPatternAndLengthAndResumesWithoutRecomputing) {
  const auto out = scratch("ruler");
  auto o = ruler_options(out);
  const auto rows = run_sweep(tiny_gates(), o);
  // 3 tasks (passkey at one depth) x (duo at 0, 0.5, 1 + one random seed at 0.5) x 1 length.
  ASSERT_EQ(rows.size(), 12u);
  std::set<std::tuple<std::string, std::string, double>> cells;
  std::map<std::pair<std::string, double>, double> duo_score;  // task, sparsity
  for (const auto& r : rows) {
    cells.insert({r.task, r.method, r.sparsity});
    EXPECT_GE(r.score, 0) << r.task;
    EXPECT_LE(r.score, 1) << r.task;
    EXPECT_EQ(r.depth, is_grid_task(r.task) ? 0.5 : kTaskOwnDepth) << r.task;
    if (!is_grid_task(r.task)) {
      EXPECT_EQ(r.exact, r.score == 1 ? 1 : 0);
      EXPECT_EQ(r.overlap, r.score);
    }
    if (r.method == "duo") duo_score[{r.task, r.sparsity}] = r.score;
  }
  EXPECT_EQ(cells.size(), 12u) << "a cell ran twice";
  // Full attention at least as good as every head streaming on each task; the tiny model does
  // retrieve the passkey (models/tiny/README.md), so that comparison is not 0 >= 0.
  auto score_of = [&](const std::string& task, double sparsity) { return duo_score[{task, sparsity}]; };
  for (const std::string& task : o.tasks) EXPECT_GE(score_of(task, 0), score_of(task, 1)) << task;
  EXPECT_GT(score_of("passkey", 0), 0);

  // The tables: each task's score is its rows' mean, RULER's average the mean of its two tasks'.
  const auto per_task = task_scores(rows);
  EXPECT_EQ(per_task.size(), 12u);
  const auto averages = ruler_averages(per_task);
  ASSERT_EQ(averages.size(), 4u);  // one per pattern: passkey does not count
  for (const auto& a : averages) {
    EXPECT_EQ(a.task, kRulerAverage);
    EXPECT_EQ(a.count, 2);
    double sum = 0;
    for (const auto& r : rows)
      if (is_ruler_task(r.task) && r.method == a.method && r.seed == a.seed && r.sparsity == a.sparsity) sum += r.score;
    EXPECT_DOUBLE_EQ(a.score, sum / 2) << a.method << " " << a.sparsity;
  }
  // The decoded answers are kept beside the scores, one line per evaluation cell.
  const std::string said = read_text(out / "predictions.jsonl");
  EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 8);
  EXPECT_NE(said.find("\"task\":\"ruler:vt\""), std::string::npos);

  // Resumed: nothing is recomputed.
  const std::string csv = read_text(out / "results.csv");
  EXPECT_EQ(run_sweep(tiny_gates(), o).size(), 12u);
  EXPECT_EQ(read_text(out / "results.csv"), csv);
  EXPECT_EQ(read_text(out / "predictions.jsonl"), said);

  // Another task only adds its cells; the finished ones are kept as they were.
  o.tasks.push_back("ruler:fwe");
  const auto more = run_sweep(tiny_gates(), o);
  ASSERT_EQ(more.size(), 16u);
  EXPECT_EQ(read_text(out / "results.csv").substr(0, csv.size()), csv);
  for (size_t i = 12; i < more.size(); ++i) EXPECT_EQ(more[i].task, "ruler:fwe");
  EXPECT_EQ(ruler_averages(task_scores(more)).front().count, 3);
}

// Lengths an evaluation task cannot use are refused before the output directory is made: too
// short for its fixed text, or too long for its answer to fit the model's positions.
TEST(RulerSweep, LengthsATaskCannotUseAreRefusedFirst) {
  const auto dir = scratch("lengths");
  auto o = ruler_options(dir / "never");
  o.tasks = {"ruler:vt"};
  o.lengths = {1000};
  const std::string short_error = error_of([&] { run_sweep(tiny_gates(), o); });
  EXPECT_NE(short_error.find("--task ruler:vt at --lengths 1000: ruler:vt: a prompt of 1000 tokens is too short"),
            std::string::npos)
      << short_error;
  o.tasks = {"ruler:niah_single_1"};
  o.lengths = {4000};
  EXPECT_EQ(error_of([&] { run_sweep(tiny_gates(), o); }),
            "--lengths: 4000 tokens and the 128 tokens ruler:niah_single_1 generates exceed the model's "
            "max_position_embeddings (4096, " + (tiny_model() / "config.json").string() + ")");
  EXPECT_FALSE(fs::exists(o.out));
}

int run(const std::string& command) { return std::system(command.c_str()); }

TEST(RulerSweepCommand, WritesTheScoreTablesAndTheirFigures) {
  const auto out = scratch("cli");
  const auto ref = out.parent_path() / "reference";
  fs::create_directories(ref);
  std::ofstream(ref / "full_attention_heads.tsv") << "0.84\t0.05\n0.10\t0.69\n0.06\t0.12\n0.03\t0.15\n0.07\t0.04\n0.09\t0.998\n";
  std::ofstream(ref / "config.json") << R"({"sink_size": 64, "recent_size": 256})";
  const auto log = out.parent_path() / "log.txt";
  ASSERT_EQ(run(env("DUO_BIN_DIR") + "/duo-analyze sweep --model " + tiny_model().string() + " --gates " + ref.string() +
                " --out " + out.string() +
                " --task passkey,ruler:niah_single_1 --sparsities 0,1 --lengths 1400 --depths 0.5 --chunk 512"
                " --dtype fp32 --device cpu > " + log.string() + " 2>&1"),
            0)
      << read_text(log);
  const std::string text = read_text(log);
  // The closing table: a line per task and length, and one for RULER's average, full attention
  // and all-streaming columns.
  auto line_of = [&](const std::string& start) {
    const size_t at = text.find("\n" + start);
    return at == std::string::npos ? std::string() : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(line_of("task (score in [0, 1])").find("full    stream"), std::string::npos) << text;
  EXPECT_NE(line_of("ruler:niah_single_1 ").find(" 1400 "), std::string::npos) << text;
  EXPECT_NE(line_of("ruler average ").find(" 1400 "), std::string::npos) << text;
  // passkey and niah_single_1 at 2 sparsities: 4 rows.
  EXPECT_EQ(run(env("DUO_PYTHON") + " " + env("DUO_SOURCE_DIR") + "/tests/sweep/check_sweep_outputs.py " +
                out.string() + " 4"),
            0);
}

}  // namespace
}  // namespace duo::analysis
