// duo_analysis library: pattern selection (count, order, ties, threshold), comparisons, the
// reference TSV reader's strictness, our pattern JSON, convergence, and choosing a history step.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "analysis/compare.h"
#include "analysis/gate_set.h"
#include "analysis/gate_stats.h"
#include "analysis/pattern.h"
#include "analysis/pattern_json.h"
#include "analysis/reference_tsv.h"
#include "synthetic_run.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace duo::analysis;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / "analysis_test_data" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

GateSet final_targets() {
  GateSet g;
  g.num_layers = 3;
  g.num_kv_heads = 4;
  g.num_heads = 8;
  for (int l = 0; l < 3; ++l)
    for (int h = 0; h < 4; ++h) g.gates.push_back(duo::test::target_gate(l, h));
  return g;
}

}  // namespace

TEST(Pattern, SparsityMakesTheSmallestGatesStreaming) {
  const GateSet g = final_targets();  // the 12 values k/11 in shuffled order
  const Pattern p = select_by_sparsity(g, 0.5, 64, 256);
  EXPECT_EQ(p.retrieval_count(), 6);
  EXPECT_DOUBLE_EQ(p.sparsity, 0.5);
  for (int l = 0; l < 3; ++l)
    for (int h = 0; h < 4; ++h)
      EXPECT_EQ(p.is_retrieval(l, h), duo::test::target_gate(l, h) > 0.5f) << l << " " << h;
  ASSERT_TRUE(p.threshold.has_value());
  EXPECT_FLOAT_EQ(static_cast<float>(*p.threshold), 6.0f / 11.0f);  // the smallest retrieval gate
}

TEST(Pattern, StreamingCountIsSparsityTimesHeadsRoundedHalfToEven) {
  const GateSet g = final_targets();
  for (int i = 0; i <= 24; ++i) {
    const double s = i / 24.0;  // includes the halves 0.5, 1.5, ... heads
    const Pattern p = select_by_sparsity(g, s, 64, 256);
    EXPECT_EQ(12 - p.retrieval_count(), static_cast<int>(std::nearbyint(s * 12))) << "sparsity " << s;
  }
  EXPECT_EQ(select_by_sparsity(g, 1.0 / 24, 64, 256).retrieval_count(), 12);  // 0.5 heads -> 0
  EXPECT_EQ(select_by_sparsity(g, 3.0 / 24, 64, 256).retrieval_count(), 10);  // 1.5 heads -> 2
  EXPECT_FALSE(select_by_sparsity(g, 1.0, 64, 256).threshold.has_value());
  EXPECT_EQ(select_by_sparsity(g, 0.0, 64, 256).retrieval_count(), 12);
}

TEST(Pattern, TiesGoToStreamingInLayerThenHeadOrder) {
  GateSet g = final_targets();
  std::fill(g.gates.begin(), g.gates.end(), 0.5f);
  g.gates[0] = 0.9f;  // (0, 0) is clearly a retrieval head
  const Pattern p = select_by_sparsity(g, 0.25, 64, 256);
  // 3 streaming heads among the 11 tied at 0.5: the first three in (layer, head) order after (0,0).
  EXPECT_TRUE(p.is_retrieval(0, 0));
  EXPECT_FALSE(p.is_retrieval(0, 1));
  EXPECT_FALSE(p.is_retrieval(0, 2));
  EXPECT_FALSE(p.is_retrieval(0, 3));
  EXPECT_TRUE(p.is_retrieval(1, 0));
  EXPECT_EQ(p.retrieval_count(), 9);
}

TEST(Pattern, ThresholdKeepsGatesAtOrAboveIt) {
  const GateSet g = final_targets();
  const Pattern p = select_by_threshold(g, 8.0 / 11.0, 32, 128);
  EXPECT_EQ(p.retrieval_count(), 4);  // 8/11, 9/11, 10/11, 11/11
  EXPECT_NEAR(p.sparsity, 8.0 / 12.0, 1e-12);
  EXPECT_EQ(p.sink, 32);
  EXPECT_EQ(p.recent, 128);
  EXPECT_EQ(p.rule, "threshold");
}

