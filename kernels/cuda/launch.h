// What the ATen-facing wrappers (kernels/*.cpp) hand to the CUDA kernels (kernels/cuda/*.cu):
// plain structs of pointers, strides and sizes, so that nvcc never parses the ATen headers.
// Every launch function returns the launch's cudaError_t; the wrappers turn it into an
// exception. Element types are named by DType.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace duo::kernels::cuda {

enum class DType { Float32, Float16, BFloat16 };

// Whether kernels launch overlapped with the kernel before them (common.cuh: launch_kernel; on
// by default where the GPU supports it, sm_90 and later). Off: ordinary stream order.
void set_launch_overlap(bool on);
bool launch_overlap();

// Flash-decoding: one query token per (batch, query head) over one or two KV caches in one
// launch (a layer's full and streaming heads: disjoint query heads, different capacities).
struct DecodeCacheParams {
  void* k;  // [B, heads, capacity, D]: (b, i, j, d) at b * k_sb + i * k_sh + j * D + d
  void* v;  // (written only at append_slot)
  int64_t k_sb, k_sh, v_sb, v_sh;
  int64_t capacity;
  const int64_t* length;    // device scalar: valid positions per cache head
  const int64_t* kv_heads;  // [heads] KV head of each cache head; null: cache head i is KV head i
  int heads;                // cache heads served
  int splits;               // CTAs per (batch, cache head) over the keys
  const void* k_new;        // optional [B, Hkv, D]: one more key per KV head, after the cache
  const void* v_new;
  int64_t kn_sb, kn_sh, vn_sb, vn_sh;
  const int64_t* append_slot;  // optional device scalar: k_new/v_new stored there after attending
  float* partial_o;    // [B, heads, group, splits, D]
  float* partial_lse;  // [B, heads, group, splits] (log2 domain)
};

constexpr int kMaxDecodeCaches = 2;

struct DecodeAttentionParams {
  DType dtype;
  int head_dim;  // D: 32, 64 or 128
  int batch;     // B
  int group;     // query heads per KV head (1..8)
  int variant;   // split kernel: 0 register loads; 1 cp.async pipeline; 2 registers + prefetch;
                 // 3 tensor cores (bf16/fp16, D 64/128, group <= 8; variant 0 otherwise)
  float scale_log2;  // softmax scale × log2(e)
  const void* q;     // [B, Hq, D]: element (b, h, d) at b * q_sb + h * q_sh + d
  int64_t q_sb, q_sh;
  void* out;  // [B, Hq, D]: written at the served query heads only
  int64_t out_sb, out_sh;
  int num_caches;
  DecodeCacheParams cache[kMaxDecodeCaches];
};

// Resident CTAs per multiprocessor of the split kernel for this dtype, head_dim, group and
// variant (its occupancy; the wrapper sizes the grid with it).
int decode_attention_ctas_per_sm(DType dtype, int head_dim, int group, int variant);
cudaError_t launch_decode_attention(const DecodeAttentionParams& p, cudaStream_t stream);

// y = x · Wᵀ (+ b) for a single row x of K elements, for up to three weights of the same K in
// one launch (a layer's q, k, v projections); or, with swiglu, one output
// silu(x·W0ᵀ + b0) · (x·W1ᵀ + b1) (gate and up), each product rounded to the dtype as the eager
// ops round. Weights [N, K] row-major, contiguous. With norm_weight (where matvec_norm_fits), the
// products read norm_weight · rmsnorm(x + residual) instead of x, as launch_add_rms_norm
// computes it (residual optional; with it, x + residual is also stored to h_out).
struct MatvecParams {
  DType dtype;
  int64_t K;
  const void* x;
  int num;      // weights (1..3; 2 with swiglu)
  bool swiglu;
  const void* w[3];
  const void* bias[3];  // optional
  void* out[3];         // with swiglu: out[0] only
  int64_t n[3];
  int64_t min_blocks;   // fewest CTAs worth launching (4 per multiprocessor)
  const void* norm_weight;  // optional [K]
  const void* residual;     // optional [K]
  void* h_out;              // [K], written when residual is given
  float eps;
  // Optional RoPE of one position on the outputs of the first rope_outputs weights (queries and
  // keys: whole heads of head_dim rows). Rows d and d + head_dim/2 of a head are then computed by
  // one warp and rotated as launch_rope_qk does; needs two rows per warp and every n even.
  int rope_outputs;   // 0: none
  int head_dim;
  const void* rope_cos;  // [head_dim]
  const void* rope_sin;
};
cudaError_t launch_matvec(const MatvecParams& p, cudaStream_t stream);
bool matvec_norm_fits(DType dtype, int64_t K);

