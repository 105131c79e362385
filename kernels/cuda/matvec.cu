// Matrix-vector products of a decode step (one token: x is a single row), read at memory
// bandwidth: each warp computes one or two dot products of K elements; lanes stride over the rows in
// 16-byte pieces (a warp's load instruction reads 512 contiguous bytes of one weight row), with
// kUnroll pieces of every row and of x in flight per lane before any is used. Weights are read
// with evict-first loads (read once per step), x through the read-only cache (every warp reads
// it). Several weights of the same K (q, k, v) share one launch; gate and up share one with the
// SwiGLU product as the output.
#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 8;

// kRows: dot products per warp (2 shares each x piece between two rows; 1 gives twice the
// warps, for matrices with few rows and long ones, such as the down projection).
template <typename T, bool kSwiglu, int kRows>
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
    valid[r] = local[r] < p.n[seg[r]];
    rows[r] = static_cast<const T*>(p.w[seg[r]]) + (valid[r] ? local[r] : 0) * p.K;
  }

  const int64_t pieces = p.K / VEC;
  const uint4* x = static_cast<const uint4*>(p.x);
  const uint4* w[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) w[r] = reinterpret_cast<const uint4*>(rows[r]);  // row 0 if invalid
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
  // Whole chunks: every load unconditional, all issued before the first use.
  int64_t i0 = lane;
  for (; i0 + 32 * (kUnroll - 1) < pieces; i0 += 32 * kUnroll) {
    uint4 xv[kUnroll], wv[kUnroll][kRows];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      xv[u] = __ldg(x + i0 + u * 32);
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
    consume(__ldg(x + i0), wv);
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = warp_sum(acc[r]);
  if (lane != 0) return;

  auto biased = [&](int r) {
    const T* b = static_cast<const T*>(p.bias[seg[r]]);
    return E::from_float(b ? __fadd_rn(acc[r], E::to_float(b[local[r]])) : acc[r]);
  };
  if (kSwiglu) {
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

}  // namespace

cudaError_t launch_matvec(const MatvecParams& p, cudaStream_t stream) {
  if (p.num < 1 || p.num > 3 || (p.swiglu && (p.num != 2 || p.n[0] != p.n[1]))) return cudaErrorInvalidValue;
  int64_t total = 0;
  for (int i = 0; i < p.num; ++i) total += p.n[i];
  // Two rows per warp unless that leaves fewer than min_blocks CTAs.
  const bool two = p.swiglu || (total + 2 * kWarps - 1) / (2 * kWarps) >= p.min_blocks;
  const int64_t warps = p.swiglu ? p.n[0] : (two ? (total + 1) / 2 : total);
  const int64_t blocks = (warps + kWarps - 1) / kWarps;
  if (blocks == 0) return cudaSuccess;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    if (p.swiglu)
      matvec_kernel<T, true, 2><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
    else if (two)
      matvec_kernel<T, false, 2><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
    else
      matvec_kernel<T, false, 1><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
    return cudaGetLastError();
  });
}

}  // namespace duo::kernels::cuda
