// The resumable state of a gate-training run, saved every N steps as <out>/checkpoint.pt:
// the gates, AdamW's moments, and how many steps are done. Nothing else is needed to resume
// bit for bit: the data of step i is a pure function of (seed, i), so "data position" is the
// step count, and the run's configuration is stored beside it as <out>/config.yaml.
#pragma once
#include <torch/optim/adamw.h>

#include <cstdint>
#include <filesystem>

namespace duo {

inline constexpr int64_t kTrainStateVersion = 1;

struct TrainState {
  int64_t steps_done = 0;
  double wall_time = 0;  // seconds of training behind those steps (the history's clock)
  at::Tensor gates;      // [num_layers, num_kv_heads] float32
};

// Written to a temporary file, then renamed over `path`, so a kill never leaves half a file; a
// failed write (a full disk) throws duo::Error naming `path` and leaves the previous checkpoint.
void save_train_state(const std::filesystem::path& path, const TrainState& state,
                      torch::optim::AdamW& optimizer);

// The number of steps the checkpoint at `path` holds, without restoring it (so a resume can be
// planned before the model loads). Throws duo::Error naming the file as load_train_state does.
int64_t read_train_state_steps(const std::filesystem::path& path);

// Restores gates (copied into state.gates, which must already have the right shape) and the
// optimizer's state. Throws duo::Error naming the file for a missing, corrupt or mismatched
// checkpoint.
int64_t load_train_state(const std::filesystem::path& path, TrainState& state,
                         torch::optim::AdamW& optimizer);

}  // namespace duo
