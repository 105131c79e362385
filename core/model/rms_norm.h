// RMSNorm as in Llama: normalise in fp32 by the root mean square over the last dimension,
// cast back to the input dtype, then scale by the weight.
#pragma once
#include <ATen/ATen.h>

namespace duo {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace duo
