// Flash-decoding for one query token per (batch, query head), GQA native, over one or two
// caches in one launch.
//
// Pass 1 (split_kernel): one CTA per (cache, batch, cache head, split). Each CTA reads one
// contiguous range of one cache head's keys and values exactly once and attends all `group`
// query heads of that KV head to it. Inside a warp, LANES = D / VEC lanes share one key row (16-byte loads, a row
// per LANES lanes, so each load instruction of a warp reads 32 × 16 contiguous bytes); each
// thread keeps kUnroll keys' and values' loads in flight before using them. Every group of
// LANES lanes keeps its own online-softmax state (max, sum, accumulator over its D slice);
// the states are merged by shuffles inside the warp, then across warps in shared memory, and
// written as one partial (normalised output, log-sum-exp) per (query head, split).
//
// Pass 2 (combine_kernel): one CTA per (served query head, batch), its threads spread over the
// splits and D. Merges the splits' partials by their log-sum-exp, adds the optional extra
// key/value (the decoded token itself, for a cache that does not hold it yet), and writes the
// output row.
//
// The number of valid keys is read on the device and the ranges are derived from it, so a
// launch does not depend on the length: a captured graph replays at any length up to the
// capacity it was sized for.
#include <cstring>

#include "common.cuh"

namespace duo::kernels::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kUnroll = 4;
constexpr int kStages = 3;  // cp.async pipeline depth of the shared-memory variant
constexpr int kCombineThreads = 512;
// Shared memory of the pipelined variant: per stage, per thread, kUnroll keys and values of 16
// bytes (48 KB for 3 stages: the default per-block limit). Also holds the final merge.
constexpr int kAsyncSmemBytes = kStages * kUnroll * 2 * kThreads * 16;

__device__ inline void cp_async16(void* smem, const void* global, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global), "r"(src_bytes));
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ inline void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Which cache a flat block index falls in, and the index within that cache's blocks.
__device__ inline int cache_of(const DecodeAttentionParams& p, int per_cache0, int& local) {
  local = blockIdx.x;
  if (p.num_caches > 1 && local >= per_cache0) {
    local -= per_cache0;
    return 1;
  }
  return 0;
}

