// duo_analysis library: pattern selection (count, order, ties, threshold), the deployment window
// and its overrides, comparisons, the reference TSV reader's strictness and config.json window,
// our pattern JSON (roles, window, rule; old files), convergence, and choosing a history step.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>
#include <nlohmann/json.hpp>

#include "analysis/compare.h"
#include "analysis/gate_set.h"
#include "analysis/gate_stats.h"
#include "analysis/pattern.h"
#include "analysis/pattern_choice.h"
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
  const Pattern p = select_by_sparsity(g, 0.5);
  EXPECT_EQ(p.retrieval_count(), 6);
  EXPECT_DOUBLE_EQ(p.sparsity, 0.5);
  for (int l = 0; l < 3; ++l)
    for (int h = 0; h < 4; ++h)
      EXPECT_EQ(p.is_retrieval(l, h), duo::test::target_gate(l, h) > 0.5f) << l << " " << h;
  ASSERT_TRUE(p.threshold.has_value());
  EXPECT_FLOAT_EQ(static_cast<float>(*p.threshold), 6.0f / 11.0f);  // the smallest retrieval gate
}

// Streaming heads keep sink + recent tokens of every context longer than that: at sparsity 0.5
// and a 64 + 256 window, 4096 tokens save half of 1 − 320/4096; contexts within the window save
// nothing.
TEST(Pattern, KvCacheSavedCountsTheStreamingHeadsWindow) {
  Pattern p = select_by_sparsity(final_targets(), 0.5);
  p.window = {64, 256, duo::StreamingGranularity::token, 128};
  EXPECT_DOUBLE_EQ(p.kv_cache_saved(4096), 0.5 * (1 - 320.0 / 4096));
  EXPECT_DOUBLE_EQ(p.kv_cache_saved(320), 0.0);
  EXPECT_DOUBLE_EQ(select_by_sparsity(final_targets(), 0.0).kv_cache_saved(4096), 0.0);
  EXPECT_EQ(describe_kv_cache_saved(p), "KV cache saved: 46.1% at 4K tokens, 49.5% at 32K, 49.9% at 128K");
}

TEST(Pattern, StreamingCountIsSparsityTimesHeadsRoundedHalfToEven) {
  const GateSet g = final_targets();
  for (int i = 0; i <= 24; ++i) {
    const double s = i / 24.0;  // includes the halves 0.5, 1.5, ... heads
    const Pattern p = select_by_sparsity(g, s);
    EXPECT_EQ(12 - p.retrieval_count(), static_cast<int>(std::nearbyint(s * 12))) << "sparsity " << s;
  }
  EXPECT_EQ(select_by_sparsity(g, 1.0 / 24).retrieval_count(), 12);  // 0.5 heads -> 0
  EXPECT_EQ(select_by_sparsity(g, 3.0 / 24).retrieval_count(), 10);  // 1.5 heads -> 2
  EXPECT_FALSE(select_by_sparsity(g, 1.0).threshold.has_value());
  EXPECT_EQ(select_by_sparsity(g, 0.0).retrieval_count(), 12);
}

TEST(Pattern, TiesGoToStreamingInLayerThenHeadOrder) {
  GateSet g = final_targets();
  std::fill(g.gates.begin(), g.gates.end(), 0.5f);
  g.gates[0] = 0.9f;  // (0, 0) is clearly a retrieval head
  const Pattern p = select_by_sparsity(g, 0.25);
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
  const Pattern p = select_by_threshold(g, 8.0 / 11.0);
  EXPECT_EQ(p.retrieval_count(), 4);  // 8/11, 9/11, 10/11, 11/11
  EXPECT_NEAR(p.sparsity, 8.0 / 12.0, 1e-12);
  EXPECT_EQ(p.rule, "threshold");
}

