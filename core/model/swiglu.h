// Llama's MLP activation: silu(gate) · up, elementwise.
#pragma once
#include <ATen/ATen.h>

namespace duo {

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

}  // namespace duo
