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
// Pass 2 (combine_kernel): one CTA per (served query head, batch), its warps spread over the
// splits (float4 loads of the partial rows, all independent, so the CTA waits for few round trips). Merges the splits' partials by their log-sum-exp, adds the optional extra
// key/value (the decoded token itself, for a cache that does not hold it yet), and writes the
// output row; then, if asked, stores the extra key/value in the cache at a device slot.
//
// The number of valid keys is read on the device and the ranges are derived from it, so a
// launch does not depend on the length: a captured graph replays at any length up to the
// capacity it was sized for.
#include <cstring>
#include <type_traits>

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

// How keys and values reach the registers:
//   variant 0: each thread loads its kUnroll keys and values at the top of each iteration.
//   variant 1: the same 16-byte pieces go through a kStages-deep cp.async ring in shared
//     memory, so each thread keeps two further iterations in flight while it computes on one;
//     every thread reads back only what it copied itself, so no barrier is needed in the loop.
//   variant 2: like 0, but the next iteration's loads are issued before this one's arithmetic
//     (double-buffered registers; three CTAs per multiprocessor instead of four).
template <int kVariant, int G>
constexpr int min_ctas() {
  return G >= 8 ? 2 : (kVariant == 2 ? 3 : 4);
}

template <typename T, int D, int G, int kVariant>
__global__ void __launch_bounds__(kThreads, min_ctas<kVariant, G>())
    split_kernel(const __grid_constant__ DecodeAttentionParams p) {
  constexpr bool kAsync = kVariant == 1;
  using E = Elem<T>;
  constexpr int VEC = E::kVec;
  constexpr int LANES = D / VEC;
  static_assert(LANES >= 1 && LANES <= 32 && 32 % LANES == 0, "head_dim / vector width");
  constexpr int KPW = 32 / LANES;                // keys per warp per load instruction
  constexpr int WARP_KEYS = KPW * kUnroll;       // keys per warp per iteration
  constexpr int TILE = kWarps * WARP_KEYS;       // keys per CTA per iteration
  extern __shared__ uint4 smem[];
  wait_for_previous();
  release_next();

  int local;
  const DecodeCacheParams& c = p.cache[cache_of(p, p.batch * p.cache[0].heads * p.cache[0].splits, local)];
  const int split = local % c.splits, head = (local / c.splits) % c.heads, b = local / c.splits / c.heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int sub = lane / LANES, dl = lane % LANES;

  // Key indices fit in 32 bits (capacity < 2^31, checked by the wrapper): fewer registers.
  const int64_t len64 = *c.length;
  const int len = static_cast<int>(len64 < 0 ? 0 : (len64 > c.capacity ? c.capacity : len64));
  const int kvh = c.kv_heads ? static_cast<int>(c.kv_heads[head]) : head;
  const int n_tiles = (len + TILE - 1) / TILE;
  const int per_split = (n_tiles + c.splits - 1) / c.splits;
  const int start = split * per_split * TILE;
  const int end = start + per_split * TILE < len ? start + per_split * TILE : len;

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
  const int first = start + warp * WARP_KEYS;  // this warp's keys: [first + it·TILE, +WARP_KEYS)
  const int n_iter = first < end ? (end - first + TILE - 1) / TILE : 0;
  auto slot = [&](int it, int u, int kv) { return smem + ((it % kStages * kUnroll + u) * 2 + kv) * kThreads + threadIdx.x; };
  auto issue = [&](int it) {  // kAsync: start the copies of iteration it (zero-fill past the end)
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = first + it * TILE + u * KPW + sub;
      const bool ok = it < n_iter && j < end;
      cp_async16(slot(it, u, 0), ok ? k_base + static_cast<int64_t>(j) * D : k_base, ok ? 16 : 0);
      cp_async16(slot(it, u, 1), ok ? v_base + static_cast<int64_t>(j) * D : v_base, ok ? 16 : 0);
    }
    cp_async_commit();
  };
  if constexpr (kAsync) {
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) issue(s);
  }

  auto load = [&](int it, uint4 (&kr)[kUnroll], uint4 (&vr)[kUnroll]) {  // variants 0 and 2
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = first + it * TILE + u * KPW + sub;
      if (j < end) {
        kr[u] = __ldg(reinterpret_cast<const uint4*>(k_base + static_cast<int64_t>(j) * D));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(v_base + static_cast<int64_t>(j) * D));
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
  };
  uint4 next_k[kVariant == 2 ? kUnroll : 1], next_v[kVariant == 2 ? kUnroll : 1];
  if constexpr (kVariant == 2) {
    if (n_iter > 0) load(0, next_k, next_v);
  }

  for (int it = 0; it < n_iter; ++it) {
    const int t0 = first + it * TILE;
    uint4 kr[kUnroll], vr[kUnroll];
    if constexpr (kAsync) {
      issue(it + kStages - 1);
      cp_async_wait<kStages - 1>();  // iteration it's group has landed
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        kr[u] = *slot(it, u, 0);
        vr[u] = *slot(it, u, 1);
      }
    } else if constexpr (kVariant == 2) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        kr[u] = next_k[u];
        vr[u] = next_v[u];
      }
      if (it + 1 < n_iter) load(it + 1, next_k, next_v);
    } else {
      load(it, kr, vr);
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

    // s becomes the probabilities in place (no second array: registers are the limit here).
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float mx = -INFINITY;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (t0 + u * KPW + sub >= end) s[u][g] = -INFINITY;
        mx = fmaxf(mx, s[u][g]);
      }
      if (mx == -INFINITY) {  // no valid key for this lane group in this block
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) s[u][g] = 0.0f;
        continue;
      }
      const float m_new = fmaxf(m[g], mx);
      const float corr = exp2f(m[g] - m_new);  // 0 while m was -inf
      m[g] = m_new;
      l[g] *= corr;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[g][e] *= corr;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        s[u][g] = exp2f(s[u][g] - m_new);  // 0 for masked keys
        l[g] += s[u][g];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float vf[VEC];
      E::unpack(vr[u], vf);
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[g][e] = fmaf(s[u][g], vf[e], acc[g][e]);
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