TEST(Pattern, DeploysTheTrainedWindowUnlessOverridden) {
  GateSet g = final_targets();
  // Nothing recorded: the paper's deployment window, and it says so.
  Pattern p = select_by_sparsity(g, 0.5);
  EXPECT_EQ(p.window, (duo::StreamingWindow{64, 256}));
  EXPECT_EQ(p.window_source, "default");
  EXPECT_FALSE(p.trained_window.has_value());
  EXPECT_EQ(describe_window(p), "sink 64 + recent 256 (default: no trained window recorded, so the paper's deployment window)");

  g.window = duo::StreamingWindow{128, 256};
  p = select_by_threshold(g, 0.5);
  EXPECT_EQ(p.window, (duo::StreamingWindow{128, 256}));
  EXPECT_EQ(p.window_source, "trained");
  EXPECT_EQ(describe_window(p), "sink 128 + recent 256 (trained)");

  override_window(p, {.sink = 64});
  EXPECT_EQ(p.window, (duo::StreamingWindow{64, 256}));
  EXPECT_EQ(p.window_source, "override");
  EXPECT_EQ(p.trained_window, (duo::StreamingWindow{128, 256}));
  EXPECT_EQ(describe_window(p), "sink 64 + recent 256 (override; trained with sink 128 + recent 256)");
  override_window(p, {.sink = 128});  // naming the trained sizes again is no override
  EXPECT_EQ(p.window_source, "trained");
  override_window(p, {});
  EXPECT_EQ(p.window_source, "trained");
  EXPECT_EQ(error_of([&] { override_window(p, {.recent = -1}); }), "--recent -1: expected an integer in [0, 16777216]");
}

