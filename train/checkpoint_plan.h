// How many layers activation checkpointing must recompute on this GPU (run.checkpointed_layers:
// auto). A layer that keeps what autograd records instead skips its recomputation: on an H200, a
// Llama-3-8B step at 32K tokens takes 4.78 s with no layer checkpointed against 5.32 s with all
// (experiments/train-step-h200.md), for 2.7 GiB per layer kept. Layers are checkpointed from the
// bottom up until the rest fit.
//
// Measured rather than modelled: two trial steps of the longest context on random tokens (only
// the top layer kept, then two more) give the step's peak and what one kept layer adds; the
// layers kept are those that fit under 92% of the memory the device can give (what is free
// plus what this process holds). The trial leaves no trace in training: its own token
// generator, its own gates, no optimizer step.
#pragma once
#include <cstdint>
#include <string>

#include "distill_objective.h"
#include "model/llama.h"

namespace duo {

struct CheckpointPlan {
  int checkpointed_layers = 0;  // from the bottom; the rest keep their activations
  double checkpointed_peak_bytes = 0;  // of a step with only the top layer kept
  double per_kept_layer_bytes = 0, usable_bytes = 0;
  std::string summary() const;  // one line for the log
};

// options: the run's objective (window, mode, keep_full_attention, offload), checkpointing on.
// On a CPU: every layer checkpointed, nothing measured.
CheckpointPlan plan_checkpointing(const LlamaModel& model, const ObjectiveOptions& options, int64_t context_length);

}  // namespace duo