// ---- variant 3: the same pass on the tensor cores (bf16/fp16, D 64 or 128, group ≤ 8) ------
//
// Each warp takes 16 keys per iteration. S = Q·Kᵀ is two mma.m16n8k16 tiles of 8 keys per
// 16-dim chunk, with the group's query heads as rows 0..group-1 of A (rows 8..15 zero); P·V is
// one mma per 8 output dims with P (rounded to the dtype, as FlashAttention does) as A. Keys and
// values go from global memory straight into fragment registers, without shared memory: the
// reduction order over D is free, so D is permuted such that each thread's K fragments are 4
// contiguous 16-byte pieces of its key row (dims v·32 + r·8 .. +8, r = lane % 4), and the output
// dims such that each thread's V fragments are one contiguous run of D/8 dims (dims g·D/8 ..,
// g = lane / 4) of the four keys it needs. That leaves about 11 instructions per key and warp
// instead of about 66 for the scalar variants.
template <typename T>
struct Mma;

template <>
struct Mma<__nv_bfloat16> {
  __device__ static void run(float (&d)[4], uint32_t a0, uint32_t a2, uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
  }
  __device__ static uint32_t pack(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
  }
};

template <>
struct Mma<__half> {
  __device__ static void run(float (&d)[4], uint32_t a0, uint32_t a2, uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(0u), "r"(a2), "r"(0u), "r"(b0), "r"(b1));
  }
  __device__ static uint32_t pack(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
  }
};

__device__ inline uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

