// Shared device helpers of the kernels: element types as float, 16-byte vector unpacking,
// block-wide reductions, overlapped launches, and the dtype switch of the launch functions.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <utility>

#include "launch.h"

namespace duo::kernels::cuda {

template <typename T>
struct Elem;

template <>
struct Elem<float> {
  static constexpr int kVec = 4;  // elements per 16-byte load
  __device__ static float to_float(float x) { return x; }
  __device__ static float from_float(float x) { return x; }
  __device__ static void unpack(const uint4& r, float* f) {
    f[0] = __uint_as_float(r.x);
    f[1] = __uint_as_float(r.y);
    f[2] = __uint_as_float(r.z);
    f[3] = __uint_as_float(r.w);
  }
};

template <>
struct Elem<__nv_bfloat16> {
  static constexpr int kVec = 8;
  __device__ static float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ static __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
  // bf16 is the upper half of a float: element 2i is the low 16 bits of word i.
  __device__ static void unpack(const uint4& r, float* f) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
};

template <>
struct Elem<__half> {
  static constexpr int kVec = 8;
  __device__ static float to_float(__half x) { return __half2float(x); }
  __device__ static __half from_float(float x) { return __float2half_rn(x); }
  __device__ static void unpack(const uint4& r, float* f) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      __half2 h;
      static_assert(sizeof(h) == sizeof(uint32_t));
      memcpy(&h, &w[i], sizeof(h));
      const float2 t = __half22float2(h);
      f[2 * i] = t.x;
      f[2 * i + 1] = t.y;
    }
  }
};

// The roundings of the eager ops (model/rms_norm.cpp, model/rope.cpp), shared by every kernel
// that computes them so that their results agree bit for bit; products and sums go through
// __fmul_rn / __fadd_rn so that nvcc does not contract them into FMAs.
// The residual add, rounded to the dtype: T(x + r).
template <typename T>
__device__ inline T residual_add(float x, float r) {
  return Elem<T>::from_float(__fadd_rn(x, r));
}
// RMSNorm's scale 1/sqrt(mean(h²) + eps) from the sum of squares of `cols` elements.
__device__ inline float rms_scale(float sum_sq, int64_t cols, float eps) {
  return rsqrtf(__fadd_rn(__fmul_rn(sum_sq, 1.0f / static_cast<float>(cols)), eps));
}
// One normalised element: weight · T(h · scale), rounded to the dtype.
template <typename T>
__device__ inline T rms_normed(float h, float scale, float weight) {
  using E = Elem<T>;
  return E::from_float(__fmul_rn(weight, E::to_float(E::from_float(__fmul_rn(h, scale)))));
}
// One RoPE element: x·cos + rot·sin (rot: the rotate_half partner), each product and the sum
// rounded to the dtype.
template <typename T>
__device__ inline T rope_element(float x, float rot, float cos, float sin) {
  using E = Elem<T>;
  const T a = E::from_float(__fmul_rn(x, cos));
  const T c = E::from_float(__fmul_rn(rot, sin));
  return E::from_float(__fadd_rn(E::to_float(a), E::to_float(c)));
}

__device__ inline float warp_sum(float x) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

__device__ inline float warp_max(float x) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
  return x;
}

// Sum (or max) over the whole block, returned to every thread. blockDim.x a multiple of 32,
// at most 1024; every thread must call it.
template <bool kMax>
__device__ inline float block_reduce(float x) {
  __shared__ float part[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  x = kMax ? warp_max(x) : warp_sum(x);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = x;
  __syncthreads();
  float y = lane < warps ? part[lane] : (kMax ? -INFINITY : 0.0f);
  return kMax ? warp_max(y) : warp_sum(y);
}

// 16-byte loads and stores of Elem<T>::kVec elements (the caller checks the alignment): the
// element-wise kernels' scalar loops reach about 1 TB/s on an H200 over a 32K-token step's
// activations, where gate training runs them.
template <typename T>
struct Vec {
  static constexpr int n = Elem<T>::kVec;
  alignas(16) T v[n];
  __device__ static Vec load(const T* p) {
    Vec r;
    *reinterpret_cast<uint4*>(r.v) = *reinterpret_cast<const uint4*>(p);
    return r;
  }
  __device__ void store(T* p) const { *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(v); }
};

// Overlapped launches (programmatic dependent launch, sm_90 and later): a kernel started by
// launch_kernel may begin while the kernel before it in the stream is still running, so its
// launch latency and, in the matvec kernels, its first weight reads overlap that kernel's tail.
// Every kernel of this library follows one protocol:
//   1. before wait_for_previous(), read only what no kernel of the stream writes (weights);
//   2. wait_for_previous(): returns once the previous kernel has finished and its writes are
//      visible (at once for a launch that was not overlapped, and on older GPUs);
//   3. release_next(): lets the next kernel start.
// Since every CTA releases only after waiting, when a kernel starts the one two places before it
// has finished: the guarantee chains through the stream.
__device__ inline void wait_for_previous() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ inline void release_next() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Launches kernel<<<grid, block, smem, stream>>>(args...), overlapped with the previous kernel of
// the stream when launch_overlap() is on (also inside a CUDA graph capture, where the overlap
// becomes a programmatic edge of the graph).
template <typename... Params, typename... Args>
cudaError_t launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                          Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute overlap[1];
  overlap[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  overlap[0].val.programmaticStreamSerializationAllowed = launch_overlap() ? 1 : 0;
  config.attrs = overlap;
  config.numAttrs = 1;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

// Calls f(T{}) with T the element type of d.
template <typename F>
cudaError_t dispatch_dtype(DType d, F&& f) {
  switch (d) {
    case DType::Float32:
      return f(float{});
    case DType::Float16:
      return f(__half{});
    case DType::BFloat16:
      return f(__nv_bfloat16{});
  }
  return cudaErrorInvalidValue;
}

}  // namespace duo::kernels::cuda
