// Gate training's element-wise passes (kernels/training_ops.h), each one read of its inputs and
// one write of its outputs with 16-byte vector accesses: RMSNorm's input gradient, SwiGLU's
// gradients, the gate mix and its backward, and the log-sum-exp merge of streaming attention's
// parts. Arithmetic in float32.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

template <typename T>
bool aligned(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (p && reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

bool multiples(int64_t v, std::initializer_list<int64_t> xs) {
  for (int64_t x : xs)
    if (x % v != 0) return false;
  return true;
}

unsigned grid_for(int64_t work, int threads, int64_t max_blocks) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((work + threads - 1) / threads, max_blocks)));
}

// One CTA per row; the row is read twice (the second time from L1/L2: 8 KB for a 4096 row).
template <typename T>
__global__ void rms_norm_backward_kernel(const RmsNormBackwardParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  constexpr int V = Vec<T>::n;
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + row * p.cols;
  const T* dy = static_cast<const T*>(p.dy) + row * p.cols;
  const T* w = static_cast<const T*>(p.weight);
  T* dx = static_cast<T*>(p.dx) + row * p.cols;
  float ss = 0.0f, gx = 0.0f;  // Σ x², Σ dy·w·x
  for (int64_t c = threadIdx.x * int64_t{V}; c < p.cols; c += int64_t{blockDim.x} * V) {
    const Vec<T> xv = Vec<T>::load(x + c), gv = Vec<T>::load(dy + c), wv = Vec<T>::load(w + c);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const float xf = E::to_float(xv.v[i]);
      ss = fmaf(xf, xf, ss);
      gx = fmaf(E::to_float(gv.v[i]) * E::to_float(wv.v[i]), xf, gx);
    }
  }
  ss = block_reduce<false>(ss);
  gx = block_reduce<false>(gx);
  const float r = rsqrtf(ss / static_cast<float>(p.cols) + p.eps);
  const float k = r * r * r * gx / static_cast<float>(p.cols);  // x̂ · mean(g ∘ x̂) · r = x · k
  for (int64_t c = threadIdx.x * int64_t{V}; c < p.cols; c += int64_t{blockDim.x} * V) {
    const Vec<T> xv = Vec<T>::load(x + c), gv = Vec<T>::load(dy + c), wv = Vec<T>::load(w + c);
    Vec<T> out;
#pragma unroll
    for (int i = 0; i < V; ++i)
      out.v[i] = E::from_float(r * E::to_float(gv.v[i]) * E::to_float(wv.v[i]) - k * E::to_float(xv.v[i]));
    out.store(dx + c);
  }
}

// d_gate and d_up may be gate and up themselves: each thread reads its vectors before it writes them.
template <typename T>
__global__ void silu_mul_backward_kernel(int64_t n, const T* dy, const T* gate, const T* up, T* d_gate, T* d_up) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  constexpr int V = Vec<T>::n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x * V;
  for (int64_t i = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) * V; i < n; i += stride) {
    const Vec<T> d = Vec<T>::load(dy + i), g = Vec<T>::load(gate + i), u = Vec<T>::load(up + i);
    Vec<T> dg, du;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float gf = E::to_float(g.v[j]), df = E::to_float(d.v[j]);
      const float s = 1.0f / (1.0f + expf(-gf));
      const float t = E::to_float(E::from_float(df * E::to_float(u.v[j])));  // ATen's dy · up, rounded
      dg.v[j] = E::from_float(t * s * (1.0f + gf * (1.0f - s)));
      du.v[j] = E::from_float(df * E::to_float(E::from_float(gf / (1.0f + expf(-gf)))));
    }
    dg.store(d_gate + i);
    du.store(d_up + i);
  }
}

// Vector v of a [B, T, H, D] row walk: row (b, t), head h, D offset dv.
struct MixIndex {
  int64_t b, t, h, d;
};
__device__ inline MixIndex mix_index(const GateMixParams& p, int64_t row, int64_t v, int V) {
  const int64_t per_head = p.head_dim / V;
  return {row / p.seq, row % p.seq, v / per_head, (v % per_head) * V};
}

