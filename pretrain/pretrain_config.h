// PretrainConfig: every hyper-parameter of duo-pretrain (model shape, data mix, optimizer,
// evaluation), read from YAML with each key checked for type and range (the configuration engine,
// config/schema.h, as duo-train's); unknown keys are errors, so a typo never silently falls back
// to a default.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace duo {

struct PretrainConfig {
  struct Model {
    int64_t hidden_size = 256;
    int64_t intermediate_size = 688;
    int64_t num_layers = 6;
    int64_t num_heads = 8;
    int64_t num_kv_heads = 2;
    int64_t head_dim = 32;
    double rope_theta = 10000.0;
    double rms_norm_eps = 1e-5;
    std::string tokenizer = "models/tiny-random";  // a directory with a byte-level tokenizer.json
  } model;

  struct Data {
    int64_t context = 4096;                    // every training sample is exactly this many tokens
    std::vector<std::string> haystack_files;   // plain text; empty: the KJV Bible (bible-kjv-text)
    double passkey_sample_fraction = 0.3;      // share of samples in data/synth's passkey format
    int64_t num_passkeys = 2;                  // those samples' shape (as configs/tiny.yaml)
    int64_t passkey_words = 8;
    int64_t passkey_context_min = 768;         // shortest passkey sample packed into a sequence
    int64_t tasks_min = 1;                     // retrieval tasks per mixed sample
    int64_t tasks_max = 6;
    double copy_task_fraction = 0.3;           // tasks that copy random letters a short way back
    double near_question_fraction = 0.3;       // other questions asked within near_tokens of their fact
    int64_t near_tokens = 256;
    int64_t words_min = 2;                     // passkey / value length in words, mixed samples
    int64_t words_max = 8;
    int64_t phrase_min = 16;                   // recalled phrase length in tokens
    int64_t phrase_max = 64;
    double answer_weight = 4.0;                // loss weight of answer tokens
    double text_weight = 1.0;                  // loss weight of every other token
    double copy_sample_fraction = 0;           // share of copy samples (recalled random lines)
    int64_t copy_warmup_steps = 0;             // the first steps train on copy samples only
    uint64_t seed = 1;
  } data;

  struct Train {
    std::string device = "cuda";
    std::string precision = "bf16";  // bf16: fp32 weights, bf16 matmuls (autocast); fp32: all fp32
    int64_t steps = 3000;            // upper bound; time_budget_s may lower it
    double time_budget_s = 0;        // > 0: after measuring the step time, fit the run in it
    int64_t batch = 32;
    double lr = 2e-3;
    double min_lr_ratio = 0.1;
    int64_t warmup_steps = 100;
    double weight_decay = 0.1;
    double beta1 = 0.9;
    double beta2 = 0.95;
    double grad_clip = 1.0;
    int64_t log_every = 10;
    int64_t save_every = 200;
    uint64_t seed = 1;
  } train;

  struct Eval {
    std::vector<int64_t> lengths = {1024, 2048, 3072, 4096};
    int64_t samples = 50;  // per length
    int64_t batch = 8;
    uint64_t seed = 1234;  // a different stream from training's
  } eval;

  // Reads a YAML file (sections model, data, train, eval; any key may be left out). Errors name
  // the file, the line and the key: "a.yaml:3: model.hiden: unknown key; model has ...".
  static PretrainConfig load(const std::filesystem::path& file);
  // "section.key=value" (value in YAML syntax, lists too; a text key takes an unquoted value
  // literally); then the whole config is re-checked.
  void apply_overrides(const std::vector<std::string>& assignments);
  std::string to_yaml() const;
  void validate() const;  // relations between keys; ranges are checked as keys are read

 private:
  void validate_as(const std::string& source) const;
};

}  // namespace duo
