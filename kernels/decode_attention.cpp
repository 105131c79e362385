// decode_attention / cache_append: argument checks, the CUDA launch (when built with CUDA) and
// the ATen references.
#include "decode_attention.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "cuda/launch.h"
#endif

namespace duo::kernels {
namespace {

void check(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("decode_attention: " + what);
}

// [B, H, D] view of a [B, H, D] or [B, H, 1, D] tensor.
at::Tensor rows(const at::Tensor& t, const char* name) {
  check(t.dim() == 3 || (t.dim() == 4 && t.size(2) == 1), std::string(name) + " must be [B, H, D] or [B, H, 1, D]");
  return t.dim() == 4 ? t.squeeze(2) : t;
}

struct Shapes {
  int64_t B, Hq, Hc, D, capacity, group;
};

Shapes check_args(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                  const at::Tensor& length, const DecodeAttentionOptions& opt) {
  Shapes s{};
  const at::Tensor q3 = rows(q, "q"), o3 = rows(out, "out");
  check(k_cache.dim() == 4 && v_cache.sizes() == k_cache.sizes(), "k_cache and v_cache must be [B, Hc, capacity, D]");
  s.B = q3.size(0);
  s.Hq = q3.size(1);
  s.D = q3.size(2);
  s.Hc = k_cache.size(1);
  s.capacity = k_cache.size(2);
  check(k_cache.size(0) == s.B && k_cache.size(3) == s.D, "cache shape does not match q");
  check(o3.sizes() == q3.sizes() && out.scalar_type() == q.scalar_type(), "out must match q");
  check(k_cache.scalar_type() == q.scalar_type() && v_cache.scalar_type() == q.scalar_type(), "dtypes differ");
  check(length.numel() == 1 && length.scalar_type() == at::kLong && length.device() == q.device(),
        "length must be one int64 on q's device");
  if (opt.kv_heads.defined()) {
    check(opt.group > 0, "group is required with kv_heads");
    check(opt.kv_heads.dim() == 1 && opt.kv_heads.size(0) == s.Hc && opt.kv_heads.scalar_type() == at::kLong &&
              opt.kv_heads.is_contiguous() && opt.kv_heads.device() == q.device(),
          "kv_heads must be int64 [Hc] on q's device");
    s.group = opt.group;
  } else {
    s.group = opt.group > 0 ? opt.group : (s.Hc > 0 ? s.Hq / s.Hc : 0);
    check(s.group > 0 && s.Hc * s.group == s.Hq, "Hq must be Hc × group without kv_heads");
  }
  check(s.Hq % s.group == 0, "Hq must be a multiple of group");
  check(opt.k_new.defined() == opt.v_new.defined(), "k_new and v_new go together");
  check(opt.variant == 0 || opt.variant == 1, "variant must be 0 or 1");
  if (opt.k_new.defined()) {
    const at::Tensor kn = rows(opt.k_new, "k_new"), vn = rows(opt.v_new, "v_new");
    check(kn.size(0) == s.B && kn.size(1) * s.group == s.Hq && kn.size(2) == s.D && vn.sizes() == kn.sizes(),
          "k_new and v_new must be [B, Hq / group, D]");
    check(kn.scalar_type() == q.scalar_type() && vn.scalar_type() == q.scalar_type(), "dtypes differ");
  }
  return s;
}

#ifdef DUO_WITH_CUDA
cuda::DType to_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::DType::Float32;
    case at::kHalf: return cuda::DType::Float16;
    default: return cuda::DType::BFloat16;
  }
}

int ctas_per_sm(at::ScalarType dtype, int64_t head_dim, int64_t group, int variant) {
  static std::mutex mu;
  static std::map<std::tuple<int, int64_t, int64_t, int, int>, int> cache;
  const int device = at::cuda::current_device();
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(static_cast<int>(dtype), head_dim, group, variant, device);
  auto it = cache.find(key);
  if (it == cache.end())
    it = cache.emplace(key, cuda::decode_attention_ctas_per_sm(to_dtype(dtype), static_cast<int>(head_dim),
                                                               static_cast<int>(group), variant))
             .first;
  return it->second;
}

bool kernel_takes(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                  const DecodeAttentionOptions& opt, const Shapes& s) {
  if (!decode_attention_supported(q.device(), q.scalar_type(), s.D, s.group)) return false;
  const int64_t vec = 16 / static_cast<int64_t>(q.element_size());
  for (const at::Tensor* c : {&k_cache, &v_cache}) {
    if (!c->is_cuda() || c->stride(3) != 1 || c->stride(2) != s.D || c->stride(0) % vec != 0 ||
        c->stride(1) % vec != 0 || reinterpret_cast<uintptr_t>(c->data_ptr()) % 16 != 0)
      return false;
  }
  for (const at::Tensor* t : {&out, &q, &opt.k_new, &opt.v_new})
    if (t->defined() && (!t->is_cuda() || t->stride(-1) != 1)) return false;
  return true;
}
#endif

}  // namespace

