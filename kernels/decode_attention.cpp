// decode_attention: argument checks, the CUDA launch (when built with CUDA) and
// the ATen references.
#include "decode_attention.h"

#include <algorithm>
#include <atomic>
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
#include "cuda_dtype.h"
#endif

namespace duo::kernels {
namespace {

std::atomic<int> default_variant{3};

void check(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("decode_attention: " + what);
}

// [B, H, D] view of a [B, H, D] or [B, H, 1, D] tensor.
at::Tensor rows(const at::Tensor& t, const char* name) {
  check(t.dim() == 3 || (t.dim() == 4 && t.size(2) == 1), std::string(name) + " must be [B, H, D] or [B, H, 1, D]");
  return t.dim() == 4 ? t.squeeze(2) : t;
}

struct Shapes {
  int64_t B, Hq, Hc, D, capacity;
};

Shapes check_args(const at::Tensor& out, const at::Tensor& q, const DecodeCache& c, int64_t group, int variant) {
  Shapes s{};
  const at::Tensor q3 = rows(q, "q"), o3 = rows(out, "out");
  check(c.k_cache.dim() == 4 && c.v_cache.sizes() == c.k_cache.sizes(),
        "k_cache and v_cache must be [B, Hc, capacity, D]");
  s.B = q3.size(0);
  s.Hq = q3.size(1);
  s.D = q3.size(2);
  s.Hc = c.k_cache.size(1);
  s.capacity = c.k_cache.size(2);
  check(c.k_cache.size(0) == s.B && c.k_cache.size(3) == s.D, "cache shape does not match q");
  check(s.capacity < (int64_t{1} << 31) - 4096, "capacity must be below 2^31 positions");
  check(o3.sizes() == q3.sizes() && out.scalar_type() == q.scalar_type(), "out must match q");
  check(c.k_cache.scalar_type() == q.scalar_type() && c.v_cache.scalar_type() == q.scalar_type(), "dtypes differ");
  check(c.length.defined() && c.length.numel() == 1 && c.length.scalar_type() == at::kLong &&
            c.length.device() == q.device(),
        "length must be one int64 on q's device");
  check(group > 0 && s.Hq % group == 0, "Hq must be a positive multiple of group");
  if (c.kv_heads.defined())
    check(c.kv_heads.dim() == 1 && c.kv_heads.size(0) == s.Hc && c.kv_heads.scalar_type() == at::kLong &&
              c.kv_heads.is_contiguous() && c.kv_heads.device() == q.device(),
          "kv_heads must be int64 [Hc] on q's device");
  else
    check(s.Hc * group == s.Hq, "Hq must be Hc × group without kv_heads");
  check(c.k_new.defined() == c.v_new.defined(), "k_new and v_new go together");
  if (c.k_new.defined()) {
    const at::Tensor kn = rows(c.k_new, "k_new"), vn = rows(c.v_new, "v_new");
    check(kn.size(0) == s.B && kn.size(1) * group == s.Hq && kn.size(2) == s.D && vn.sizes() == kn.sizes(),
          "k_new and v_new must be [B, Hq / group, D]");
    check(kn.scalar_type() == q.scalar_type() && vn.scalar_type() == q.scalar_type(), "dtypes differ");
  }
  if (c.append_slot.defined())
    check(c.k_new.defined() && c.append_slot.numel() == 1 && c.append_slot.scalar_type() == at::kLong &&
              c.append_slot.device() == q.device(),
          "append_slot must be one int64 on q's device, with k_new and v_new");
  check(variant >= -1 && variant <= 3, "variant must be -1 (default) or 0..3");
  return s;
}

int64_t resolve_group(const at::Tensor& q, const at::Tensor& k_cache, const DecodeAttentionOptions& opt) {
  if (opt.group > 0) return opt.group;
  check(!opt.kv_heads.defined(), "group is required with kv_heads");
  const int64_t hq = rows(q, "q").size(1), hc = k_cache.dim() == 4 ? k_cache.size(1) : 0;
  return hc > 0 ? hq / hc : 0;
}

DecodeCache as_cache(const at::Tensor& k_cache, const at::Tensor& v_cache, const at::Tensor& length,
                     const DecodeAttentionOptions& opt) {
  DecodeCache c;
  c.k_cache = k_cache;
  c.v_cache = v_cache;
  c.length = length;
  c.kv_heads = opt.kv_heads;
  c.k_new = opt.k_new;
  c.v_new = opt.v_new;
  c.splits = opt.splits;
  return c;
}

#ifdef DUO_WITH_CUDA
// Floats of one cache's partials (rows × D outputs, then rows log-sum-exps), rounded up to 16
// bytes so that the next cache's outputs stay aligned for the combine kernel's float4 loads.
int64_t partials_floats(int64_t rows, int64_t D) { return (rows * (D + 1) + 3) / 4 * 4; }

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

bool kernel_takes(const at::Tensor& out, const at::Tensor& q, const DecodeCache& c, int64_t group, const Shapes& s) {
  if (!decode_attention_supported(q.device(), q.scalar_type(), s.D, group)) return false;
  const int64_t vec = 16 / static_cast<int64_t>(q.element_size());
  for (const at::Tensor* t : {&c.k_cache, &c.v_cache}) {
    if (!t->is_cuda() || t->stride(3) != 1 || t->stride(2) != s.D || t->stride(0) % vec != 0 ||
        t->stride(1) % vec != 0 || reinterpret_cast<uintptr_t>(t->data_ptr()) % 16 != 0)
      return false;
  }
  for (const at::Tensor* t : {&out, &q, &c.k_new, &c.v_new})
    if (t->defined() && (!t->is_cuda() || t->stride(-1) != 1)) return false;
  return true;
}
#endif

}  // namespace

int decode_attention_default_variant() { return default_variant.load(); }

void set_decode_attention_default_variant(int variant) {
  if (variant < 0 || variant > 3) throw std::invalid_argument("decode_attention: variant must be 0..3");
  default_variant.store(variant);
}

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
  decode_attention(out, q, {as_cache(k_cache, v_cache, length, opt)}, resolve_group(q, k_cache, opt), opt.scale,
                   opt.variant);
}