// kAsync = false (variant 0): each thread loads its kUnroll keys and values straight into
// registers at the top of each iteration. kAsync = true (variant 1): the same 16-byte pieces go
// through a kStages-deep cp.async ring in shared memory, so each thread keeps two further
// iterations in flight while it computes on one; every thread reads back only what it copied
// itself, so no barrier is needed inside the loop. On an H200 variant 0 was faster (3.66 vs
// 3.30 TB/s on a 500K-key cache): the kernel is not short of loads in flight.
template <typename T, int D, int G, bool kAsync>
__global__ void __launch_bounds__(kThreads, G >= 8 ? 2 : 4) split_kernel(const __grid_constant__ DecodeAttentionParams p) {
  using E = Elem<T>;
  constexpr int VEC = E::kVec;
  constexpr int LANES = D / VEC;
  static_assert(LANES >= 1 && LANES <= 32 && 32 % LANES == 0, "head_dim / vector width");
  constexpr int KPW = 32 / LANES;                // keys per warp per load instruction
  constexpr int WARP_KEYS = KPW * kUnroll;       // keys per warp per iteration
  constexpr int TILE = kWarps * WARP_KEYS;       // keys per CTA per iteration
  extern __shared__ uint4 smem[];

  int local;
  const DecodeCacheParams& c = p.cache[cache_of(p, p.batch * p.cache[0].heads * p.cache[0].splits, local)];
  const int split = local % c.splits, head = (local / c.splits) % c.heads, b = local / c.splits / c.heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int sub = lane / LANES, dl = lane % LANES;

  int64_t len = *c.length;
  len = len < 0 ? 0 : (len > c.capacity ? c.capacity : len);
  const int kvh = c.kv_heads ? static_cast<int>(c.kv_heads[head]) : head;
  const int64_t n_tiles = (len + TILE - 1) / TILE;
  const int64_t per_split = (n_tiles + c.splits - 1) / c.splits;
  const int64_t start = static_cast<int64_t>(split) * per_split * TILE;
  const int64_t end = start + per_split * TILE < len ? start + per_split * TILE : len;

  float q[G][VEC];
  const T* q_row = static_cast<const T*>(p.q) + b * p.q_sb;
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < VEC; ++e)
      q[g][e] = g < p.group ? E::to_float(q_row[(kvh * p.group + g) * p.q_sh + dl * VEC + e]) * p.scale_log2 : 0.0f;
  }

  float m[G], l[G], acc[G][VEC];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[g][e] = 0.0f;
  }

  const T* k_base = static_cast<const T*>(c.k) + b * c.k_sb + head * c.k_sh + dl * VEC;
  const T* v_base = static_cast<const T*>(c.v) + b * c.v_sb + head * c.v_sh + dl * VEC;
  const int64_t first = start + warp * WARP_KEYS;  // this warp's keys: [first + it·TILE, +WARP_KEYS)
  const int64_t n_iter = first < end ? (end - first + TILE - 1) / TILE : 0;
  auto slot = [&](int64_t it, int u, int kv) { return smem + ((it % kStages * kUnroll + u) * 2 + kv) * kThreads + threadIdx.x; };
  auto issue = [&](int64_t it) {  // kAsync: start the copies of iteration it (zero-fill past the end)
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t j = first + it * TILE + u * KPW + sub;
      const bool ok = it < n_iter && j < end;
      cp_async16(slot(it, u, 0), ok ? k_base + j * D : k_base, ok ? 16 : 0);
      cp_async16(slot(it, u, 1), ok ? v_base + j * D : v_base, ok ? 16 : 0);
    }
    cp_async_commit();
  };
  if constexpr (kAsync) {
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) issue(s);
  }

  for (int64_t it = 0; it < n_iter; ++it) {
    const int64_t t0 = first + it * TILE;
    uint4 kr[kUnroll], vr[kUnroll];
    if constexpr (kAsync) {
      issue(it + kStages - 1);
      cp_async_wait<kStages - 1>();  // iteration it's group has landed
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        kr[u] = *slot(it, u, 0);
        vr[u] = *slot(it, u, 1);
      }
    } else {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t j = t0 + u * KPW + sub;
        if (j < end) {
          kr[u] = __ldg(reinterpret_cast<const uint4*>(k_base + j * D));
          vr[u] = __ldg(reinterpret_cast<const uint4*>(v_base + j * D));
        } else {
          kr[u] = make_uint4(0, 0, 0, 0);
          vr[u] = make_uint4(0, 0, 0, 0);
        }
      }
    }

    float s[kUnroll][G];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float kf[VEC];
      E::unpack(kr[u], kf);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < VEC; ++e) dot = fmaf(q[g][e], kf[e], dot);
        s[u][g] = dot;
      }
    }
#pragma unroll
    for (int off = LANES / 2; off > 0; off /= 2) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
#pragma unroll
        for (int g = 0; g < G; ++g) s[u][g] += __shfl_xor_sync(0xffffffffu, s[u][g], off);
    }

    float pr[kUnroll][G];
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float mx = -INFINITY;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (t0 + u * KPW + sub >= end) s[u][g] = -INFINITY;
        mx = fmaxf(mx, s[u][g]);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) pr[u][g] = 0.0f;
      if (mx == -INFINITY) continue;  // no valid key for this lane group in this block
      const float m_new = fmaxf(m[g], mx);
      const float corr = exp2f(m[g] - m_new);  // 0 while m was -inf
      m[g] = m_new;
      l[g] *= corr;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[g][e] *= corr;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        pr[u][g] = exp2f(s[u][g] - m_new);  // 0 for masked keys
        l[g] += pr[u][g];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float vf[VEC];
      E::unpack(vr[u], vf);
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[g][e] = fmaf(pr[u][g], vf[e], acc[g][e]);
    }
  }

  // Merge the lane groups of a warp (they hold the same dims of different keys).