TEST(Pattern, SparsityOutsideZeroToOneIsAnError) {
  const GateSet g = final_targets();
  EXPECT_NE(error_of([&] { select_by_sparsity(g, 1.5); }).find("--sparsity 1.5: must be between 0 and 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { select_by_sparsity(g, -0.1); }).find("must be between 0 and 1"), std::string::npos);
  EXPECT_NE(error_of([&] { select_by_sparsity(g, NAN); }).find("must be between 0 and 1"), std::string::npos);
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
  // One sign at most: numpy.loadtxt refuses "+-0.5", which the '+' skipped for from_chars let through.
  std::ofstream(dir / "signs.tsv") << "0.1\t+-0.5\n";
  EXPECT_EQ(error_of([&] { read_reference_tsv(dir / "signs.tsv"); }),
            (dir / "signs.tsv").string() + ": line 1, column 2: '+-0.5' is not a number");
  std::ofstream(dir / "plus.tsv") << "+0.5\t+.25\n";
  EXPECT_EQ(read_reference_tsv(dir / "plus.tsv").values, (std::vector<double>{0.5, 0.25}));
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
  EXPECT_EQ(g.window, (duo::StreamingWindow{128, 256}));
}

TEST(ReferenceDir, WindowIsWhatConfigJsonRecords) {
  fs::path dir = fresh_dir("refdir_window");
  std::ofstream(dir / "full_attention_heads.tsv") << "0.1\t0.9\n";
  EXPECT_FALSE(load_gates(dir).window.has_value());  // no config.json
  std::ofstream(dir / "config.json") << R"({"model_name": "m"})";
  EXPECT_FALSE(load_gates(dir).window.has_value());
  std::ofstream(dir / "config.json") << R"({"sink_size": 16})";
  EXPECT_EQ(error_of([&] { load_gates(dir); }), (dir / "config.json").string() + ": has sink_size but no recent_size");
  std::ofstream(dir / "config.json") << R"({"sink_size": 16, "recent_size": "many"})";
  EXPECT_EQ(error_of([&] { load_gates(dir); }),
            (dir / "config.json").string() + ": recent_size must be an integer in [0, 16777216]");
  std::ofstream(dir / "config.json") << R"({"sink_size": 1000000000000, "recent_size": 256})";
  EXPECT_EQ(error_of([&] { load_gates(dir); }),
            (dir / "config.json").string() + ": sink_size must be an integer in [0, 16777216]");
  std::ofstream(dir / "config.json") << R"({"num_heads": 4294967296})";
  EXPECT_EQ(error_of([&] { load_gates(dir); }),
            (dir / "config.json").string() + ": num_heads must be a positive integer, got 4294967296");
}

TEST(PatternJson, RoundTripsRolesWindowAndRuleAndRejectsNewerVersions) {
  fs::path dir = fresh_dir("json");
  GateSet g = final_targets();
  g.model_name = "m";
  g.window = duo::StreamingWindow{128, 256};
  Pattern p = select_by_sparsity(g, 0.25);
  // Roles no rule would give from these gates: the largest gate made streaming, the smallest kept.
  const auto largest = std::max_element(g.gates.begin(), g.gates.end()) - g.gates.begin();
  const auto smallest = std::min_element(g.gates.begin(), g.gates.end()) - g.gates.begin();
  p.retrieval[largest] = 0;
  p.retrieval[smallest] = 1;
  override_window(p, {.sink = 32});
  write_pattern_json(dir / "p.json", p, g);

  const PatternFile back = read_pattern_json(dir / "p.json");
  EXPECT_EQ(back.gates.gates, g.gates);
  EXPECT_EQ(back.gates.num_heads, 8);
  EXPECT_EQ(back.gates.model_name, "m");
  EXPECT_EQ(back.gates.window, (duo::StreamingWindow{32, 256}));
  EXPECT_EQ(back.pattern.retrieval, p.retrieval);
  EXPECT_EQ(back.pattern.gates, g.gates);
  EXPECT_EQ(back.pattern.window, (duo::StreamingWindow{32, 256}));
  EXPECT_EQ(back.pattern.window_source, "override");
  EXPECT_EQ(back.pattern.trained_window, (duo::StreamingWindow{128, 256}));
  EXPECT_EQ(back.pattern.rule, "sparsity");
  EXPECT_EQ(back.pattern.requested_sparsity, 0.25);
  EXPECT_EQ(back.pattern.threshold, p.threshold);
  EXPECT_DOUBLE_EQ(back.pattern.sparsity, 0.25);

  // A pattern file is used as it is; --sparsity re-selects from its gates, the window stays.
  const Input in = load_input(dir / "p.json");
  EXPECT_EQ(choose_pattern(in, {}).retrieval, p.retrieval);
  const Pattern again = choose_pattern(in, {.sparsity = 0.25});
  EXPECT_EQ(again.retrieval, select_by_sparsity(g, 0.25).retrieval);
  EXPECT_EQ(again.window_source, "override");
  EXPECT_EQ(again.trained_window, (duo::StreamingWindow{128, 256}));
  EXPECT_EQ(choose_pattern(in, {.window = {.sink = 128}}).window_source, "trained");

  const Pattern t = select_by_threshold(g, 0.5);
  write_pattern_json(dir / "t.json", t, g);
  const PatternFile tb = read_pattern_json(dir / "t.json");
  EXPECT_EQ(tb.pattern.rule, "threshold");
  EXPECT_EQ(tb.pattern.threshold, 0.5);
  EXPECT_FALSE(tb.pattern.requested_sparsity.has_value());
  EXPECT_EQ(tb.pattern.window_source, "trained");
  EXPECT_EQ(tb.pattern.trained_window, (duo::StreamingWindow{128, 256}));

  std::ifstream in_file(dir / "p.json");
  std::string text((std::istreambuf_iterator<char>(in_file)), std::istreambuf_iterator<char>());
  std::string newer = text;
  newer.replace(newer.find("\"schema_version\": 1"), 19, "\"schema_version\": 7");
  std::ofstream(dir / "newer.json") << newer;
  EXPECT_NE(error_of([&] { read_pattern_json(dir / "newer.json"); }).find("pattern schema version 7 is newer"),
            std::string::npos);
  std::string bad_role = text;
  bad_role.replace(bad_role.find("\"role\": \"streaming\""), 20, "\"role\": \"sleeping\"");
  std::ofstream(dir / "bad_role.json") << bad_role;
  EXPECT_NE(error_of([&] { read_pattern_json(dir / "bad_role.json"); }).find("neither \"retrieval\" nor \"streaming\""),
            std::string::npos);
}

// Files written before the window's source was recorded: version 1 all the same, read as they are.
TEST(PatternJson, ReadsFilesWithoutAWindowSource) {
  fs::path dir = fresh_dir("json_old");
  const GateSet g = final_targets();
  write_pattern_json(dir / "p.json", select_by_sparsity(g, 0.5), g);
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "p.json"));
  doc.erase("window_source");
  doc.erase("trained_window");
  std::ofstream(dir / "default.json") << doc.dump();
  doc["sink"] = 4;
  std::ofstream(dir / "chosen.json") << doc.dump();

  const PatternFile a = read_pattern_json(dir / "default.json");
  EXPECT_EQ(a.pattern.window, (duo::StreamingWindow{64, 256}));
  EXPECT_EQ(a.pattern.window_source, "default");
  EXPECT_EQ(a.pattern.retrieval, select_by_sparsity(g, 0.5).retrieval);
  const PatternFile b = read_pattern_json(dir / "chosen.json");
  EXPECT_EQ(b.pattern.window, (duo::StreamingWindow{4, 256}));
  EXPECT_EQ(b.pattern.window_source, "override");
  EXPECT_FALSE(b.pattern.trained_window.has_value());
}