TEST(Pattern, SparsityOutsideZeroToOneIsAnError) {
  const GateSet g = final_targets();
  EXPECT_NE(error_of([&] { select_by_sparsity(g, 1.5, 64, 256); }).find("--sparsity 1.5: must be between 0 and 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { select_by_sparsity(g, -0.1, 64, 256); }).find("must be between 0 and 1"), std::string::npos);
  EXPECT_NE(error_of([&] { select_by_sparsity(g, NAN, 64, 256); }).find("must be between 0 and 1"), std::string::npos);
}

TEST(Compare, JaccardAndSpearmanOnKnownValues) {
  EXPECT_DOUBLE_EQ(jaccard({1, 1, 0, 0}, {0, 1, 1, 0}), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(jaccard({0, 0}, {0, 0}), 1.0);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // Ties take their average rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4).
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(4.5 * 5.0), 1e-12);
  EXPECT_DOUBLE_EQ(spearman({1, 1, 1}, {1, 2, 3}), 0.0);
}

TEST(ReferenceTsv, ReadsWhatNumpySavetxtWritesAndRoundTripsFloat32) {
  fs::path dir = fresh_dir("tsv");
  std::ofstream(dir / "a.tsv") << "8.593750000000000000e-01\t-9.250640869140625000e-05\n"
                                  "1.000000000000000000e+00\t+3.3e-01\n";
  GateMatrix m = read_reference_tsv(dir / "a.tsv");
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 2);
  EXPECT_DOUBLE_EQ(m.values[1], -9.250640869140625e-05);
  EXPECT_DOUBLE_EQ(m.values[3], 0.33);

  GateMatrix out{1, 3, {static_cast<float>(1.0 / 3.0), 0.1f, 6.0f / 11.0f}};
  write_reference_tsv(dir / "b.tsv", out);
  GateMatrix back = read_reference_tsv(dir / "b.tsv");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(static_cast<float>(back.values[i]), static_cast<float>(out.values[i]));
}

TEST(ReferenceTsv, RaggedRowsAndNonNumbersAreClearErrors) {
  fs::path dir = fresh_dir("tsv_bad");
  std::ofstream(dir / "ragged.tsv") << "0.1\t0.2\t0.3\t0.4\n0.5\t0.6\t0.7\n";
  EXPECT_EQ(error_of([&] { read_reference_tsv(dir / "ragged.tsv"); }),
            (dir / "ragged.tsv").string() + ": ragged rows: line 2 has 3 values, line 1 has 4");
  std::ofstream(dir / "word.tsv") << "0.1\tabc\n";
  EXPECT_EQ(error_of([&] { read_reference_tsv(dir / "word.tsv"); }),
            (dir / "word.tsv").string() + ": line 1, column 2: 'abc' is not a number");
  std::ofstream(dir / "nan.tsv") << "0.1\tnan\n";
  EXPECT_NE(error_of([&] { read_reference_tsv(dir / "nan.tsv"); }).find("not a finite number"), std::string::npos);
  std::ofstream(dir / "empty.tsv") << "\n";
  EXPECT_NE(error_of([&] { read_reference_tsv(dir / "empty.tsv"); }).find("no gate rows"), std::string::npos);
}

TEST(ReferenceDir, GatesAreClippedLikeTheReferenceLoader) {
  fs::path dir = fresh_dir("refdir");
  std::ofstream(dir / "full_attention_heads.tsv") << "-0.001\t0.5\n1.25\t0.75\n";
  std::ofstream(dir / "config.json") << R"({"sink_size": 128, "recent_size": 256, "model_name": "m"})";
  GateSet g = load_gates(dir);
  EXPECT_EQ(g.kind, "reference");
  EXPECT_EQ(g.model_name, "m");
  EXPECT_EQ(g.num_heads, 0);
  EXPECT_EQ(g.gates, (std::vector<float>{0.0f, 0.5f, 1.0f, 0.75f}));
}

TEST(PatternJson, RoundTripsGatesAndRejectsNewerVersions) {
  fs::path dir = fresh_dir("json");
  GateSet g = final_targets();
  g.model_name = "m";
  write_pattern_json(dir / "p.json", select_by_sparsity(g, 0.25, 64, 256), g);
  GateSet back = read_pattern_json(dir / "p.json");
  EXPECT_EQ(back.gates, g.gates);
  EXPECT_EQ(back.num_heads, 8);
  EXPECT_EQ(back.model_name, "m");

  std::ifstream in(dir / "p.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("\"schema_version\": 1"), 19, "\"schema_version\": 7");
  std::ofstream(dir / "newer.json") << text;
  EXPECT_NE(error_of([&] { read_pattern_json(dir / "newer.json"); }).find("pattern schema version 7 is newer"),
            std::string::npos);
}

TEST(AnalysisHistory, ConvergenceAndStepSelection) {
  fs::path file = fresh_dir("history") / "run.h5";
  duo::test::write_synthetic_run(file, 100);
  duo::HistoryReader history(file);
  const Convergence c = convergence(history, 50);
  EXPECT_EQ(c.window, 50);
  // Gates fall monotonically, so a gate's range over steps 49..99 is g(49) - g(99); the largest
  // belongs to the head with the smallest target.
  double most = 0;
  for (int l = 0; l < 3; ++l)
    for (int h = 0; h < 4; ++h)
      most = std::max(most, static_cast<double>(duo::test::drifting_gate(49, l, h) - duo::test::drifting_gate(99, l, h)));
  EXPECT_NEAR(c.max_change, most, 1e-6);
  EXPECT_EQ(duo::test::target_gate(c.layer, c.kv_head), 0.0f);

  GateSet last = gates_from_history(history, std::nullopt);
  EXPECT_EQ(last.step, 99);
  GateSet early = gates_from_history(history, 10);
  EXPECT_EQ(early.step, 10);
  EXPECT_EQ(early.at(2, 3), duo::test::drifting_gate(10, 2, 3));
  EXPECT_EQ(error_of([&] { gates_from_history(history, 200); }),
            file.string() + ": no step 200 (the history holds steps 0..99)");

  const GateStats s = gate_stats(last.gates);
  EXPECT_EQ(s.near_zero + s.near_one + s.in_between, 12);
  EXPECT_EQ(s.near_zero, 2);  // targets 0 and 1/11
  EXPECT_EQ(s.near_one, 2);   // targets 10/11 and 1
}
