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

#include "data/synth/reference_format.h"
#include "model/streaming_window.h"

namespace duo {

enum class Dtype { bf16, fp16, fp32 };
enum class DeviceChoice { automatic, cpu, cuda };  // "auto" | "cpu" | "cuda"
enum class HaystackFormat { text, jsonl };
// paper: the gated path recomputes full attention from its own Q/K/V (the paper's formula).
// reference: the gated path reuses the frozen reference pass's full-attention output, detached
// (mit-han-lab/duo-attention's shortcut).
enum class GateMode { paper, reference };
// run.checkpointed_layers, with activation checkpointing: all = every layer recomputes in
// backward (the least memory); automatic ("auto") = on a GPU, the layers its memory can hold
// keep their activations instead (train/checkpoint_plan.h measures how many).
enum class CheckpointedLayers { all, automatic };
// streaming.granularity (model/streaming_window.h): token = an exact sink + recent token mask;
// block = the reference's block-sparse mask, which rounds sink and recent to whole blocks of
// block_size tokens.

struct TrainConfig {
  struct Model {
    std::string path;  // Hugging Face checkpoint directory; may come from --model instead
    Dtype dtype = Dtype::bf16;
    DeviceChoice device = DeviceChoice::automatic;
    bool random_config = false;  // build the model from path/config.json with random weights
    uint64_t seed = 42;          // for random weights
    bool operator==(const Model&) const = default;
  } model;

  struct Data {
    std::vector<std::string> haystack;  // text files; empty: the system's KJV Bible text
    HaystackFormat format = HaystackFormat::text;
    std::string jsonl_field = "text";
    std::string tokenizer;  // tokenizer directory; empty: model.path
    uint64_t seed = 42;     // passkeys, depths and the order of context lengths
    int64_t num_passkeys = 10;
    int64_t passkey_words = 32;
    std::vector<std::string> word_list = synth::reference::nato_alphabet();
    double depth_min = 0.05;
    double depth_max = 0.95;
    // Depths are drawn without replacement from linspace(depth_min, depth_max, depth_count).
    int64_t depth_count = 1000;
    // Whole-sample lengths. The reference's linspace(1000, 32000, 50) counts haystack tokens only;
    // its 10 passkeys of 32 words and questions add about 1,600 more, so its shortest samples
    // have about 2,600 tokens, which is where duo's (exact) lengths start.
    int64_t context_min = 2600;
    int64_t context_max = 32000;
    int64_t context_count = 50;
    bool shuffle = true;  // visit the context lengths in a fresh random order every epoch
    // The sample is: [BOS] prefix, haystack with needles, suffix, then per passkey
    // question + answer_prefix, the passkey, separator. A needle is
    // separator + needle + passkey + separator. "{ordinal}" becomes first, second, ...;
    // "{index}" becomes 1, 2, ...
    // Defaults: the reference's sentences (data/synth/reference_format.h).
    std::string prefix{synth::reference::prefix};
    std::string suffix{synth::reference::suffix};
    std::string separator{synth::reference::separator};
    std::string needle{synth::reference::needle};
    std::string question{synth::reference::question};
    std::string answer_prefix{synth::reference::answer_prefix};
    bool operator==(const Data&) const = default;
  } data;

  struct Gates {
    double init = 1.0;
    GateMode mode = GateMode::paper;
    bool operator==(const Gates&) const = default;
  } gates;

  // The training window; the reference's defaults (128 + 256 in 128-token blocks).
  StreamingWindow streaming{128, 256, StreamingGranularity::block, 128};

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

std::string_view to_string(Dtype);
std::string_view to_string(DeviceChoice);
std::string_view to_string(HaystackFormat);
std::string_view to_string(GateMode);
std::string_view to_string(CheckpointedLayers);
std::string_view to_string(StreamingGranularity);

}  // namespace duo
