// The small per-layer operations of a decode step, one launch each instead of the several
// elementwise and reduction kernels ATen runs for them: residual add + RMSNorm, RoPE of queries
// and keys, SwiGLU's silu(gate)·up. Each rounds where ATen's composition rounds (the norm and
// RoPE through common.cuh's helpers), so results match the eager path up to reduction order.
#include <algorithm>

#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

int threads_for(int64_t n, int max_threads) {
  int64_t t = (n + 31) / 32 * 32;
  if (t < 32) t = 32;
  return static_cast<int>(t < max_threads ? t : max_threads);
}

template <typename T>
__global__ void add_rms_norm_kernel(const AddRmsNormParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
  const T* r = p.residual ? static_cast<const T*>(p.residual) + row * p.cols : nullptr;
  T* h = p.residual ? static_cast<T*>(p.h) + row * p.cols : nullptr;
  const T* w = static_cast<const T*>(p.weight);
  T* y = static_cast<T*>(p.y) + row * p.cols;
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    float v = E::to_float(x[c]);
    if (r) {
      const T hv = residual_add<T>(v, E::to_float(r[c]));
      h[c] = hv;
      v = E::to_float(hv);
    }
    ss = fmaf(v, v, ss);
  }
  ss = block_reduce<false>(ss);
  const float inv = rms_scale(ss, p.cols, p.eps);
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    const float v = E::to_float(r ? h[c] : x[c]);  // h[c] was written by this thread
    y[c] = rms_normed<T>(v, inv, E::to_float(w[c]));
  }
}

template <typename T>
__global__ void rope_qk_kernel(const RopeParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  const int row = blockIdx.x;  // b * (hq + hk) + head
  const int heads = p.hq + p.hk;
  const int b = row / heads, h = row % heads;
  const bool is_q = h < p.hq;
  const T* x = is_q ? static_cast<const T*>(p.q) + b * p.q_sb + h * p.q_sh
                    : static_cast<const T*>(p.k) + b * p.k_sb + (h - p.hq) * p.k_sh;
  T* out = is_q ? static_cast<T*>(p.q_out) + (static_cast<int64_t>(b) * p.hq + h) * p.head_dim
                : static_cast<T*>(p.k_out) + (static_cast<int64_t>(b) * p.hk + h - p.hq) * p.head_dim;
  const T* cs = static_cast<const T*>(p.cos);
  const T* sn = static_cast<const T*>(p.sin);
  const int half = p.head_dim / 2;
  for (int d = threadIdx.x; d < p.head_dim; d += blockDim.x) {
    const float xv = E::to_float(x[d]);
    const float rot = d < half ? -E::to_float(x[d + half]) : E::to_float(x[d - half]);
    out[d] = rope_element<T>(xv, rot, E::to_float(cs[d]), E::to_float(sn[d]));
  }
}

template <typename T>
__global__ void silu_mul_kernel(int64_t n, const T* gate, const T* up, T* out) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = E::to_float(gate[i]);
    const T s = E::from_float(g / (1.0f + expf(-g)));
    out[i] = E::from_float(__fmul_rn(E::to_float(s), E::to_float(up[i])));
  }
}

}  // namespace

cudaError_t launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    return launch_kernel(add_rms_norm_kernel<T>, static_cast<unsigned>(p.rows), threads_for(p.cols / 4, 1024), 0, stream,
                         p);
  });
}

cudaError_t launch_rope_qk(const RopeParams& p, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    return launch_kernel(rope_qk_kernel<T>, p.batch * (p.hq + p.hk), threads_for(p.head_dim, 256), 0, stream, p);
  });
}

cudaError_t launch_silu_mul(DType dtype, int64_t n, const void* gate, const void* up, void* out,
                            cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  return dispatch_dtype(dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 4096);
    return launch_kernel(silu_mul_kernel<T>, static_cast<unsigned>(blocks), threads, 0, stream, n,
                         static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(out));
  });
}

}  // namespace duo::kernels::cuda