void decode_attention(const at::Tensor& out, const at::Tensor& q, const std::vector<DecodeCache>& caches,
                      int64_t group, double scale, int variant) {
  check(!caches.empty() && caches.size() <= 2, "one or two caches");
  if (variant < 0) variant = default_variant.load();
  std::vector<Shapes> shapes;
  for (const DecodeCache& c : caches) shapes.push_back(check_args(out, q, c, group, variant));
#ifdef DUO_WITH_CUDA
  bool kernel = true;
  for (size_t i = 0; i < caches.size(); ++i) kernel = kernel && kernel_takes(out, q, caches[i], group, shapes[i]);
  if (kernel) {
    const int64_t B = shapes[0].B, D = shapes[0].D;
    if (B == 0) return;
    const c10::cuda::CUDAGuard guard(q.device());
    // Splits: at most one full wave of resident CTAs over all caches (a CTA past the wave
    // would run after the others: on an H200, 400 CTAs with 396 resident read a 500K-token
    // cache at 3.4 instead of 4.2 TB/s). Each cache first gets one split per head, the rest of
    // the wave goes in proportion to the keys each may hold; at least 256 keys per split.
    const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
    const int64_t target = ctas_per_sm(q.scalar_type(), D, group, variant) * sms;
    double work = 0;
    int64_t base = 0;
    for (const Shapes& s : shapes) {
      work += double(s.Hc) * double(s.capacity);
      base += B * s.Hc;
    }
    std::vector<int64_t> splits;
    int64_t workspace = 0;
    for (size_t i = 0; i < caches.size(); ++i) {
      const Shapes& s = shapes[i];
      int64_t n = caches[i].splits;
      if (n <= 0) {
        const double share = work > 0 ? double(s.Hc) * double(s.capacity) / work : 1.0;
        const double extra = std::max<double>(0.0, double(target - base)) * share;
        n = 1 + static_cast<int64_t>(std::floor(extra / double(std::max<int64_t>(1, B * s.Hc))));
        n = std::min(n, (s.capacity + 255) / 256);
      }
      splits.push_back(std::clamp<int64_t>(n, 1, 1024));
      workspace += partials_floats(B * s.Hc * group * splits.back(), D);
    }
    at::Tensor ws = at::empty({workspace}, q.options().dtype(at::kFloat));
    float* next = ws.data_ptr<float>();

    const at::Tensor q3 = rows(q, "q"), o3 = rows(out, "out");
    cuda::DecodeAttentionParams p{};
    p.dtype = to_dtype(q.scalar_type());
    p.head_dim = static_cast<int>(D);
    p.batch = static_cast<int>(B);
    p.group = static_cast<int>(group);
    p.variant = variant;
    const double sc = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(D));
    p.scale_log2 = static_cast<float>(sc * M_LOG2E);
    p.q = q3.data_ptr();
    p.q_sb = q3.stride(0);
    p.q_sh = q3.stride(1);
    p.out = o3.data_ptr();
    p.out_sb = o3.stride(0);
    p.out_sh = o3.stride(1);
    p.num_caches = 0;
    for (size_t i = 0; i < caches.size(); ++i) {
      const DecodeCache& c = caches[i];
      const Shapes& s = shapes[i];
      if (s.Hc == 0) continue;
      cuda::DecodeCacheParams& cp = p.cache[p.num_caches++];
      cp.k = c.k_cache.data_ptr();
      cp.v = c.v_cache.data_ptr();
      cp.k_sb = c.k_cache.stride(0);
      cp.k_sh = c.k_cache.stride(1);
      cp.v_sb = c.v_cache.stride(0);
      cp.v_sh = c.v_cache.stride(1);
      cp.capacity = s.capacity;
      cp.length = c.length.data_ptr<int64_t>();
      cp.kv_heads = c.kv_heads.defined() ? c.kv_heads.data_ptr<int64_t>() : nullptr;
      cp.heads = static_cast<int>(s.Hc);
      cp.splits = static_cast<int>(splits[i]);
      if (c.k_new.defined()) {
        const at::Tensor kn = rows(c.k_new, "k_new"), vn = rows(c.v_new, "v_new");
        cp.k_new = kn.data_ptr();
        cp.v_new = vn.data_ptr();
        cp.kn_sb = kn.stride(0);
        cp.kn_sh = kn.stride(1);
        cp.vn_sb = vn.stride(0);
        cp.vn_sh = vn.stride(1);
      }
      cp.append_slot = c.append_slot.defined() ? c.append_slot.data_ptr<int64_t>() : nullptr;
      const int64_t rows_n = B * s.Hc * group * splits[i];
      cp.partial_o = next;
      cp.partial_lse = next + rows_n * D;
      next += partials_floats(rows_n, D);
    }
    if (p.num_caches == 0) return;
    C10_CUDA_CHECK(cuda::launch_decode_attention(p, at::cuda::getCurrentCUDAStream()));
    return;
  }