template <typename T>
__device__ inline uint32_t bits2(const T* row, int d) {  // elements d, d+1 as one register, d low
  const uint16_t* u = reinterpret_cast<const uint16_t*>(row);
  return static_cast<uint32_t>(u[d]) | (static_cast<uint32_t>(u[d + 1]) << 16);
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 3) mma_split_kernel(const __grid_constant__ DecodeAttentionParams p) {
  static_assert(D == 64 || D == 128, "head_dim");
  constexpr int NV = D / 32;   // 16-byte pieces of a key row per thread
  constexpr int NC = D / 16;   // k-chunks of Q·Kᵀ
  constexpr int DV = D / 8;    // value dims per thread and key = output tiles of 8 dims
  constexpr int NVV = DV / 8;  // 16-byte pieces of those per key
  constexpr int WARP_KEYS = 16;
  constexpr int TILE = kWarps * WARP_KEYS;
  using M = Mma<T>;
  wait_for_previous();
  release_next();

  int local;
  const DecodeCacheParams& c = p.cache[cache_of(p, p.batch * p.cache[0].heads * p.cache[0].splits, local)];
  const int split = local % c.splits, head = (local / c.splits) % c.heads, b = local / c.splits / c.heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane >> 2, r = lane & 3;  // fragment row (query head of the group) and column pair

  const int64_t len64 = *c.length;
  const int len = static_cast<int>(len64 < 0 ? 0 : (len64 > c.capacity ? c.capacity : len64));
  const int kvh = c.kv_heads ? static_cast<int>(c.kv_heads[head]) : head;
  const int n_tiles = (len + TILE - 1) / TILE;
  const int per_split = (n_tiles + c.splits - 1) / c.splits;
  const int start = split * per_split * TILE;
  const int end = start + per_split * TILE < len ? start + per_split * TILE : len;

  // Q fragments (unscaled; the scale goes on the fp32 scores): chunk 2v uses dims
  // v·32 + r·8 + 0..3, chunk 2v + 1 dims v·32 + r·8 + 4..7.
  uint32_t qa[NC][2];
  {
    const T* q_row = static_cast<const T*>(p.q) + b * p.q_sb + (kvh * p.group + (g < p.group ? g : 0)) * p.q_sh;
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      const int d = v * 32 + r * 8;
#pragma unroll
      for (int w = 0; w < 4; ++w) qa[2 * v + w / 2][w % 2] = g < p.group ? bits2(q_row, d + 2 * w) : 0u;
    }
  }

  float o[DV][4];
#pragma unroll
  for (int j = 0; j < DV; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  const T* k_base = static_cast<const T*>(c.k) + b * c.k_sb + head * c.k_sh;
  const T* v_base = static_cast<const T*>(c.v) + b * c.v_sb + head * c.v_sh;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  for (int t0 = start + warp * WARP_KEYS; t0 < end; t0 += TILE) {
    uint4 kv[2][NV], vv[4][NVV];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int key = t0 + 8 * h + g;
      const T* row = k_base + static_cast<int64_t>(key) * D + r * 8;
#pragma unroll
      for (int v = 0; v < NV; ++v) kv[h][v] = key < end ? __ldg(reinterpret_cast<const uint4*>(row + v * 32)) : zero;
    }
#pragma unroll
    for (int ks = 0; ks < 4; ++ks) {
      const int key = t0 + 2 * r + (ks & 1) + (ks >> 1) * 8;
      const T* row = v_base + static_cast<int64_t>(key) * D + g * DV;
#pragma unroll
      for (int v = 0; v < NVV; ++v) vv[ks][v] = key < end ? __ldg(reinterpret_cast<const uint4*>(row + v * 8)) : zero;
    }

    float sc[2][4];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      sc[h][0] = sc[h][1] = sc[h][2] = sc[h][3] = 0.0f;
#pragma unroll
      for (int ch = 0; ch < NC; ++ch) {
        const uint4& kw = kv[h][ch >> 1];
        M::run(sc[h], qa[ch][0], qa[ch][1], (ch & 1) ? kw.z : kw.x, (ch & 1) ? kw.w : kw.y);
      }
    }
    // Row g's scores: keys t0 + 2r + {0, 1} (tile 0) and t0 + 8 + 2r + {0, 1} (tile 1).
    float s[4] = {sc[0][0], sc[0][1], sc[1][0], sc[1][1]};
    float mx = -INFINITY;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int key = t0 + 2 * r + (i & 1) + (i >> 1) * 8;
      s[i] = key < end ? s[i] * p.scale_log2 : -INFINITY;
      mx = fmaxf(mx, s[i]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));  // key t0 < end is valid: mx is finite
    const float m_new = fmaxf(m, mx);
    const float corr = exp2f(m - m_new);
    m = m_new;
    l *= corr;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      s[i] = exp2f(s[i] - m_new);
      l += s[i];
    }
    const uint32_t pa0 = M::pack(s[0], s[1]), pa2 = M::pack(s[2], s[3]);
