// Matrix-vector products of a decode step (one token: x is a single row), read at memory
// bandwidth: each warp computes one or two dot products of K elements; lanes stride over the rows in
// 16-byte pieces (a warp's load instruction reads 512 contiguous bytes of one weight row), with
// kUnroll pieces of every row and of x in flight per lane before any is used. Weights are read
// with evict-first loads (read once per step), x through the read-only cache (every warp reads
// it). Several weights of the same K (q, k, v) share one launch; gate and up share one with the
// SwiGLU product as the output.
//
// Launches overlap the previous kernel (common.cuh). Requesting the first weights before waiting
// for it did not pay on an H200: into registers it cost occupancy, into L2 (bulk prefetch) it
// slowed the large products by up to 20%.
//
// With a norm (the RMSNorm before a decoder layer's projections), every CTA first computes
// weight · rmsnorm(x + residual) into shared memory and the products read x from there: the norm
// costs no launch of its own.
#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 8;

// y = weight · rmsnorm(h), h = x + residual, into y_smem (K elements); CTA 0 also stores h.
// Rounds as add_rms_norm_kernel (decode_ops.cu), through the same helpers; only the order of the
// sum of squares differs.
// Each thread loads up to kBatch pieces before using any, so the CTA waits for one round trip
// rather than one per piece. Every thread of the CTA must call it.
template <typename T>
__device__ void normalize_input(const MatvecParams& p, uint4* y_smem) {
  using E = Elem<T>;
  constexpr int VEC = E::kVec;
  constexpr int kBatch = 2;
  const int64_t pieces = p.K / VEC;
  const uint4* x = static_cast<const uint4*>(p.x);
  const uint4* r = static_cast<const uint4*>(p.residual);
  const uint4* g = static_cast<const uint4*>(p.norm_weight);
  uint4* h_out = blockIdx.x == 0 && r ? static_cast<uint4*>(p.h_out) : nullptr;
  float ss = 0.0f;
  for (int64_t base = threadIdx.x; base < pieces; base += kThreads * kBatch) {
    uint4 xv[kBatch], rv[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t i = base + b * kThreads;
      if (i < pieces) {
        xv[b] = __ldg(x + i);
        if (r) rv[b] = __ldg(r + i);
      }
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t i = base + b * kThreads;
      if (i >= pieces) break;
      float hf[VEC];
      E::unpack(xv[b], hf);
      if (r) {
        float rf[VEC];
        E::unpack(rv[b], rf);
        T h[VEC];
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          h[e] = residual_add<T>(hf[e], rf[e]);
          hf[e] = E::to_float(h[e]);
        }
        memcpy(&xv[b], h, sizeof(uint4));
        if (h_out) h_out[i] = xv[b];
      }
      y_smem[i] = xv[b];  // h, normalised below by the same thread
#pragma unroll
      for (int e = 0; e < VEC; ++e) ss = fmaf(hf[e], hf[e], ss);
    }
  }
  ss = block_reduce<false>(ss);
  const float inv = rms_scale(ss, p.K, p.eps);
  for (int64_t i = threadIdx.x; i < pieces; i += kThreads) {
    float hf[VEC], gf[VEC];
    E::unpack(y_smem[i], hf);
    E::unpack(__ldg(g + i), gf);
    T y[VEC];
#pragma unroll
    for (int e = 0; e < VEC; ++e) y[e] = rms_normed<T>(hf[e], inv, gf[e]);
    memcpy(&y_smem[i], y, sizeof(uint4));
  }
  __syncthreads();
}