// h = x + residual (rounded to the dtype; residual optional), y = weight * rmsnorm(h), rows of
// `cols` contiguous elements, as model/rms_norm.cpp computes it.
struct AddRmsNormParams {
  DType dtype;
  int64_t rows, cols;
  float eps;
  const void* x;
  const void* residual;  // null: h = x
  const void* weight;    // [cols]
  void* h;               // written when residual is given
  void* y;
};
cudaError_t launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream);

// RoPE of one token's queries and keys: out = x·cos + rotate_half(x)·sin, each product and the
// sum rounded to the dtype as ATen does. x rows (b, h) at b * sb + h * sh, contiguous along D;
// outputs [B, H, D] contiguous.
struct RopeParams {
  DType dtype;
  int batch, hq, hk, head_dim;
  const void* q;
  int64_t q_sb, q_sh;
  const void* k;
  int64_t k_sb, k_sh;
  const void* cos;  // [D]
  const void* sin;
  void* q_out;
  void* k_out;
};
cudaError_t launch_rope_qk(const RopeParams& p, cudaStream_t stream);

// RoPE of a whole sequence: out[b, h, t] = x·cos[t] + rotate_half(x)·sin[t] (rope_element's
// roundings), for x and out of any strides with the head dim contiguous; cos, sin [seq, D].
struct RopeSequenceParams {
  DType dtype;
  int64_t batch, heads, seq, head_dim;
  const void* x;
  int64_t x_sb, x_sh, x_st;
  void* out;
  int64_t out_sb, out_sh, out_st;
  const void* cos;
  const void* sin;
};
cudaError_t launch_rope_sequence(const RopeSequenceParams& p, cudaStream_t stream);

// out = silu(gate) · up elementwise, silu rounded to the dtype first (as ATen's two ops).
cudaError_t launch_silu_mul(DType dtype, int64_t n, const void* gate, const void* up, void* out,
                            cudaStream_t stream);

// Gate training's element-wise passes (kernels/training_ops.h). Tensors of four dims are
// [B, H, T, D] with D contiguous, element (b, h, t, d) at b * sb + h * sh + t * st + d.

// dx = r · (g − x · r² · mean(g ∘ x)), g = dy ∘ w, r = 1/√(mean(x²) + eps), rows of `cols`
// contiguous elements, statistics in float32.
struct RmsNormBackwardParams {
  DType dtype;
  int64_t rows, cols;
  float eps;
  const void* dy;
  const void* x;
  const void* weight;  // [cols]
  void* dx;
};
cudaError_t launch_rms_norm_backward(const RmsNormBackwardParams& p, cudaStream_t stream);

// d_gate = silu'(gate) · T(dy · up), d_up = dy · T(silu(gate)), n contiguous elements each.
cudaError_t launch_silu_mul_backward(DType dtype, int64_t n, const void* dy, const void* gate, const void* up,
                                     void* d_gate, void* d_up, cudaStream_t stream);

// Forward: out = α_h · full + (1 − α_h) · streaming. Backward: d_full = α_h · grad,
// d_streaming = (1 − α_h) · grad and, per CTA, Σ grad · (full − streaming) per head into
// d_alpha_partial[cta][h] (summed by the caller: deterministic, no atomics). Outputs [B, T, H, D]
// contiguous.
struct GateMixParams {
  DType dtype;
  int64_t batch, heads, seq, head_dim;
  const float* alpha;  // [H]
  const void* full;
  int64_t f_sb, f_sh, f_st;
  const void* streaming;
  int64_t s_sb, s_sh, s_st;
  const void* grad;  // backward only
  int64_t g_sb, g_sh, g_st;
  void* out;  // forward
  void* d_full;
  void* d_streaming;
  float* d_alpha_partial;  // [ctas, H]
  int ctas;                // backward's grid, which the caller sizes d_alpha_partial for
};
// Whether the kernels take these shapes and strides (else the caller runs the reference).
bool gate_mix_fits(const GateMixParams& p);
cudaError_t launch_gate_mix(const GateMixParams& p, cudaStream_t stream);
cudaError_t launch_gate_mix_backward(const GateMixParams& p, cudaStream_t stream);

// out[r, h] ← w · out[r, h] + (1 − w) · o[r, h], w = exp(lse − logaddexp(lse, l)) for rows r of
// [N, H, D] tensors (row r, head h at r * sr + h * sh); lse, l float32, (h, r) at h * sh + r * sr.
struct LseMergeParams {
  DType dtype;     // of o; out is this dtype or float32
  bool out_float;
  int64_t rows, heads, head_dim;
  void* out;
  int64_t out_sr, out_sh;
  const void* o;
  int64_t o_sr, o_sh;
  const float* lse;
  int64_t lse_sh, lse_sr;
  const float* l;
  int64_t l_sh, l_sr;
};
bool lse_merge_fits(const LseMergeParams& p);
cudaError_t launch_lse_merge(const LseMergeParams& p, cudaStream_t stream);

}  // namespace duo::kernels::cuda
