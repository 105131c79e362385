// PretrainConfig's YAML side: a schema (config/schema.h) naming every key with where it lives and
// its allowed range; loading, --set and to_yaml all walk it, so they cannot disagree.
#include "pretrain_config.h"

#include "config/schema.h"
#include "util/error.h"

namespace duo {
namespace {

config::Schema schema(PretrainConfig& c) {
  using namespace config;
  config::Schema s;
  auto& m = c.model;
  s.add({"model",
         {integer("hidden_size", m.hidden_size, 1, 65536), integer("intermediate_size", m.intermediate_size, 1, 1 << 20),
          integer("num_layers", m.num_layers, 1, 256), integer("num_heads", m.num_heads, 1, 1024),
          integer("num_kv_heads", m.num_kv_heads, 1, 1024), integer("head_dim", m.head_dim, 2, 1024),
          number("rope_theta", m.rope_theta, {1, std::numeric_limits<double>::infinity()}),
          number("rms_norm_eps", m.rms_norm_eps, {1e-12, 1}), text("tokenizer", m.tokenizer, Empty::allowed)}});
  auto& d = c.data;
  s.add({"data",
         {integer("context", d.context, 16, 1 << 20),
          text_list("haystack_files", d.haystack_files, Empty::allowed),
          number("passkey_sample_fraction", d.passkey_sample_fraction, kUnit),
          integer("num_passkeys", d.num_passkeys, 1, 100),
          integer("passkey_words", d.passkey_words, 1, 1000),
          integer("passkey_context_min", d.passkey_context_min, 16, 1 << 20),
          integer("tasks_min", d.tasks_min, 0, 1000),
          integer("tasks_max", d.tasks_max, 0, 1000),
          number("copy_task_fraction", d.copy_task_fraction, kUnit),
          number("near_question_fraction", d.near_question_fraction, kUnit),
          integer("near_tokens", d.near_tokens, 1, 1 << 20),
          integer("words_min", d.words_min, 1, 1000),
          integer("words_max", d.words_max, 1, 1000),
          integer("phrase_min", d.phrase_min, 2, 100000),
          integer("phrase_max", d.phrase_max, 2, 100000),
          number("answer_weight", d.answer_weight, {0, 1000}),
          number("text_weight", d.text_weight, {0, 1000}),
          number("copy_sample_fraction", d.copy_sample_fraction, kUnit),
          integer("copy_warmup_steps", d.copy_warmup_steps, 0, 1000000000),
          integer("seed", d.seed)}});
  auto& t = c.train;
  s.add({"train",
         {one_of("device", t.device, {"cuda", "cpu"}),
          one_of("precision", t.precision, {"bf16", "fp32"}),
          integer("steps", t.steps, 1, 1000000000),
          number("time_budget_s", t.time_budget_s, kNonNegative),
          integer("batch", t.batch, 1, 1 << 20),
          number("lr", t.lr, {0, 10}),
          number("min_lr_ratio", t.min_lr_ratio, kUnit),
          integer("warmup_steps", t.warmup_steps, 0, 1000000000),
          number("weight_decay", t.weight_decay, {0, 10}),
          number("beta1", t.beta1, {0, 0.999999}),
          number("beta2", t.beta2, {0, 0.999999}),
          number("grad_clip", t.grad_clip, kNonNegative),
          integer("log_every", t.log_every, 1, 1000000000),
          integer("save_every", t.save_every, 1, 1000000000),
          integer("seed", t.seed)}});
  auto& e = c.eval;
  s.add({"eval",
         {integer_list("lengths", e.lengths, 16, 1 << 20), integer("samples", e.samples, 1, 1000000),
          integer("batch", e.batch, 1, 4096), integer("seed", e.seed)}});
  return s;
}

}  // namespace

PretrainConfig PretrainConfig::load(const std::filesystem::path& file) {
  PretrainConfig c;
  schema(c).load(file);
  c.validate_as(file.string());
  return c;
}

void PretrainConfig::apply_overrides(const std::vector<std::string>& assignments) {
  const config::Schema s = schema(*this);
  for (const std::string& a : assignments) s.set(a);
  validate_as(assignments.empty() ? "configuration" : "the configuration after --set");
}

void PretrainConfig::validate() const { validate_as("configuration"); }

void PretrainConfig::validate_as(const std::string& source) const {
  const config::Origin at{source};
  using config::fail;
  if (model.num_heads % model.num_kv_heads != 0)
    fail(at, "model.num_heads", "must be a multiple of model.num_kv_heads");
  if (model.head_dim % 2 != 0) fail(at, "model.head_dim", "must be even (RoPE rotates pairs)");
  if (data.tasks_min > data.tasks_max) fail(at, "data.tasks_min", "must not exceed data.tasks_max");
  if (data.words_min > data.words_max) fail(at, "data.words_min", "must not exceed data.words_max");
  if (data.phrase_min > data.phrase_max) fail(at, "data.phrase_min", "must not exceed data.phrase_max");
  if (data.passkey_context_min > data.context)
    fail(at, "data.passkey_context_min", "must not exceed data.context");
  if (data.passkey_sample_fraction + data.copy_sample_fraction > 1)
    fail(at, "data.copy_sample_fraction", "plus data.passkey_sample_fraction must not exceed 1");
}

std::string PretrainConfig::to_yaml() const {
  PretrainConfig copy = *this;  // the schema binds to a config it may write to; this one is only read
  return schema(copy).to_yaml();
}

}  // namespace duo