// Gates outside [0, 1] (which neither duo-train nor the reference loader can leave) are refused,
// naming the file and the head (JSON holds no NaN or infinity; 1e300 would be one as a float).
TEST(PatternJson, GatesOutsideZeroToOneAreRefusedNamingTheHead) {
  fs::path dir = fresh_dir("json_gates");
  const GateSet g = final_targets();
  write_pattern_json(dir / "p.json", select_by_sparsity(g, 0.5), g);
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "p.json"));
  ASSERT_EQ(doc["heads"][4]["layer"], 1);
  ASSERT_EQ(doc["heads"][4]["kv_head"], 0);
  doc["heads"][4]["gate"] = 0.123456;
  const std::string text = doc.dump();
  for (const auto& [bad, shown] : std::vector<std::pair<std::string, std::string>>{
           {"7.5", "7.5"}, {"-2", "-2"}, {"1e300", "1e+300"}, {"1.0000001", "1.0000001"}}) {
    std::string edited = text;
    edited.replace(edited.find("0.123456"), 8, bad);
    std::ofstream(dir / "bad.json") << edited;
    EXPECT_EQ(error_of([&] { read_pattern_json(dir / "bad.json"); }),
              (dir / "bad.json").string() + ": head (layer 1, kv_head 0) has gate " + shown + ", not in [0, 1]")
        << bad;
  }
}

// Window sizes: integers in [0, 2^24], in a pattern JSON and as --sink/--recent (1e12 was taken).
TEST(PatternJson, WindowSizesMustBeIntegersInRange) {
  fs::path dir = fresh_dir("json_window");
  const GateSet g = final_targets();
  write_pattern_json(dir / "p.json", select_by_sparsity(g, 0.5), g);
  const nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "p.json"));
  for (const auto& [key, value, shown] : std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
           {"sink", 1000000000000, "1000000000000"}, {"sink", 2.5, "2.5"}, {"recent", -1, "-1"}}) {
    nlohmann::json edited = doc;
    edited[key] = value;
    std::ofstream(dir / "bad.json") << edited.dump();
    EXPECT_EQ(error_of([&] { read_pattern_json(dir / "bad.json"); }),
              (dir / "bad.json").string() + ": " + key + " is " + shown + ", not an integer in [0, 16777216]");
  }
  Pattern p = select_by_sparsity(g, 0.5);
  EXPECT_EQ(error_of([&] { override_window(p, {.sink = 1000000000000}); }),
            "--sink 1000000000000: expected an integer in [0, 16777216]");
  EXPECT_EQ(error_of([&] { override_window(p, {.recent = -1}); }), "--recent -1: expected an integer in [0, 16777216]");
}

// Counts and head indices are JSON integers in range (a float was cast to an int, a huge
// num_layers sized an allocation before "heads" was looked at, found by fuzz/pattern_json).
TEST(PatternJson, CountsAndHeadIndicesMustBeIntegersInRange) {
  fs::path dir = fresh_dir("json_counts");
  const GateSet g = final_targets();
  write_pattern_json(dir / "p.json", select_by_sparsity(g, 0.5), g);
  const nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "p.json"));
  const std::string file = (dir / "bad.json").string();
  auto error_with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json edited = doc;
    edit(edited);
    std::ofstream(dir / "bad.json") << edited.dump();
    return error_of([&] { read_pattern_json(dir / "bad.json"); });
  };
  EXPECT_EQ(error_with([](auto& d) { d["num_kv_heads"] = 0; }), file + ": num_kv_heads is 0, not an integer in [1, 2147483647]");
  EXPECT_EQ(error_with([](auto& d) { d["num_layers"] = 1e300; }),
            file + ": num_layers is 1e+300, not an integer in [1, 2147483647]");
  EXPECT_EQ(error_with([](auto& d) { d["schema_version"] = 1.5; }),
            file + ": schema_version is 1.5, not an integer in [1, 2147483647]");
  EXPECT_EQ(error_with([](auto& d) { d["num_layers"] = 2147483647; }),
            file + ": \"heads\" must list num_layers x num_kv_heads = " + std::to_string(2147483647LL * g.num_kv_heads) +
                " heads, not " + std::to_string(g.count()));
  EXPECT_EQ(error_with([](auto& d) { d["num_heads"] = 6; }),
            file + ": num_heads (" + std::to_string(6) + ") is not a multiple of num_kv_heads (4)");
  EXPECT_EQ(error_with([](auto& d) { d["heads"][3]["layer"] = 0.5; }), file + ": head (layer 0.5, kv_head 3) is out of range");
  EXPECT_EQ(error_with([](auto& d) { d["requested_sparsity"] = -0.5; }), file + ": requested_sparsity is -0.5, not in [0, 1]");
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
