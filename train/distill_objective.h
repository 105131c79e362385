// The gate-training objective of one sample:
//   distill = Σ_{answer positions} mean_hidden((h_full − h_gated)²) / #answer positions
//   reg     = mean |α|
//   total   = distill + reg_weight · reg
// h_full: final hidden states (after the final norm) of the frozen model with full attention;
// h_gated: the same with GatedAttention. Only the gated pass records autograd.
#pragma once
#include <ATen/ATen.h>

#include <limits>
#include <memory>

#include "gated_attention.h"
#include "model/llama.h"

namespace duo {

struct ObjectiveOptions {
  StreamingWindow window;
  GateMode mode = GateMode::paper;
  bool activation_checkpointing = false;
  // With checkpointing: how many layers, from the bottom, checkpoint; those above keep what
  // autograd records (no recomputation, several T × hidden activations per layer on the GPU).
  int checkpointed_layers = std::numeric_limits<int>::max();
  // Paper mode with checkpointing: keep each layer's full attention from the forward pass for
  // its recomputation (GatedAttention).
  bool keep_full_attention = false;
  // With checkpointing: pinned host memory the step may park what it keeps from the forward
  // pass to the backward in (ActivationOffload); 0 keeps everything on the GPU.
  int64_t offload_host_bytes = 0;
  double reg_weight = 0.05;
};

struct Objective {
  at::Tensor total, distill, reg;  // scalars; total carries the graph to the gates
  int64_t answer_tokens = 0;
  // The attention objects the graph calls back into when activation checkpointing recomputes
  // a layer: they must live until total.backward() has run.
  std::shared_ptr<const void> graph_state;
};

// ids: [1, T] token ids; label_mask: [1, T] bool, true on the supervised (answer) tokens.
// gates: [num_layers, num_kv_heads] float32, the trained parameter.
Objective distill_objective(const LlamaModel& model, const at::Tensor& gates,
                            const at::Tensor& ids, const at::Tensor& label_mask,
                            const ObjectiveOptions& options);

}  // namespace duo