bool decode_attention_supported(at::Device device, at::ScalarType dtype, int64_t head_dim, int64_t group) {
#ifdef DUO_WITH_CUDA
  return device.is_cuda() && (dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16) &&
         (head_dim == 32 || head_dim == 64 || head_dim == 128) && group >= 1 && group <= 8;
#else
  (void)device, (void)dtype, (void)head_dim, (void)group;
  return false;
#endif
}

void decode_attention(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                      const at::Tensor& length, const DecodeAttentionOptions& opt) {
  const Shapes s = check_args(out, q, k_cache, v_cache, length, opt);
#ifdef DUO_WITH_CUDA
  if (kernel_takes(out, q, k_cache, v_cache, opt, s)) {
    if (s.B == 0 || s.Hc == 0) return;
    const c10::cuda::CUDAGuard guard(q.device());
    int64_t splits = opt.splits;
    if (splits <= 0) {
      // Enough CTAs for one full wave of the GPU, but no fewer than 256 keys per split.
      const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
      const int64_t target = ctas_per_sm(q.scalar_type(), s.D, s.group, opt.variant) * sms;
      splits = (target + s.B * s.Hc - 1) / (s.B * s.Hc);
      splits = std::min(splits, (s.capacity + 255) / 256);
    }
    splits = std::clamp<int64_t>(splits, 1, 1024);
    const at::Tensor q3 = rows(q, "q"), o3 = rows(out, "out");
    const auto f32 = q.options().dtype(at::kFloat);
    at::Tensor partial_o = at::empty({s.B * s.Hc * s.group * splits * s.D}, f32);
    at::Tensor partial_lse = at::empty({s.B * s.Hc * s.group * splits}, f32);

    cuda::DecodeAttentionParams p{};
    p.dtype = to_dtype(q.scalar_type());
    p.head_dim = static_cast<int>(s.D);
    p.batch = static_cast<int>(s.B);
    p.heads = static_cast<int>(s.Hc);
    p.group = static_cast<int>(s.group);
    p.splits = static_cast<int>(splits);
    p.variant = opt.variant;
    p.capacity = s.capacity;
    const double scale = opt.scale > 0 ? opt.scale : 1.0 / std::sqrt(static_cast<double>(s.D));
    p.scale_log2 = static_cast<float>(scale * M_LOG2E);
    p.q = q3.data_ptr();
    p.q_sb = q3.stride(0);
    p.q_sh = q3.stride(1);
    p.k = k_cache.data_ptr();
    p.v = v_cache.data_ptr();
    p.k_sb = k_cache.stride(0);
    p.k_sh = k_cache.stride(1);
    p.v_sb = v_cache.stride(0);
    p.v_sh = v_cache.stride(1);
    p.length = length.data_ptr<int64_t>();
    p.kv_heads = opt.kv_heads.defined() ? opt.kv_heads.data_ptr<int64_t>() : nullptr;
    if (opt.k_new.defined()) {
      const at::Tensor kn = rows(opt.k_new, "k_new"), vn = rows(opt.v_new, "v_new");
      p.k_new = kn.data_ptr();
      p.v_new = vn.data_ptr();
      p.kn_sb = kn.stride(0);
      p.kn_sh = kn.stride(1);
      p.vn_sb = vn.stride(0);
      p.vn_sh = vn.stride(1);
    }
    p.out = o3.data_ptr();
    p.out_sb = o3.stride(0);
    p.out_sh = o3.stride(1);
    p.partial_o = partial_o.data_ptr<float>();
    p.partial_lse = partial_lse.data_ptr<float>();
    C10_CUDA_CHECK(cuda::launch_decode_attention(p, at::cuda::getCurrentCUDAStream()));
    return;
  }
#endif
  decode_attention_reference(out, q, k_cache, v_cache, length, opt);
}

