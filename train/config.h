// duo::TrainConfig: everything a gate-training run is told, loaded from YAML (configs/*.yaml),
// validated key by key, overridable with `--set key.path=value`, and written back out whole
// (to_yaml) so that a run stores exactly what it ran with. Defaults are the DuoAttention
// reference values (Xiao et al., 2024, and mit-han-lab/duo-attention's training scripts);
// docs/configuration.md lists every key.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "model/config_sections.h"
#include "synth/data_config.h"

namespace duo {

// paper: the gated path recomputes full attention from its own Q/K/V (the paper's formula).
// reference: the gated path reuses the frozen reference pass's full-attention output, detached
// (mit-han-lab/duo-attention's shortcut).
enum class GateMode { paper, reference };
// run.checkpointed_layers, with activation checkpointing: all = every layer recomputes in
// backward (the least memory); automatic ("auto") = on a GPU, the layers its memory can hold
// keep their activations instead (train/checkpoint_plan.h measures how many).
enum class CheckpointedLayers { all, automatic };

// The sections: model and streaming are core/model's (model/config_sections.h), data is
// data/synth's (synth/data_config.h), gates, optim and run are duo-train's own.
struct TrainConfig {
  using Model = ModelSection;
  Model model;

  // The synthetic passkey samples (and the tokenizer). Whole-sample lengths: the reference's
  // linspace(1000, 32000, 50) counts haystack tokens only; its 10 passkeys of 32 words and
  // questions add about 1,600 more, so its shortest samples have about 2,600 tokens, which is
  // where duo's (exact) lengths start.
  using Data = synth::DataConfig;
  Data data;

  struct Gates {
    double init = 1.0;
    GateMode mode = GateMode::paper;
    bool operator==(const Gates&) const = default;
  } gates;

  // The training window (streaming.granularity: token = an exact sink + recent token mask; block =
  // the reference's block-sparse mask, which rounds sink and recent to whole blocks of block_size
  // tokens); the reference's defaults (128 + 256 in 128-token blocks).
  StreamingWindow streaming = kTrainingWindow;

  struct Optim {
    double lr = 0.02;
    double weight_decay = 0.0;
    double reg_weight = 0.05;
    double warmup_frac = 0.2;   // linear warm-up over this fraction of the steps
    double decay_frac = 0.2;    // linear decay over this last fraction of the steps
    double min_lr_ratio = 0.1;  // the schedule never goes below min_lr_ratio * lr
    bool operator==(const Optim&) const = default;
  } optim;

  struct Run {
    int64_t steps = 2000;
    int64_t batch = 1;
    int64_t checkpoint_every = 50;
    int64_t log_every = 10;
    bool activation_checkpointing = true;
    CheckpointedLayers checkpointed_layers = CheckpointedLayers::automatic;
    // Paper mode with checkpointing: keep each layer's full-attention output from the forward
    // pass for its recomputation (faster, T·hidden activations more per layer, in host memory
    // with offload_activations).
    bool keep_full_attention = true;
    // With checkpointing on a GPU: park what the forward pass keeps for the backward in pinned
    // host memory (up to half of what the host has available) while the layers compute.
    bool offload_activations = true;
    std::string out = "runs/duo";
    bool operator==(const Run&) const = default;
  } run;

  bool operator==(const TrainConfig&) const = default;

  // Reads a YAML file: keys it omits keep their defaults. Throws duo::Error naming the file,
  // the line, the key path and what was expected, for unknown keys, wrong types, values out
  // of range and inconsistent combinations.
  static TrainConfig load(const std::filesystem::path& file);
  // The same from YAML text; `source` names it in errors.
  static TrainConfig parse(std::string_view yaml, const std::string& source);

  // "optim.lr=0.01": sets one key with the same checks as a file (the value is YAML; for a
  // text key, an unquoted value is taken literally). Cross-key checks are left to validate(),
  // so that several overrides can change related keys; apply_overrides runs both.
  void apply_override(std::string_view assignment);
  void apply_overrides(const std::vector<std::string>& assignments);
  // Checks between keys (depth_min <= depth_max, ...). Throws duo::Error.
  void validate() const;

  // Every key, defaults filled in; parse(to_yaml()) gives back an equal config.
  std::string to_yaml() const;

  // data.tokenizer, or model.path when that is empty.
  std::filesystem::path tokenizer_dir() const;

  // The paths the config names, checked before anything loads (util/path_check.h): model.path
  // and data.tokenizer are directories, every data.haystack entry a file. Throws duo::Error,
  // e.g. "--model expects a checkpoint directory; m/model.safetensors is a file";
  // `model_flag` names model.path in it ("--model" where the command line gave it).
  void check_input_paths(std::string_view model_flag = "model.path") const;

 private:
  void validate_as(const std::string& source) const;
};

std::string_view to_string(GateMode);
std::string_view to_string(CheckpointedLayers);

}  // namespace duo
