// TrainConfig: the shipped configs load, defaults are the reference values, bad files and bad
// --set values fail with messages naming the file, line and key path, and to_yaml round-trips.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "train/config.h"
#include "util/error.h"

namespace fs = std::filesystem;
using duo::TrainConfig;

namespace {

fs::path source_dir() { return std::getenv("DUO_SOURCE_DIR"); }  // set by tests/test_main.cpp

// Writes `text` to a file of its own and returns the path.
fs::path write_file(const std::string& name, const std::string& text) {
  const fs::path dir = fs::path(testing::TempDir()) / "duo_config_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The message of the duo::Error that loading `text` throws ("" when it loads).
std::string load_error(const std::string& name, const std::string& text) {
  const fs::path path = write_file(name, text);
  try {
    TrainConfig::load(path);
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

std::string override_error(const std::string& assignment) {
  TrainConfig c;
  try {
    c.apply_override(assignment);
  } catch (const duo::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

}  // namespace

TEST(TrainConfig, DefaultsAreTheReferenceValues) {
  const TrainConfig c;
  EXPECT_EQ(c.data.num_passkeys, 10);
  EXPECT_EQ(c.data.passkey_words, 32);
  ASSERT_EQ(c.data.word_list.size(), 26u);
  EXPECT_EQ(c.data.word_list.front(), "alpha");
  EXPECT_EQ(c.data.word_list.back(), "zulu");
  EXPECT_DOUBLE_EQ(c.data.depth_min, 0.05);
  EXPECT_DOUBLE_EQ(c.data.depth_max, 0.95);
  EXPECT_EQ(c.data.context_min, 2600);  // the reference's 1000 haystack tokens + its ~1,600 others
  EXPECT_EQ(c.data.context_max, 32000);
  EXPECT_EQ(c.data.context_count, 50);
  EXPECT_DOUBLE_EQ(c.gates.init, 1.0);
  EXPECT_EQ(c.streaming.sink, 128);
  EXPECT_EQ(c.streaming.recent, 256);
  EXPECT_EQ(c.streaming.block_size, 128);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(c.optim.reg_weight, 0.05);
  EXPECT_DOUBLE_EQ(c.optim.warmup_frac, 0.2);
  EXPECT_DOUBLE_EQ(c.optim.decay_frac, 0.2);
  EXPECT_DOUBLE_EQ(c.optim.min_lr_ratio, 0.1);
  EXPECT_EQ(c.run.steps, 2000);
  EXPECT_EQ(c.run.batch, 1);
  EXPECT_TRUE(c.run.activation_checkpointing);
  EXPECT_EQ(c.model.dtype, duo::Dtype::bf16);
}

TEST(TrainConfig, EveryShippedConfigLoadsAndRoundTrips) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(source_dir() / "configs")) {
    // pretrain-*.yaml configure duo-pretrain, not duo-train (tested in tests/pretrain).
    if (entry.path().extension() != ".yaml" || entry.path().filename().string().rfind("pretrain-", 0) == 0)
      continue;
    SCOPED_TRACE(entry.path().string());
    const TrainConfig c = TrainConfig::load(entry.path());
    EXPECT_FALSE(c.model.path.empty());
    EXPECT_EQ(TrainConfig::parse(c.to_yaml(), "round trip"), c);
    ++count;
  }
  EXPECT_GE(count, 6);
}

TEST(TrainConfig, ShippedModelConfigsKeepTheReferenceMethod) {
  for (const char* name : {"llama3-8b", "llama3.1-8b", "llama2-7b-32k", "mistral-7b", "qwen2.5-7b"}) {
    SCOPED_TRACE(name);
    const TrainConfig c = TrainConfig::load(source_dir() / "configs" / (std::string(name) + ".yaml"));
    TrainConfig expected;  // the reference values, but for where the model and the run live
    expected.model.path = c.model.path;
    expected.run.out = c.run.out;
    expected.data.context_max = c.data.context_max;
    EXPECT_EQ(c, expected);
    EXPECT_TRUE(c.data.context_max == 32000 || c.data.context_max == 128000);
  }
}

TEST(TrainConfig, EmptyFileGivesDefaults) {
  EXPECT_EQ(TrainConfig::load(write_file("empty.yaml", "")), TrainConfig());
}

TEST(TrainConfig, UnknownKeyNamesFileLineAndKeyPath) {
  const std::string e = load_error("unknown.yaml", "optim:\n  lr: 0.01\n  lrr: 0.1\n");
  EXPECT_CONTAINS(e, "unknown.yaml:3:");
  EXPECT_CONTAINS(e, "optim.lrr: unknown key");
  EXPECT_CONTAINS(e, "optim has lr, weight_decay");
}

TEST(TrainConfig, UnknownSectionIsAnError) {
  const std::string e = load_error("section.yaml", "optimizer:\n  lr: 0.01\n");
  EXPECT_CONTAINS(e, "section.yaml:1: optimizer: unknown key");
  EXPECT_CONTAINS(e, "the sections are model, data, gates, streaming, optim, run; did you mean optim?");
}

TEST(TrainConfig, WrongTypesNameWhatWasExpected) {
  EXPECT_CONTAINS(load_error("t1.yaml", "optim:\n  lr: fast\n"),
                  "t1.yaml:2: optim.lr: expected a number > 0.0, got 'fast'");
  EXPECT_CONTAINS(load_error("t2.yaml", "run:\n  steps: 20.5\n"),
                  "t2.yaml:2: run.steps: expected an integer in [1, 1000000000], got '20.5'");
  EXPECT_CONTAINS(load_error("t3.yaml", "run:\n  activation_checkpointing: maybe\n"),
                  "run.activation_checkpointing: expected true or false, got 'maybe'");
  EXPECT_CONTAINS(load_error("t4.yaml", "data:\n  haystack: book.txt\n"),
                  "data.haystack: expected a list of paths, got 'book.txt'");
  EXPECT_CONTAINS(load_error("t5.yaml", "data:\n  word_list: [a, [b]]\n"),
                  "data.word_list[1]: expected a non-empty string, got a list");
  EXPECT_CONTAINS(load_error("t6.yaml", "model:\n  dtype: bf17\n"),
                  "model.dtype: expected one of bf16, fp16, fp32, got 'bf17'");
  EXPECT_CONTAINS(load_error("t7.yaml", "optim: 0.02\n"), "optim: expected a mapping of keys");
  EXPECT_CONTAINS(load_error("t8.yaml", "- a\n- b\n"), "t8.yaml: expected a mapping of sections");
  EXPECT_CONTAINS(load_error("t9.yaml", "model:\n  path: [a, b]\n"),
                  "model.path: expected a string, got a list");
}

// Text that is not UTF-8 named another file than the one meant and did not survive to_yaml
// (found by fuzz/train_config): a raw byte, or yaml-cpp's one-byte reading of the escape \N.
TEST(TrainConfig, TextMustBeUtf8) {
  EXPECT_CONTAINS(load_error("u1.yaml", "model:\n  path: models/ti\xffny\n"), "u1.yaml: not UTF-8 (invalid byte at offset 24)");
  EXPECT_CONTAINS(load_error("u2.yaml", "data:\n  separator: \"\\N\"\n"),
                  "u2.yaml:2: data.separator: expected a string, got text that is not UTF-8");
  EXPECT_CONTAINS(override_error("data.word_list=[\"\\_\"]"), "data.word_list[0]: expected a non-empty string, got text that is not UTF-8");
  EXPECT_EQ(load_error("u3.yaml", "data:\n  separator: \"\\u00e9\\x85\"\n"), "");  // escapes of code points are fine
}

TEST(TrainConfig, OutOfRangeValuesAreErrors) {
  EXPECT_CONTAINS(load_error("r1.yaml", "optim:\n  lr: -0.5\n"),
                  "r1.yaml:2: optim.lr: expected a number > 0.0, got -0.5");
  EXPECT_CONTAINS(load_error("r2.yaml", "gates:\n  init: 1.5\n"),
                  "gates.init: expected a number in [0.0, 1.0], got 1.5");
  EXPECT_CONTAINS(load_error("r3.yaml", "run:\n  steps: 0\n"),
                  "run.steps: expected an integer in [1, 1000000000], got 0");
  EXPECT_CONTAINS(load_error("r4.yaml", "model:\n  seed: -1\n"), "model.seed: expected an integer");
  EXPECT_CONTAINS(load_error("r5.yaml", "data:\n  word_list: []\n"),
                  "data.word_list: expected a non-empty list of strings, got []");
}

TEST(TrainConfig, InconsistentKeysAreErrors) {
  EXPECT_CONTAINS(load_error("c1.yaml", "data:\n  depth_min: 0.9\n  depth_max: 0.5\n"),
                  "c1.yaml: data.depth_min: must not exceed data.depth_max");
  EXPECT_CONTAINS(load_error("c2.yaml", "data:\n  context_min: 5000\n  context_max: 4000\n"),
                  "data.context_min: must not exceed data.context_max");
  {
    const fs::path dir = fs::path(testing::TempDir()) / "duo_config_test" / "a-directory";
    fs::create_directories(dir);
    try {
      TrainConfig::load(dir);
      ADD_FAILURE() << "a directory loaded as a configuration";
    } catch (const duo::Error& e) {
      EXPECT_CONTAINS(std::string(e.what()), "a-directory: is a directory, not a configuration file");
    }
  }
  EXPECT_CONTAINS(load_error("dup.yaml", "optim:\n  lr: 0.1\n  lr: 0.2\n"), "dup.yaml:3: optim.lr: given twice");
  EXPECT_CONTAINS(load_error("dup2.yaml", "run:\n  steps: 3\noptim:\n  lr: 0.1\nrun:\n  batch: 1\n"),
                  "dup2.yaml:5: run: given twice");
  EXPECT_CONTAINS(load_error("c2b.yaml", "data:\n  context_min: 300\n  context_max: 384\n"),
                  "streaming.sink: plus streaming.recent (384) covers every context (data.context_max 384)");
  EXPECT_CONTAINS(load_error("c2c.yaml", "run:\n  batch: 9223372036854775807\n"),
                  "run.batch: expected an integer in [1, 4096], got 9223372036854775807");
  EXPECT_CONTAINS(load_error("c2d.yaml", "data:\n  depth_count: 1000000000000\n"),
                  "data.depth_count: expected an integer in [1, 1000000], got 1000000000000");
  EXPECT_CONTAINS(load_error("c2e.yaml", "streaming:\n  sink: 4294967360\n"),
                  "streaming.sink: expected an integer in [0, 16777216], got 4294967360");
  EXPECT_CONTAINS(load_error("c3.yaml", "streaming:\n  sink: 100\n"),
                  "streaming.sink: must be a multiple of streaming.block_size (128)");
  EXPECT_EQ(load_error("c4.yaml", "streaming:\n  sink: 100\n  granularity: token\n"), "");
  EXPECT_CONTAINS(load_error("c5.yaml", "data:\n  needle: 'the passkey is: '\n"),
                  "data.needle: must name the passkey with {ordinal} or {index}");
  EXPECT_CONTAINS(load_error("c6.yaml", "optim:\n  warmup_frac: 0.6\n  decay_frac: 0.6\n"),
                  "optim.warmup_frac: plus optim.decay_frac must not exceed 1");
}

TEST(TrainConfig, MissingFileAndBadYamlNameTheFile) {
  try {
    TrainConfig::load("no/such/config.yaml");
    FAIL() << "no error";
  } catch (const duo::Error& e) {
    EXPECT_CONTAINS(e.what(), "no/such/config.yaml: no such configuration file");
  }
  EXPECT_CONTAINS(load_error("bad.yaml", "optim:\n  lr: [0.1\n"), "bad.yaml:");
  EXPECT_CONTAINS(load_error("bad.yaml", "optim:\n  lr: [0.1\n"), "not valid YAML");
}

TEST(TrainConfig, OverridesSetAnyKey) {
  TrainConfig c;
  c.apply_overrides({"optim.lr=0.01", "run.steps=30", "model.dtype=fp32",
                     "data.word_list=[red, green]", "data.question=Q: which is the {ordinal}?",
                     "data.separator=\"\\n\"", "run.activation_checkpointing=false",
                     "data.tokenizer="});
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.01);
  EXPECT_EQ(c.run.steps, 30);
  EXPECT_EQ(c.model.dtype, duo::Dtype::fp32);
  EXPECT_EQ(c.data.word_list, (std::vector<std::string>{"red", "green"}));
  EXPECT_EQ(c.data.question, "Q: which is the {ordinal}?");
  EXPECT_EQ(c.data.separator, "\n");
  EXPECT_FALSE(c.run.activation_checkpointing);
  c.model.path = "m";
  EXPECT_EQ(c.tokenizer_dir(), fs::path("m"));
}

TEST(TrainConfig, OverridesAreValidated) {
  EXPECT_CONTAINS(override_error("run.steps=abc"),
                  "--set run.steps=abc: run.steps: expected an integer in [1, 1000000000], got 'abc'");
  EXPECT_CONTAINS(override_error("optim.lr=0"), "optim.lr: expected a number > 0.0, got 0");
  EXPECT_CONTAINS(override_error("optim.lrr=1"), "optim.lrr: unknown key; optim has lr");
  EXPECT_CONTAINS(override_error("lr=1"), "lr: unknown key; the sections are");
  EXPECT_CONTAINS(override_error("optim.lr"), "expected key.path=value");
  EXPECT_CONTAINS(override_error("optim.lr="), "optim.lr: expected a number > 0.0, got nothing");
  TrainConfig c;
  try {
    c.apply_overrides({"data.depth_min=0.99"});
    FAIL() << "no error";
  } catch (const duo::Error& e) {
    EXPECT_CONTAINS(e.what(), "after --set: data.depth_min: must not exceed data.depth_max");
  }
  // Related keys may pass through an inconsistent state while the list is applied.
  c = TrainConfig();
  c.apply_overrides({"streaming.block_size=16", "streaming.sink=16", "streaming.recent=64"});
  EXPECT_EQ(c.streaming.recent, 64);
}

TEST(TrainConfig, ToYamlRoundTripsEveryKey) {
  TrainConfig c;
  c.model.path = "models/x y";
  c.model.dtype = duo::Dtype::fp16;
  c.model.device = duo::DeviceChoice::cuda;
  c.model.random_config = true;
  c.model.seed = 18446744073709551615ull;
  c.data.haystack.files = {"a.jsonl", "b c.jsonl"};
  c.data.haystack.format = duo::synth::HaystackFormat::jsonl;
  c.data.haystack.jsonl_field = "content";
  c.data.tokenizer = "true";  // a string that reads as a boolean when not quoted
  c.data.seed = 7;
  c.data.num_passkeys = 3;
  c.data.passkey_words = 5;
  c.data.word_list = {"null", "~", "yes", "1", "émigré"};
  c.data.depth_min = 0.1;
  c.data.depth_max = 1.0 / 3.0;
  c.data.depth_count = 33;
  c.data.context_min = 10;
  c.data.context_max = 20;  // longer than the window below
  c.data.context_count = 3;
  c.data.shuffle = false;
  c.data.prefix = "";
  c.data.suffix = "\t</book>\n";
  c.data.separator = "\r\n";
  c.data.needle = "key #{index}: \"";
  c.data.question = "what's {ordinal}? [x] {y: z}\n";
  c.data.answer_prefix = "- ";
  c.gates.init = 0.75;
  c.gates.mode = duo::GateMode::reference;
  c.streaming.sink = 0;
  c.streaming.recent = 3;
  c.streaming.granularity = duo::StreamingGranularity::token;
  c.streaming.block_size = 7;
  c.optim.lr = 1e-7;
  c.optim.weight_decay = 0.1 + 0.2;
  c.optim.reg_weight = 0;
  c.optim.warmup_frac = 0;
  c.optim.decay_frac = 1;
  c.optim.min_lr_ratio = 0.5;
  c.run.steps = 1;
  c.run.batch = 2;
  c.run.checkpoint_every = 3;
  c.run.log_every = 4;
  c.run.activation_checkpointing = false;
  c.run.out = "out: dir";
  ASSERT_NE(c, TrainConfig());
  const std::string yaml = c.to_yaml();
  EXPECT_EQ(TrainConfig::parse(yaml, "round trip"), c) << yaml;
  EXPECT_EQ(TrainConfig::parse(TrainConfig().to_yaml(), "round trip"), TrainConfig());
  EXPECT_CONTAINS(TrainConfig().to_yaml(), "lr: 0.02\n");
}