#endif
  for (const DecodeCache& c : caches) {
    DecodeAttentionOptions opt;
    opt.kv_heads = c.kv_heads;
    opt.group = group;
    opt.k_new = c.k_new;
    opt.v_new = c.v_new;
    opt.scale = scale;
    decode_attention_reference(out, q, c.k_cache, c.v_cache, c.length, opt);
    if (c.append_slot.defined()) cache_append_reference(c.k_cache, c.v_cache, c.k_new, c.v_new, c.append_slot, c.kv_heads);
  }
}

void decode_attention_reference(const at::Tensor& out, const at::Tensor& q, const at::Tensor& k_cache,
                                const at::Tensor& v_cache, const at::Tensor& length,
                                const DecodeAttentionOptions& opt) {
  const int64_t group = resolve_group(q, k_cache, opt);
  const DecodeCache c = as_cache(k_cache, v_cache, length, opt);
  const Shapes s = check_args(out, q, c, group, opt.variant);
  const int64_t len = std::clamp<int64_t>(length.item<int64_t>(), 0, s.capacity);
  const auto idx = at::TensorOptions().dtype(at::kLong).device(q.device());
  const at::Tensor heads = opt.kv_heads.defined() ? opt.kv_heads : at::arange(s.Hc, idx);
  const at::Tensor q_heads = (heads.unsqueeze(1) * group + at::arange(group, idx)).flatten();
  // Float32 at least (float64 stays float64), GQA as a batched product over [B, Hc, group].
  const auto acc = at::promote_types(q.scalar_type(), at::kFloat);
  at::Tensor qs = rows(q, "q").index_select(1, q_heads).to(acc).view({s.B, s.Hc, group, s.D});
  at::Tensor k = k_cache.narrow(2, 0, len).to(acc), v = v_cache.narrow(2, 0, len).to(acc);
  if (opt.k_new.defined()) {
    k = at::cat({k, rows(opt.k_new, "k_new").index_select(1, heads).to(acc).unsqueeze(2)}, 2);
    v = at::cat({v, rows(opt.v_new, "v_new").index_select(1, heads).to(acc).unsqueeze(2)}, 2);
  }
  const double scale = opt.scale > 0 ? opt.scale : 1.0 / std::sqrt(static_cast<double>(s.D));
  at::Tensor probs = at::softmax(at::matmul(qs, k.transpose(2, 3)) * scale, -1);  // [B, Hc, group, n]
  at::Tensor o = at::matmul(probs, v).reshape({s.B, s.Hc * group, s.D});
  rows(out, "out").index_copy_(1, q_heads, o.to(out.scalar_type()));
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