template <typename T>
__global__ void gate_mix_kernel(const GateMixParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  constexpr int V = Vec<T>::n;
  const int64_t per_row = p.heads * p.head_dim / V, total = p.batch * p.seq * per_row;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const MixIndex m = mix_index(p, i / per_row, i % per_row, V);
    const Vec<T> f = Vec<T>::load(static_cast<const T*>(p.full) + m.b * p.f_sb + m.h * p.f_sh + m.t * p.f_st + m.d);
    const Vec<T> s =
        Vec<T>::load(static_cast<const T*>(p.streaming) + m.b * p.s_sb + m.h * p.s_sh + m.t * p.s_st + m.d);
    const float a = p.alpha[m.h];
    Vec<T> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = E::from_float(a * E::to_float(f.v[j]) + (1.0f - a) * E::to_float(s.v[j]));
    o.store(static_cast<T*>(p.out) + i * V);
  }
}

constexpr int kMixThreads = 256;
constexpr int kMixSlots = 8;  // vectors of a row per thread: rows of up to 8 · 256 vectors

// Each CTA walks rows ctaid, ctaid + ctas, ...; thread tid owns the row's vectors
// tid + j · 256, so its head per slot is fixed and the per-head sums reduce in a fixed order.
template <typename T>
__global__ void gate_mix_backward_kernel(const GateMixParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  constexpr int V = Vec<T>::n;
  extern __shared__ float slot_sum[];  // [per_row]
  const int64_t per_row = p.heads * p.head_dim / V, rows = p.batch * p.seq;
  float acc[kMixSlots] = {};
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
#pragma unroll
    for (int j = 0; j < kMixSlots; ++j) {
      const int64_t v = threadIdx.x + int64_t{j} * kMixThreads;
      if (v >= per_row) break;
      const MixIndex m = mix_index(p, row, v, V);
      const Vec<T> g = Vec<T>::load(static_cast<const T*>(p.grad) + m.b * p.g_sb + m.h * p.g_sh + m.t * p.g_st + m.d);
      const Vec<T> f = Vec<T>::load(static_cast<const T*>(p.full) + m.b * p.f_sb + m.h * p.f_sh + m.t * p.f_st + m.d);
      const Vec<T> s =
          Vec<T>::load(static_cast<const T*>(p.streaming) + m.b * p.s_sb + m.h * p.s_sh + m.t * p.s_st + m.d);
      const float a = p.alpha[m.h];
      Vec<T> df, ds;
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const float gf = E::to_float(g.v[e]);
        acc[j] = fmaf(gf, E::to_float(f.v[e]) - E::to_float(s.v[e]), acc[j]);
        df.v[e] = E::from_float(a * gf);
        ds.v[e] = E::from_float((1.0f - a) * gf);
      }
      const int64_t at = (row * per_row + v) * V;
      df.store(static_cast<T*>(p.d_full) + at);
      ds.store(static_cast<T*>(p.d_streaming) + at);
    }
  }
#pragma unroll
  for (int j = 0; j < kMixSlots; ++j) {
    const int64_t v = threadIdx.x + int64_t{j} * kMixThreads;
    if (v < per_row) slot_sum[v] = acc[j];
  }
  __syncthreads();
  const int64_t per_head = p.head_dim / V;
  for (int64_t h = threadIdx.x; h < p.heads; h += blockDim.x) {
    float sum = 0.0f;
    for (int64_t v = h * per_head; v < (h + 1) * per_head; ++v) sum += slot_sum[v];
    p.d_alpha_partial[blockIdx.x * p.heads + h] = sum;
  }
}

template <typename T, typename Out>
__global__ void lse_merge_kernel(const LseMergeParams p) {
  wait_for_previous();
  release_next();
  using E = Elem<T>;
  constexpr int V = Vec<T>::n;
  const int64_t per_head = p.head_dim / V, total = p.rows * p.heads * per_head;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t d = (i % per_head) * V, h = (i / per_head) % p.heads, r = i / (per_head * p.heads);
    const float a = p.lse[h * p.lse_sh + r * p.lse_sr], b = p.l[h * p.l_sh + r * p.l_sr];
    // w = e^a / (e^a + e^b), from the larger of the two so that neither overflows.
    const float m = fmaxf(a, b);
    const float ea = m == -INFINITY ? 0.0f : expf(a - m), eb = m == -INFINITY ? 0.0f : expf(b - m);
    const float w = ea + eb > 0.0f ? ea / (ea + eb) : 1.0f;
    const Vec<T> ov = Vec<T>::load(static_cast<const T*>(p.o) + r * p.o_sr + h * p.o_sh + d);
    Out* out = static_cast<Out*>(p.out) + r * p.out_sr + h * p.out_sh + d;
    if constexpr (std::is_same_v<Out, T>) {
      Vec<T> prev = Vec<T>::load(out);
#pragma unroll
      for (int j = 0; j < V; ++j) prev.v[j] = E::from_float(w * E::to_float(prev.v[j]) + (1.0f - w) * E::to_float(ov.v[j]));
      prev.store(out);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) out[j] = w * out[j] + (1.0f - w) * E::to_float(ov.v[j]);
    }
  }
}

}  // namespace

