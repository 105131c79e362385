// duo::Trainer: one gate-training run. It freezes the model, gives every (layer, KV head) a gate
// α, and optimizes the gates on synthetic passkey samples with the distillation objective,
// writing every step to the gate history and a resumable checkpoint every N steps.
//
// A run lives in one output directory:
//   config.yaml    the resolved configuration (a resumed run reads it back)
//   history.h5     the gate history (docs/history-schema.md), appended and flushed every step
//   checkpoint.pt  gates + optimizer state + steps done (train_state.h)
#pragma once
#include <filesystem>
#include <string>

#include "config.h"

namespace duo {

struct RunFiles {
  std::filesystem::path dir, config, history, checkpoint;
  explicit RunFiles(const std::filesystem::path& out_dir);
};

// Trains from scratch (resume = false: the directory must not already hold a run) or continues
// the run stored in config.run.out from its checkpoint (resume = true; without a checkpoint only a
// history holding no steps yet starts over, from step 0; history rows past the checkpoint are
// dropped with a note). Returns the process exit code: 0 when all steps are done, 130 when
// interrupted by SIGINT/SIGTERM after saving a checkpoint. `config_source` names where the
// configuration came from (a file, with --set overrides), for errors about its values.
int train(const TrainConfig& config, bool resume, const std::string& config_source);

}  // namespace duo