// kRows: dot products per warp (2 shares each x piece between two rows; 1 gives twice the
// warps, for matrices with few rows and long ones, such as the down projection). kNorm: x is
// normalised first (MatvecParams::norm_weight).
template <typename T, bool kSwiglu, int kRows, bool kNorm>
__global__ void __launch_bounds__(kThreads) matvec_kernel(const __grid_constant__ MatvecParams p) {
  using E = Elem<T>;
  constexpr int VEC = E::kVec;
  const int lane = threadIdx.x % 32;
  const int64_t warp_id = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;

  // The rows of this warp: with swiglu, row warp_id of gate and of up; else rows
  // warp_id * kRows + r of the weights laid end to end.
  const T* rows[kRows];
  int seg[kRows];
  int64_t local[kRows];
  bool valid[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if (kSwiglu) {
      seg[r] = r;
      local[r] = warp_id;
    } else {
      int64_t row = warp_id * kRows + r;
      seg[r] = 0;
      while (seg[r] < p.num - 1 && row >= p.n[seg[r]]) row -= p.n[seg[r]++];
      local[r] = row;
    }
  }
  // With RoPE, a warp's two rows of a rotated output are rows d and d + head_dim/2 of one head
  // (pair j of the segment: head j / (head_dim/2), d = j % (head_dim/2)), so that the epilogue
  // can rotate them. Segments are whole heads, so both rows lie in the same one.
  const bool rope = !kSwiglu && kRows == 2 && seg[0] < p.rope_outputs;
  if (rope) {
    const int64_t half = p.head_dim / 2, j = local[0] / 2;
    local[0] = j / half * p.head_dim + j % half;
    local[kRows - 1] = local[0] + half;
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    valid[r] = local[r] < p.n[seg[r]];
    rows[r] = static_cast<const T*>(p.w[seg[r]]) + (valid[r] ? local[r] : 0) * p.K;
  }

  const int64_t pieces = p.K / VEC;
  const uint4* w[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) w[r] = reinterpret_cast<const uint4*>(rows[r]);  // row 0 if invalid

  wait_for_previous();
  release_next();

  extern __shared__ uint4 x_smem[];  // with kNorm: the normalised x
  if constexpr (kNorm) normalize_input<T>(p, x_smem);
  const uint4* x_global = static_cast<const uint4*>(p.x);
  auto load_x = [&](int64_t i) {
    if constexpr (kNorm)
      return x_smem[i];
    else
      return __ldg(x_global + i);
  };

  float acc[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
  auto consume = [&](const uint4& xv, const uint4 (&wv)[kRows]) {
    float xf[VEC];
    E::unpack(xv, xf);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      float wf[VEC];
      E::unpack(wv[r], wf);
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[r] = fmaf(wf[e], xf[e], acc[r]);
    }
  };
  int64_t i0 = lane;
  // Whole chunks: every load unconditional, all issued before the first use.
  for (; i0 + 32 * (kUnroll - 1) < pieces; i0 += 32 * kUnroll) {
    uint4 xv[kUnroll], wv[kUnroll][kRows];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      xv[u] = load_x(i0 + u * 32);
#pragma unroll
      for (int r = 0; r < kRows; ++r) wv[u][r] = __ldcs(w[r] + i0 + u * 32);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) consume(xv[u], wv[u]);
  }
  for (; i0 < pieces; i0 += 32) {  // the rest, one piece at a time
    uint4 wv[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldcs(w[r] + i0);
    consume(load_x(i0), wv);
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = warp_sum(acc[r]);
  if (lane != 0) return;

  auto biased = [&](int r) {
    const T* b = static_cast<const T*>(p.bias[seg[r]]);
    return E::from_float(b ? __fadd_rn(acc[r], E::to_float(b[local[r]])) : acc[r]);
  };
  if (rope) {
    if (!valid[0]) return;
    // As rope_qk_kernel (decode_ops.cu), x itself the projection rounded to the dtype.
    const T* cs = static_cast<const T*>(p.rope_cos);
    const T* sn = static_cast<const T*>(p.rope_sin);
    auto rotate = [&](float x, float rot, int64_t d) {
      return rope_element<T>(x, rot, E::to_float(cs[d]), E::to_float(sn[d]));
    };
    const float x0 = E::to_float(biased(0)), x1 = E::to_float(biased(1));
    const int64_t d = local[0] % p.head_dim;
    T* out = static_cast<T*>(p.out[seg[0]]);
    out[local[0]] = rotate(x0, -x1, d);
    out[local[1]] = rotate(x1, x0, d + p.head_dim / 2);
  } else if (kSwiglu) {
    if (!valid[0]) return;
    const float g = E::to_float(biased(0)), u = E::to_float(biased(1));
    const T s = E::from_float(g / (1.0f + expf(-g)));
    static_cast<T*>(p.out[0])[local[0]] = E::from_float(__fmul_rn(E::to_float(s), u));
  } else {
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      if (valid[r]) static_cast<T*>(p.out[seg[r]])[local[r]] = biased(r);
  }
}

template <typename T, bool kNorm>
cudaError_t launch_t(const MatvecParams& p, bool two, unsigned blocks, cudaStream_t stream) {
  const size_t smem = kNorm ? static_cast<size_t>(p.K) * sizeof(T) : 0;
  if (p.swiglu) return launch_kernel(matvec_kernel<T, true, 2, kNorm>, blocks, kThreads, smem, stream, p);
  if (two) return launch_kernel(matvec_kernel<T, false, 2, kNorm>, blocks, kThreads, smem, stream, p);
  return launch_kernel(matvec_kernel<T, false, 1, kNorm>, blocks, kThreads, smem, stream, p);
}

}  // namespace

cudaError_t launch_matvec(const MatvecParams& p, cudaStream_t stream) {
  if (p.num < 1 || p.num > 3 || (p.swiglu && (p.num != 2 || p.n[0] != p.n[1]))) return cudaErrorInvalidValue;
  if (p.norm_weight && !matvec_norm_fits(p.dtype, p.K)) return cudaErrorInvalidValue;
  int64_t total = 0;
  for (int i = 0; i < p.num; ++i) total += p.n[i];
  if (p.rope_outputs > 0) {
    if (p.swiglu || p.rope_outputs > p.num || p.head_dim < 2 || p.head_dim % 2 != 0) return cudaErrorInvalidValue;
    for (int i = 0; i < p.num; ++i)
      if (p.n[i] % 2 != 0 || (i < p.rope_outputs && p.n[i] % p.head_dim != 0)) return cudaErrorInvalidValue;
  }
  // Two rows per warp unless that leaves fewer than min_blocks CTAs (always with RoPE).
  const bool two =
      p.swiglu || p.rope_outputs > 0 || (total + 2 * kWarps - 1) / (2 * kWarps) >= p.min_blocks;
  const int64_t warps = p.swiglu ? p.n[0] : (two ? (total + 1) / 2 : total);
  const auto blocks = static_cast<unsigned>((warps + kWarps - 1) / kWarps);
  if (blocks == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    return p.norm_weight ? launch_t<T, true>(p, two, blocks, stream) : launch_t<T, false>(p, two, blocks, stream);
  });
}

bool matvec_norm_fits(DType dtype, int64_t K) {
  // The normalised x lives in shared memory: at most the 48 KB a CTA gets without opting in.
  return K * (dtype == DType::Float32 ? 4 : 2) <= 48 * 1024;
}

}  // namespace duo::kernels::cuda