cudaError_t launch_rms_norm_backward(const RmsNormBackwardParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    constexpr int V = Elem<T>::kVec;
    if (p.cols % V != 0 || !aligned<T>({p.dy, p.x, p.weight, p.dx})) return cudaErrorInvalidValue;
    const int threads = static_cast<int>(std::min<int64_t>(1024, std::max<int64_t>(32, (p.cols / V + 31) / 32 * 32)));
    return launch_kernel(rms_norm_backward_kernel<T>, static_cast<unsigned>(p.rows), threads, 0, stream, p);
  });
}

cudaError_t launch_silu_mul_backward(DType dtype, int64_t n, const void* dy, const void* gate, const void* up,
                                     void* d_gate, void* d_up, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  return dispatch_dtype(dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    constexpr int V = Elem<T>::kVec;
    if (n % V != 0 || !aligned<T>({dy, gate, up, d_gate, d_up})) return cudaErrorInvalidValue;
    return launch_kernel(silu_mul_backward_kernel<T>, grid_for(n / V, 256, 16384), 256, 0, stream, n,
                         static_cast<const T*>(dy), static_cast<const T*>(gate), static_cast<const T*>(up),
                         static_cast<T*>(d_gate), static_cast<T*>(d_up));
  });
}

bool gate_mix_fits(const GateMixParams& p) {
  const int V = p.dtype == DType::Float32 ? 4 : 8;
  return p.head_dim % V == 0 && p.heads * p.head_dim / V <= int64_t{kMixSlots} * kMixThreads &&
         multiples(V, {p.f_sb, p.f_sh, p.f_st, p.s_sb, p.s_sh, p.s_st}) &&
         (!p.grad || multiples(V, {p.g_sb, p.g_sh, p.g_st})) &&
         reinterpret_cast<uintptr_t>(p.full) % 16 == 0 && reinterpret_cast<uintptr_t>(p.streaming) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(p.grad) % 16 == 0;
}

cudaError_t launch_gate_mix(const GateMixParams& p, cudaStream_t stream) {
  const int64_t vectors = p.batch * p.seq * p.heads * p.head_dim / (p.dtype == DType::Float32 ? 4 : 8);
  if (vectors == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    return launch_kernel(gate_mix_kernel<T>, grid_for(vectors, 256, 16384), 256, 0, stream, p);
  });
}

cudaError_t launch_gate_mix_backward(const GateMixParams& p, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    const size_t smem = sizeof(float) * p.heads * p.head_dim / Elem<T>::kVec;
    return launch_kernel(gate_mix_backward_kernel<T>, static_cast<unsigned>(p.ctas), kMixThreads, smem, stream, p);
  });
}

bool lse_merge_fits(const LseMergeParams& p) {
  const int V = p.dtype == DType::Float32 ? 4 : 8;
  return p.head_dim % V == 0 && multiples(V, {p.out_sr, p.out_sh, p.o_sr, p.o_sh}) &&
         reinterpret_cast<uintptr_t>(p.o) % 16 == 0 && (p.out_float || reinterpret_cast<uintptr_t>(p.out) % 16 == 0);
}

cudaError_t launch_lse_merge(const LseMergeParams& p, cudaStream_t stream) {
  const int64_t vectors = p.rows * p.heads * p.head_dim / (p.dtype == DType::Float32 ? 4 : 8);
  if (vectors == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    const unsigned grid = grid_for(vectors, 256, 16384);
    return p.out_float ? launch_kernel(lse_merge_kernel<T, float>, grid, 256, 0, stream, p)
                       : launch_kernel(lse_merge_kernel<T, T>, grid, 256, 0, stream, p);
  });
}

}  // namespace duo::kernels::cuda
