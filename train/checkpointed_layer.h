// Activation checkpointing for one decoder layer: the forward pass keeps only the layer's
// input; backward recomputes the layer under autograd and differentiates it. This is what lets
// a 32K-token step of an 8B model fit: only one layer's activations live at a time.
#pragma once
#include <ATen/ATen.h>

#include "activation_offload.h"
#include "model/attention.h"
#include "model/llama.h"

namespace duo {

// Runs model.layer_forward(layer, hidden, 0, attn, rows_from) with recomputation in backward.
// `gates` must be the tensor the attention reads its parameters from, so that its gradient
// is routed through this node. offload, if given, holds the layer's input until its backward
// (and is asked, then, to bring the layer below's back).
at::Tensor checkpointed_layer(const LlamaModel& model, int layer, const at::Tensor& hidden,
                              Attention& attn, const at::Tensor& gates, ActivationOffload* offload = nullptr,
                              int64_t rows_from = 0);

}  // namespace duo
