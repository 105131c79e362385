#include "model/model_memory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "util/error.h"

#ifdef DUO_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace duo {

double weight_bytes(const ModelConfig& c, at::ScalarType dtype, bool with_lm_head) {
  const double H = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double V = static_cast<double>(c.vocab_size), L = static_cast<double>(c.num_hidden_layers);
  const double q = static_cast<double>(c.num_attention_heads) * static_cast<double>(c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads) * static_cast<double>(c.head_dim);
  double layer = H * q + 2 * H * kv + q * H  // q, k, v, o projections
                 + 3 * H * I                 // gate, up, down
                 + 2 * H;                    // input and post-attention norms
  if (c.attention_bias) layer += q + 2 * kv;
  if (c.o_bias) layer += H;
  if (c.mlp_bias) layer += 2 * I + H;
  if (c.qk_norm) layer += 2 * static_cast<double>(c.head_dim);
  const double params = V * H * (c.tie_word_embeddings || !with_lm_head ? 1 : 2) + L * layer + H;
  return params * static_cast<double>(c10::elementSize(dtype));
}

namespace {

// The container's memory limit (cgroup v2, then v1), or 0 when there is none.
double cgroup_limit() {
  for (const char* file : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(file);
    std::string value;
    if (in >> value && !value.empty() && value != "max") {
      try {
        return std::stod(value);
      } catch (const std::exception&) {
      }
    }
  }
  return 0;
}

}  // namespace

double device_memory_bytes(at::Device device) {
  if (device.is_cuda()) {
#ifdef DUO_WITH_CUDA
    c10::cuda::CUDAGuard guard(device.has_index() ? device.index() : 0);
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess) {
      cudaGetLastError();  // clear it; the allocation will report the problem itself
      return 0;
    }
    return static_cast<double>(free);
#else
    return 0;  // unknown: not checked
#endif
  }
  const double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  const double limit = cgroup_limit();
  return limit > 0 && limit < physical ? limit : physical;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) {
    bytes /= 1024;
    ++unit;
  }
  char text[48];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

namespace {

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    case at::kFloat: return "fp32";
    default: return dtype_name(dtype);
  }
}

}  // namespace

void check_weights_fit(const ModelConfig& config, at::ScalarType dtype, at::Device device,
                       const std::filesystem::path& config_json, bool with_lm_head) {
  const double needed = weight_bytes(config, dtype, with_lm_head), available = device_memory_bytes(device);
  if (available <= 0 || needed <= available) return;
  throw Error(config_json, "the model needs " + format_bytes(needed) + " for its weights in " +
                               dtype_name(dtype) + ", but " +
                               (device.is_cuda() ? device.str() + " has " + format_bytes(available) + " free"
                                                 : "this machine has " + format_bytes(available) + " of memory"));
}

}  // namespace duo