#pragma unroll
  for (int off = LANES; off < 32; off *= 2) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float m_o = __shfl_xor_sync(0xffffffffu, m[g], off);
      const float l_o = __shfl_xor_sync(0xffffffffu, l[g], off);
      const float m_n = fmaxf(m[g], m_o);
      const float a = m[g] == -INFINITY ? 0.0f : exp2f(m[g] - m_n);
      const float c = m_o == -INFINITY ? 0.0f : exp2f(m_o - m_n);
      l[g] = l[g] * a + l_o * c;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[g][e] = acc[g][e] * a + __shfl_xor_sync(0xffffffffu, acc[g][e], off) * c;
      m[g] = m_n;
    }
  }

  // Merge the warps (through the pipeline's shared memory once every copy has landed).
  __shared__ float sm_static[kAsync ? 1 : kWarps * G * (D + 2)];
  float* sm = sm_static;
  if constexpr (kAsync) {
    cp_async_wait<0>();
    __syncthreads();
    sm = reinterpret_cast<float*>(smem);
  }
  float* sm_m = sm;                     // [kWarps][G]
  float* sm_l = sm + kWarps * G;        // [kWarps][G]
  float* sm_acc = sm + 2 * kWarps * G;  // [kWarps][G][D]
  if (sub == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
#pragma unroll
      for (int e = 0; e < VEC; ++e) sm_acc[(warp * G + g) * D + dl * VEC + e] = acc[g][e];
      if (dl == 0) {
        sm_m[warp * G + g] = m[g];
        sm_l[warp * G + g] = l[g];
      }
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < p.group * D; idx += kThreads) {
    const int g = idx / D, d = idx % D;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sm_m[w * G + g]);
    float L = 0.0f, A = 0.0f;
    if (mx != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        if (sm_m[w * G + g] == -INFINITY) continue;
        const float f = exp2f(sm_m[w * G + g] - mx);
        L += sm_l[w * G + g] * f;
        A += sm_acc[(w * G + g) * D + d] * f;
      }
    }
    const int64_t row = ((static_cast<int64_t>(b) * c.heads + head) * p.group + g) * c.splits + split;
    c.partial_o[row * D + d] = L > 0.0f ? A / L : 0.0f;
    if (d == 0) c.partial_lse[row] = L > 0.0f ? mx + log2f(L) : -INFINITY;
  }
}

template <typename T>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const __grid_constant__ DecodeAttentionParams p) {
  using E = Elem<T>;
  extern __shared__ float weight[];  // [splits]
  __shared__ float part[kCombineThreads];
  int local;
  const DecodeCacheParams& c = p.cache[cache_of(p, p.cache[0].heads * p.group, local)];
  const int head = local / p.group, g = local % p.group, b = blockIdx.y;
  const int kvh = c.kv_heads ? static_cast<int>(c.kv_heads[head]) : head;
  const int qh = kvh * p.group + g;
  const int D = p.head_dim;
  const int64_t row0 = ((static_cast<int64_t>(b) * c.heads + head) * p.group + g) * c.splits;

  float mx = -INFINITY;
  for (int s = threadIdx.x; s < c.splits; s += blockDim.x) mx = fmaxf(mx, c.partial_lse[row0 + s]);
  mx = block_reduce<true>(mx);

  const T* q_row = static_cast<const T*>(p.q) + b * p.q_sb + qh * p.q_sh;
  float s_new = -INFINITY;
  if (c.k_new) {
    const T* kn = static_cast<const T*>(c.k_new) + b * c.kn_sb + kvh * c.kn_sh;
    float dot = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) dot += E::to_float(q_row[d]) * E::to_float(kn[d]);
    s_new = block_reduce<false>(dot) * p.scale_log2;
    mx = fmaxf(mx, s_new);
  }

  float wsum = 0.0f;
  for (int s = threadIdx.x; s < c.splits; s += blockDim.x) {
    const float lse = c.partial_lse[row0 + s];
    const float w = lse == -INFINITY ? 0.0f : exp2f(lse - mx);
    weight[s] = w;
    wsum += w;
  }
  wsum = block_reduce<false>(wsum);  // its barriers also publish weight[]
  const float w_new = s_new == -INFINITY ? 0.0f : exp2f(s_new - mx);
  wsum += w_new;

  // Threads split into blockDim / D groups, each summing every n-th split for its dim.
  const int groups = blockDim.x / D;  // D divides blockDim (32, 64, 128 into 512)
  const int gi = threadIdx.x / D, d = threadIdx.x % D;
  float a = 0.0f;
  if (gi < groups) {
    const float* po = c.partial_o + row0 * D + d;
#pragma unroll 4
    for (int s = gi; s < c.splits; s += groups) a += weight[s] * po[static_cast<int64_t>(s) * D];
  }
  part[threadIdx.x] = a;
  __syncthreads();
  if (threadIdx.x < D) {
    for (int i = 1; i < groups; ++i) a += part[i * D + threadIdx.x];
    if (c.v_new) a += w_new * E::to_float((static_cast<const T*>(c.v_new) + b * c.vn_sb + kvh * c.vn_sh)[d]);
    T* out = static_cast<T*>(p.out) + b * p.out_sb + qh * p.out_sh;
    out[d] = E::from_float(wsum > 0.0f ? a / wsum : 0.0f);
  }
}

