// The ATen wrappers' mapping of tensor element types onto the kernels' (cuda/launch.h). Only for
// builds with CUDA, where the wrappers include it.
#pragma once
#include <ATen/ATen.h>

#include "cuda/launch.h"

namespace duo::kernels {

// float32, float16 and bfloat16 are the kernels' types; callers check before they map.
inline cuda::DType to_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::DType::Float32;
    case at::kHalf: return cuda::DType::Float16;
    default: return cuda::DType::BFloat16;
  }
}

// Whether a tensor is one the kernels take: float32, float16 or bfloat16 on a CUDA device.
inline bool kernel_dtype(const at::Tensor& t) {
  const auto d = t.scalar_type();
  return t.is_cuda() && (d == at::kFloat || d == at::kHalf || d == at::kBFloat16);
}

}  // namespace duo::kernels