void decode_attention_reference(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache,
                                const at::Tensor& v_cache, const at::Tensor& length,
                                const DecodeAttentionOptions& opt) {
  const Shapes s = check_args(out, q, k_cache, v_cache, length, opt);
  const int64_t len = std::clamp<int64_t>(length.item<int64_t>(), 0, s.capacity);
  const auto idx = at::TensorOptions().dtype(at::kLong).device(q.device());
  const at::Tensor heads = opt.kv_heads.defined() ? opt.kv_heads : at::arange(s.Hc, idx);
  const at::Tensor q_heads = (heads.unsqueeze(1) * s.group + at::arange(s.group, idx)).flatten();
  // Float32 at least (float64 stays float64), GQA as a batched product over [B, Hc, group].
  const auto acc = at::promote_types(q.scalar_type(), at::kFloat);
  at::Tensor qs = rows(q, "q").index_select(1, q_heads).to(acc).view({s.B, s.Hc, s.group, s.D});
  at::Tensor k = k_cache.narrow(2, 0, len).to(acc), v = v_cache.narrow(2, 0, len).to(acc);
  if (opt.k_new.defined()) {
    k = at::cat({k, rows(opt.k_new, "k_new").index_select(1, heads).to(acc).unsqueeze(2)}, 2);
    v = at::cat({v, rows(opt.v_new, "v_new").index_select(1, heads).to(acc).unsqueeze(2)}, 2);
  }
  const double scale = opt.scale > 0 ? opt.scale : 1.0 / std::sqrt(static_cast<double>(s.D));
  at::Tensor probs = at::softmax(at::matmul(qs, k.transpose(2, 3)) * scale, -1);  // [B, Hc, group, n]
  at::Tensor o = at::matmul(probs, v).reshape({s.B, s.Hc * s.group, s.D});
  rows(out, "out").index_copy_(1, q_heads, o.to(out.scalar_type()));
}

void cache_append(const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& slot, const at::Tensor& kv_heads) {
  if (k_cache.dim() != 4 || v_cache.sizes() != k_cache.sizes())
    throw std::invalid_argument("cache_append: caches must be [B, Hc, capacity, D]");
  const at::Tensor k3 = rows(k, "k"), v3 = rows(v, "v");
  const int64_t B = k_cache.size(0), Hc = k_cache.size(1), D = k_cache.size(3);
  if (k3.size(0) != B || k3.size(2) != D || v3.sizes() != k3.sizes())
    throw std::invalid_argument("cache_append: k and v must be [B, Hkv, D] matching the caches");
  if (!kv_heads.defined() && k3.size(1) != Hc)
    throw std::invalid_argument("cache_append: without kv_heads, k must have the caches' head count");
  if (slot.numel() != 1 || slot.scalar_type() != at::kLong)
    throw std::invalid_argument("cache_append: slot must be one int64");
#ifdef DUO_WITH_CUDA
  const bool same_dtype = k.scalar_type() == k_cache.scalar_type() && v.scalar_type() == v_cache.scalar_type() &&
                          v_cache.scalar_type() == k_cache.scalar_type();
  const auto t = k_cache.scalar_type();
  if (k_cache.is_cuda() && same_dtype && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16) &&
      k_cache.stride(3) == 1 && k_cache.stride(2) == D && v_cache.stride(3) == 1 && v_cache.stride(2) == D &&
      k3.stride(2) == 1 && v3.stride(2) == 1 && slot.is_cuda() && (!kv_heads.defined() || (kv_heads.is_cuda() && kv_heads.is_contiguous()))) {
    if (B == 0 || Hc == 0) return;
    const c10::cuda::CUDAGuard guard(k_cache.device());
    cuda::CacheAppendParams p{};
    p.dtype = to_dtype(t);
    p.head_dim = static_cast<int>(D);
    p.batch = static_cast<int>(B);
    p.heads = static_cast<int>(Hc);
    p.capacity = k_cache.size(2);
    p.k_cache = k_cache.data_ptr();
    p.v_cache = v_cache.data_ptr();
    p.kc_sb = k_cache.stride(0);
    p.kc_sh = k_cache.stride(1);
    p.vc_sb = v_cache.stride(0);
    p.vc_sh = v_cache.stride(1);
    p.k_src = k3.data_ptr();
    p.v_src = v3.data_ptr();
    p.ks_sb = k3.stride(0);
    p.ks_sh = k3.stride(1);
    p.vs_sb = v3.stride(0);
    p.vs_sh = v3.stride(1);
    p.slot = slot.data_ptr<int64_t>();
    p.kv_heads = kv_heads.defined() ? kv_heads.data_ptr<int64_t>() : nullptr;
    C10_CUDA_CHECK(cuda::launch_cache_append(p, at::cuda::getCurrentCUDAStream()));
    return;
  }
#endif
  cache_append_reference(k_cache, v_cache, k, v, slot, kv_heads);
}

void cache_append_reference(const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& k,
                            const at::Tensor& v, const at::Tensor& slot, const at::Tensor& kv_heads) {
  const at::Tensor heads =
      kv_heads.defined() ? kv_heads : at::arange(k_cache.size(1), at::TensorOptions().dtype(at::kLong).device(k.device()));
  const at::Tensor index = slot.reshape({1});
  k_cache.index_copy_(2, index, rows(k, "k").index_select(1, heads).unsqueeze(2).to(k_cache.scalar_type()));
  v_cache.index_copy_(2, index, rows(v, "v").index_select(1, heads).unsqueeze(2).to(v_cache.scalar_type()));
}

}  // namespace duo::kernels