#pragma unroll
    for (int j = 0; j < DV; ++j) {
      o[j][0] *= corr;
      o[j][1] *= corr;
      const int vec = j >> 3, wi = (j & 7) >> 1;
      const unsigned sel = (j & 1) ? 0x7632u : 0x5410u;
      const uint32_t b0 = __byte_perm(word(vv[0][vec], wi), word(vv[1][vec], wi), sel);
      const uint32_t b1 = __byte_perm(word(vv[2][vec], wi), word(vv[3][vec], wi), sel);
      M::run(o[j], pa0, pa2, b0, b1);
    }
  }
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);

  // Merge the warps; thread (g, r) holds row g's dims 2r·DV + j and (2r + 1)·DV + j.
  __shared__ float sm_m[kWarps][8], sm_l[kWarps][8];
  __shared__ float sm_acc[kWarps][8][D];
  if (g < p.group) {
    if (r == 0) {
      sm_m[warp][g] = m;
      sm_l[warp][g] = l;
    }
#pragma unroll
    for (int j = 0; j < DV; ++j) {
      sm_acc[warp][g][2 * r * DV + j] = o[j][0];
      sm_acc[warp][g][(2 * r + 1) * DV + j] = o[j][1];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < p.group * D; idx += kThreads) {
    const int gg = idx / D, d = idx % D;
    float mw = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mw = fmaxf(mw, sm_m[w][gg]);
    float L = 0.0f, A = 0.0f;
    if (mw != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        if (sm_m[w][gg] == -INFINITY) continue;
        const float f = exp2f(sm_m[w][gg] - mw);
        L += sm_l[w][gg] * f;
        A += sm_acc[w][gg][d] * f;
      }
    }
    const int64_t row = ((static_cast<int64_t>(b) * c.heads + head) * p.group + gg) * c.splits + split;
    c.partial_o[row * D + d] = L > 0.0f ? A / L : 0.0f;
    if (d == 0) c.partial_lse[row] = L > 0.0f ? mw + log2f(L) : -INFINITY;
  }
}

template <typename T>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const __grid_constant__ DecodeAttentionParams p) {
  using E = Elem<T>;
  constexpr int kWarpsC = kCombineThreads / 32;
  __shared__ float red[kWarpsC * 128];  // per warp: its lanes' 4-dim sums (128 floats)
  __shared__ float red_w[kWarpsC];
  __shared__ float s_new_shared;
  wait_for_previous();
  release_next();
  int local;
  const DecodeCacheParams& c = p.cache[cache_of(p, p.cache[0].heads * p.group, local)];
  const int head = local / p.group, g = local % p.group, b = blockIdx.y;
  const int kvh = c.kv_heads ? static_cast<int>(c.kv_heads[head]) : head;
  const int qh = kvh * p.group + g;
  const int D = p.head_dim;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row0 = ((static_cast<int64_t>(b) * c.heads + head) * p.group + g) * c.splits;

  // 1. The largest log-sum-exp, the extra key's score included (warp 0 computes that).
  float mx = -INFINITY;
  for (int s = threadIdx.x; s < c.splits; s += blockDim.x) mx = fmaxf(mx, c.partial_lse[row0 + s]);
  if (warp == 0 && c.k_new) {
    const T* q_row = static_cast<const T*>(p.q) + b * p.q_sb + qh * p.q_sh;
    const T* kn = static_cast<const T*>(c.k_new) + b * c.kn_sb + kvh * c.kn_sh;
    float dot = 0.0f;
    for (int d = lane; d < D; d += 32) dot += E::to_float(q_row[d]) * E::to_float(kn[d]);
    const float s_new = warp_sum(dot) * p.scale_log2;
    if (lane == 0) s_new_shared = s_new;
    mx = fmaxf(mx, s_new);
  }
  mx = block_reduce<true>(mx);  // its barriers also publish s_new_shared
  const float w_new = c.k_new ? exp2f(s_new_shared - mx) : 0.0f;

  // 2. The weighted sum of the splits' outputs: a warp reads 32 / (D/4) split rows per load
  // instruction (4 dims per lane), every warp a share of the splits, all loads independent.
  const int lanes_per_row = D / 4, rows_per_load = 32 / lanes_per_row;
  const int sub = lane / lanes_per_row, d4 = (lane % lanes_per_row) * 4;
  float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  float wsum = 0.0f;
#pragma unroll 8
  for (int s = warp * rows_per_load + sub; s < c.splits; s += kWarpsC * rows_per_load) {
    const float lse = c.partial_lse[row0 + s];
    const float4 o = *reinterpret_cast<const float4*>(c.partial_o + (row0 + s) * D + d4);
    const float w = lse == -INFINITY ? 0.0f : exp2f(lse - mx);
    acc.x = fmaf(w, o.x, acc.x);
    acc.y = fmaf(w, o.y, acc.y);
    acc.z = fmaf(w, o.z, acc.z);
    acc.w = fmaf(w, o.w, acc.w);
    if (d4 == 0) wsum += w;
  }
  wsum = warp_sum(wsum);
  *reinterpret_cast<float4*>(&red[warp * 128 + lane * 4]) = acc;
  if (lane == 0) red_w[warp] = wsum;
  __syncthreads();
  if (threadIdx.x < D) {
    const int d = threadIdx.x;
    float a = 0.0f, total = w_new;
    for (int w = 0; w < kWarpsC; ++w) {
      for (int r = 0; r < rows_per_load; ++r) a += red[w * 128 + r * D + d];
      total += red_w[w];
    }
    if (c.v_new) a += w_new * E::to_float((static_cast<const T*>(c.v_new) + b * c.vn_sb + kvh * c.vn_sh)[d]);
    T* out = static_cast<T*>(p.out) + b * p.out_sb + qh * p.out_sh;
    out[d] = E::from_float(total > 0.0f ? a / total : 0.0f);
  }
  // The decoded token joins the cache: the split kernel, which read the slot's old contents, has
  // finished (this kernel waited for it). One CTA per cache head stores it.
  if (c.append_slot && g == 0 && threadIdx.x < D) {
    const int d = threadIdx.x;
    const int64_t slot = *c.append_slot;
    if (slot >= 0 && slot < c.capacity) {
      T* kc = static_cast<T*>(c.k) + b * c.k_sb + head * c.k_sh + slot * D;
      T* vc = static_cast<T*>(c.v) + b * c.v_sb + head * c.v_sh + slot * D;
      kc[d] = (static_cast<const T*>(c.k_new) + b * c.kn_sb + kvh * c.kn_sh)[d];
      vc[d] = (static_cast<const T*>(c.v_new) + b * c.vn_sb + kvh * c.vn_sh)[d];
    }
  }
}

