// RMSNorm (see rms_norm.h); the cast back happens before the weight multiply, as in HF.
#include "model/rms_norm.h"

namespace duo {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // At least float32 (as HF), but float64 stays float64 so that gradient checks are exact.
  at::Tensor xf = x.to(at::promote_types(x.scalar_type(), at::kFloat));
  at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(variance + eps)).to(x.scalar_type());
}

}  // namespace duo
