// The small per-layer operations of a decode step, one launch each instead of the several
// elementwise and reduction kernels ATen runs for them: residual add + RMSNorm, RoPE of queries
// and keys, SwiGLU's silu(gate)·up. Each rounds where ATen's composition rounds (the norm and
// RoPE through common.cuh's helpers), so results match the eager path up to reduction order.
#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

int threads_for(int64_t n, int max_threads) {
  int64_t t = (n + 31) / 32 * 32;
  if (t < 32) t = 32;
  return static_cast<int>(t < max_threads ? t : max_threads);
}

template <typename T, bool kVectorized>
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
  if constexpr (kVectorized) {
    constexpr int V = Vec<T>::n;
    for (int64_t c = threadIdx.x * int64_t{V}; c < p.cols; c += int64_t{blockDim.x} * V) {
      Vec<T> xv = Vec<T>::load(x + c);
      if (r) {
        const Vec<T> rv = Vec<T>::load(r + c);
#pragma unroll
        for (int i = 0; i < V; ++i) xv.v[i] = residual_add<T>(E::to_float(xv.v[i]), E::to_float(rv.v[i]));
        xv.store(h + c);
      }
#pragma unroll
      for (int i = 0; i < V; ++i) ss = fmaf(E::to_float(xv.v[i]), E::to_float(xv.v[i]), ss);
    }
    ss = block_reduce<false>(ss);
    const float inv = rms_scale(ss, p.cols, p.eps);
    for (int64_t c = threadIdx.x * int64_t{V}; c < p.cols; c += int64_t{blockDim.x} * V) {
      const Vec<T> xv = Vec<T>::load(r ? h + c : x + c), wv = Vec<T>::load(w + c);  // h: this thread's own writes
      Vec<T> yv;
#pragma unroll
      for (int i = 0; i < V; ++i) yv.v[i] = rms_normed<T>(E::to_float(xv.v[i]), inv, E::to_float(wv.v[i]));
      yv.store(y + c);
    }
  } else {
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

// RoPE of whole sequences (training, prefill): one thread per (row, V consecutive pairs d and
// d + D/2), rows (b, t, h) in the memory order of the projections' [B, T, H, D] layout.
template <typename T, int V>
__global__ void rope_sequence_kernel(const RopeSequenceParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  const int64_t half = p.head_dim / 2, groups = half / V, total = p.batch * p.seq * p.heads * groups;
  const T* cs = static_cast<const T*>(p.cos);
  const T* sn = static_cast<const T*>(p.sin);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t g = i % groups, row = i / groups;
    const int64_t h = row % p.heads, t = (row / p.heads) % p.seq, b = row / (p.heads * p.seq);
    const T* x = static_cast<const T*>(p.x) + b * p.x_sb + h * p.x_sh + t * p.x_st + g * V;
    T* out = static_cast<T*>(p.out) + b * p.out_sb + h * p.out_sh + t * p.out_st + g * V;
    const int64_t c = t * p.head_dim + g * V;
    T x1[V], x2[V], c1[V], c2[V], s1[V], s2[V], o1[V], o2[V];
    if constexpr (V > 1) {
      *reinterpret_cast<uint4*>(x1) = *reinterpret_cast<const uint4*>(x);
      *reinterpret_cast<uint4*>(x2) = *reinterpret_cast<const uint4*>(x + half);
      *reinterpret_cast<uint4*>(c1) = *reinterpret_cast<const uint4*>(cs + c);
      *reinterpret_cast<uint4*>(c2) = *reinterpret_cast<const uint4*>(cs + c + half);
      *reinterpret_cast<uint4*>(s1) = *reinterpret_cast<const uint4*>(sn + c);
      *reinterpret_cast<uint4*>(s2) = *reinterpret_cast<const uint4*>(sn + c + half);
    } else {
      x1[0] = x[0], x2[0] = x[half], c1[0] = cs[c], c2[0] = cs[c + half], s1[0] = sn[c], s2[0] = sn[c + half];
    }
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float a = E::to_float(x1[j]), b2 = E::to_float(x2[j]);
      o1[j] = rope_element<T>(a, -b2, E::to_float(c1[j]), E::to_float(s1[j]));
      o2[j] = rope_element<T>(b2, a, E::to_float(c2[j]), E::to_float(s2[j]));
    }
    if constexpr (V > 1) {
      *reinterpret_cast<uint4*>(out) = *reinterpret_cast<const uint4*>(o1);
      *reinterpret_cast<uint4*>(out + half) = *reinterpret_cast<const uint4*>(o2);
    } else {
      out[0] = o1[0], out[half] = o2[0];
    }
  }
}

