// TrainConfig's YAML side: a schema (config/schema.h) of six sections, three of them owned by the
// libraries that use them (model and streaming: core/model; data: data/synth), walked alike by
// loading, overriding and writing.
#include "config.h"

#include "util/error.h"

namespace duo {

namespace {

config::Schema schema(TrainConfig& c) {
  using namespace config;
  config::Schema s;
  s.add(model_section(c.model));
  s.add(synth::data_section(c.data));
  s.add({"gates",
         {number("init", c.gates.init, kUnit), choice("mode", c.gates.mode, {GateMode::paper, GateMode::reference})}});
  s.add(streaming_section(c.streaming));
  s.add({"optim",
         {number("lr", c.optim.lr, kPositive), number("weight_decay", c.optim.weight_decay, kNonNegative),
          number("reg_weight", c.optim.reg_weight, kNonNegative), number("warmup_frac", c.optim.warmup_frac, kUnit),
          number("decay_frac", c.optim.decay_frac, kUnit), number("min_lr_ratio", c.optim.min_lr_ratio, kUnit)}});
  s.add({"run",
         {integer("steps", c.run.steps, 1, kMaxCount * 1000), integer("batch", c.run.batch, 1, 4096),
          integer("checkpoint_every", c.run.checkpoint_every, 1), integer("log_every", c.run.log_every, 1),
          flag("activation_checkpointing", c.run.activation_checkpointing),
          choice("checkpointed_layers", c.run.checkpointed_layers,
                 {CheckpointedLayers::all, CheckpointedLayers::automatic}),
          flag("keep_full_attention", c.run.keep_full_attention),
          flag("offload_activations", c.run.offload_activations), text("out", c.run.out, Empty::refused)}});
  return s;
}

}  // namespace

TrainConfig TrainConfig::parse(std::string_view yaml, const std::string& source) {
  TrainConfig c;
  schema(c).parse(yaml, source);
  c.validate_as(source);
  return c;
}

TrainConfig TrainConfig::load(const std::filesystem::path& file) {
  TrainConfig c;
  schema(c).load(file);
  c.validate_as(file.string());
  return c;
}

void TrainConfig::apply_override(std::string_view assignment) { schema(*this).set(assignment); }

void TrainConfig::apply_overrides(const std::vector<std::string>& assignments) {
  const config::Schema s = schema(*this);
  for (const std::string& a : assignments) s.set(a);
  if (!assignments.empty()) validate_as("the configuration after --set");
}

void TrainConfig::validate() const { validate_as("configuration"); }

void TrainConfig::validate_as(const std::string& source) const {
  const config::Origin at{source};
  synth::check_data(data, at);
  if (optim.warmup_frac + optim.decay_frac > 1.0)
    config::fail(at, "optim.warmup_frac", "plus optim.decay_frac must not exceed 1");
  check_streaming(streaming, at);
  // A window that holds the longest context makes streaming attention full attention: the loss
  // is zero whatever the gates, and training learns nothing.
  if (streaming.sink + streaming.recent >= data.context_max)
    config::fail(at, "streaming.sink",
                 "plus streaming.recent (" + std::to_string(streaming.sink + streaming.recent) +
                     ") covers every context (data.context_max " + std::to_string(data.context_max) +
                     "): streaming heads would see everything and the gates learn nothing");
}

std::string TrainConfig::to_yaml() const {
  TrainConfig copy = *this;  // the schema binds to a config it may write to; this one is only read
  return schema(copy).to_yaml();
}

std::filesystem::path TrainConfig::tokenizer_dir() const { return synth::tokenizer_dir(data, model.path); }

void TrainConfig::check_input_paths(std::string_view model_flag) const {
  check_model_path(model, model_flag);  // an empty one is reported where the model loads
  synth::check_data_paths(data);
}

std::string_view to_string(GateMode v) { return v == GateMode::paper ? "paper" : "reference"; }

std::string_view to_string(CheckpointedLayers v) { return v == CheckpointedLayers::all ? "all" : "auto"; }

}  // namespace duo