template <typename T, int D, int G>
cudaError_t launch_split(const DecodeAttentionParams& p, cudaStream_t stream) {
  unsigned blocks = 0;
  for (int i = 0; i < p.num_caches; ++i) blocks += p.batch * p.cache[i].heads * p.cache[i].splits;
  if (p.variant == 0)
    split_kernel<T, D, G, false><<<blocks, kThreads, 0, stream>>>(p);
  else
    split_kernel<T, D, G, true><<<blocks, kThreads, kAsyncSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <typename T, int D, int G>
int occupancy_g(int variant) {
  int n = 0;
  const cudaError_t err =
      variant == 0 ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, split_kernel<T, D, G, false>, kThreads, 0)
                   : cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, split_kernel<T, D, G, true>, kThreads,
                                                                   kAsyncSmemBytes);
  return err == cudaSuccess && n > 0 ? n : 1;
}

// G: the group rounded up to 1, 2, 4 or 8 (query heads past the group are computed and dropped).
template <typename T, int D>
cudaError_t launch_d(const DecodeAttentionParams& p, cudaStream_t stream) {
  cudaError_t err = p.group <= 1   ? launch_split<T, D, 1>(p, stream)
                    : p.group <= 2 ? launch_split<T, D, 2>(p, stream)
                    : p.group <= 4 ? launch_split<T, D, 4>(p, stream)
                                   : launch_split<T, D, 8>(p, stream);
  if (err != cudaSuccess) return err;
  int heads = 0, max_splits = 1;
  for (int i = 0; i < p.num_caches; ++i) {
    heads += p.cache[i].heads;
    max_splits = p.cache[i].splits > max_splits ? p.cache[i].splits : max_splits;
  }
  combine_kernel<T><<<dim3(heads * p.group, p.batch), kCombineThreads, max_splits * sizeof(float), stream>>>(p);
  return cudaGetLastError();
}

template <typename T, int D>
int occupancy_d(int group, int variant) {
  return group <= 1 ? occupancy_g<T, D, 1>(variant)
         : group <= 2 ? occupancy_g<T, D, 2>(variant)
         : group <= 4 ? occupancy_g<T, D, 4>(variant)
                      : occupancy_g<T, D, 8>(variant);
}

template <typename T>
int occupancy_t(int head_dim, int group, int variant) {
  switch (head_dim) {
    case 32: return occupancy_d<T, 32>(group, variant);
    case 64: return occupancy_d<T, 64>(group, variant);
    default: return occupancy_d<T, 128>(group, variant);
  }
}

}  // namespace

int decode_attention_ctas_per_sm(DType dtype, int head_dim, int group, int variant) {
  switch (dtype) {
    case DType::Float32: return occupancy_t<float>(head_dim, group, variant);
    case DType::Float16: return occupancy_t<__half>(head_dim, group, variant);
    case DType::BFloat16: return occupancy_t<__nv_bfloat16>(head_dim, group, variant);
  }
  return 1;
}

cudaError_t launch_decode_attention(const DecodeAttentionParams& p, cudaStream_t stream) {
  if (p.group < 1 || p.group > 8 || p.variant < 0 || p.variant > 1 || p.num_caches < 1 ||
      p.num_caches > kMaxDecodeCaches || p.batch < 1)
    return cudaErrorInvalidValue;
  for (int i = 0; i < p.num_caches; ++i)
    if (p.cache[i].splits < 1 || p.cache[i].splits > 1024 || p.cache[i].heads < 1) return cudaErrorInvalidValue;
  return dispatch_dtype(p.dtype, [&](auto t) -> cudaError_t {
    using T = decltype(t);
    switch (p.head_dim) {
      case 32: return launch_d<T, 32>(p, stream);
      case 64: return launch_d<T, 64>(p, stream);
      case 128: return launch_d<T, 128>(p, stream);
    }
    return cudaErrorInvalidValue;
  });
}

}  // namespace duo::kernels::cuda