template <typename T>
__device__ inline T silu_mul_element(float g, float u) {
  using E = Elem<T>;
  const T s = E::from_float(g / (1.0f + expf(-g)));
  return E::from_float(__fmul_rn(E::to_float(s), u));
}

template <typename T, bool kVectorized>
__global__ void silu_mul_kernel(int64_t n, const T* gate, const T* up, T* out) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  if constexpr (kVectorized) {
    constexpr int V = Vec<T>::n;
    for (int64_t i = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) * V; i < n; i += stride * V) {
      const Vec<T> g = Vec<T>::load(gate + i), u = Vec<T>::load(up + i);
      Vec<T> o;
#pragma unroll
      for (int j = 0; j < V; ++j) o.v[j] = silu_mul_element<T>(E::to_float(g.v[j]), E::to_float(u.v[j]));
      o.store(out + i);
    }
  } else {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride)
      out[i] = silu_mul_element<T>(E::to_float(gate[i]), E::to_float(up[i]));
  }
}

// Whether every pointer is 16-byte aligned and `n` a whole number of 16-byte vectors of T.
template <typename T>
bool vectorizable(int64_t n, std::initializer_list<const void*> ptrs) {
  if (n % Elem<T>::kVec != 0) return false;
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

}  // namespace

cudaError_t launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    if (vectorizable<T>(p.cols, {p.x, p.residual, p.weight, p.h, p.y}))
      return launch_kernel(add_rms_norm_kernel<T, true>, static_cast<unsigned>(p.rows),
                           threads_for(p.cols / Elem<T>::kVec, 1024), 0, stream, p);
    return launch_kernel(add_rms_norm_kernel<T, false>, static_cast<unsigned>(p.rows), threads_for(p.cols / 4, 1024), 0,
                         stream, p);
  });
}

cudaError_t launch_rope_qk(const RopeParams& p, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    return launch_kernel(rope_qk_kernel<T>, p.batch * (p.hq + p.hk), threads_for(p.head_dim, 256), 0, stream, p);
  });
}

cudaError_t launch_rope_sequence(const RopeSequenceParams& p, cudaStream_t stream) {
  const int64_t half = p.head_dim / 2;
  if (p.batch * p.seq * p.heads * half == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    constexpr int V = Elem<T>::kVec;
    const bool vec = half % V == 0 && p.x_sb % V == 0 && p.x_sh % V == 0 && p.x_st % V == 0 && p.out_sb % V == 0 &&
                     p.out_sh % V == 0 && p.out_st % V == 0 && p.head_dim % V == 0 &&
                     vectorizable<T>(V, {p.x, p.out, p.cos, p.sin});
    const int64_t total = p.batch * p.seq * p.heads * (vec ? half / V : half);
    const int threads = 256;
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((total + threads - 1) / threads, 16384));
    return vec ? launch_kernel(rope_sequence_kernel<T, V>, blocks, threads, 0, stream, p)
               : launch_kernel(rope_sequence_kernel<T, 1>, blocks, threads, 0, stream, p);
  });
}

cudaError_t launch_silu_mul(DType dtype, int64_t n, const void* gate, const void* up, void* out,
                            cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  return dispatch_dtype(dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    const int threads = 256;
    const T *g = static_cast<const T*>(gate), *u = static_cast<const T*>(up);
    T* o = static_cast<T*>(out);
    if (vectorizable<T>(n, {gate, up, out})) {
      const int64_t blocks = std::min<int64_t>((n / Elem<T>::kVec + threads - 1) / threads, 8192);
      return launch_kernel(silu_mul_kernel<T, true>, static_cast<unsigned>(blocks), threads, 0, stream, n, g, u, o);
    }
    const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, 4096);
    return launch_kernel(silu_mul_kernel<T, false>, static_cast<unsigned>(blocks), threads, 0, stream, n, g, u, o);
  });
}

}  // namespace duo::kernels::cuda