// Whether variant 3 (tensor cores) takes this dtype, head_dim and group; else variant 0 runs.
template <typename T, int D>
constexpr bool mma_takes() {
  return !std::is_same<T, float>::value && (D == 64 || D == 128);
}

template <typename T, int D, int G>
cudaError_t launch_split(const DecodeAttentionParams& p, cudaStream_t stream) {
  unsigned blocks = 0;
  for (int i = 0; i < p.num_caches; ++i) blocks += p.batch * p.cache[i].heads * p.cache[i].splits;
  if constexpr (mma_takes<T, D>() && G <= 8) {
    if (p.variant == 3) {
      return launch_kernel(mma_split_kernel<T, D>, blocks, kThreads, 0, stream, p);
    }
  }
  if (p.variant == 1) return launch_kernel(split_kernel<T, D, G, 1>, blocks, kThreads, kAsyncSmemBytes, stream, p);
  if (p.variant == 2) return launch_kernel(split_kernel<T, D, G, 2>, blocks, kThreads, 0, stream, p);
  return launch_kernel(split_kernel<T, D, G, 0>, blocks, kThreads, 0, stream, p);
}

template <typename T, int D, int G>
int occupancy_g(int variant) {
  int n = 0;
  if constexpr (mma_takes<T, D>() && G <= 8) {
    if (variant == 3) {
      const cudaError_t err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, mma_split_kernel<T, D>, kThreads, 0);
      return err == cudaSuccess && n > 0 ? n : 1;
    }
  }
  const cudaError_t err =
      variant == 1   ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, split_kernel<T, D, G, 1>, kThreads,
                                                                     kAsyncSmemBytes)
      : variant == 2 ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, split_kernel<T, D, G, 2>, kThreads, 0)
                     : cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, split_kernel<T, D, G, 0>, kThreads, 0);
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
  int heads = 0;
  for (int i = 0; i < p.num_caches; ++i) heads += p.cache[i].heads;
  return launch_kernel(combine_kernel<T>, dim3(heads * p.group, p.batch), kCombineThreads, 0, stream, p);
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
  if (p.group < 1 || p.group > 8 || p.variant < 0 || p.variant > 3 || p.num_caches < 1 ||
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
