// duo-bench-attention: the attention of one layer of gate training, alone, forward and
// forward + backward, at several lengths: full causal attention through SDPA with each of its
// CUDA backends, and streaming attention through duo's flash decomposition
// (kernels/streaming_attention.h) and through the dense mask it replaced. Prints milliseconds,
// TFLOP/s of the work the mask allows (multiply-adds count 2; backward counts 2.5× forward),
// and the fraction of the GPU's peak.
//
//   duo-bench-attention --lengths 4096,16384,32768 --heads 32 --kv-heads 8 --head-dim 128
#include <ATen/Context.h>
#include <CLI/CLI.hpp>
#include <torch/autograd.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "attention_flops.h"
#include "device_memory.h"
#include "kernels/streaming_attention.h"
#include "util/error.h"

namespace {

using Attention = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)>;

// Milliseconds of the median of `reps` runs after two warm-ups; backward: of forward + backward.
double time_ms(const Attention& f, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool backward,
               int reps) {
  std::vector<double> ms;
  const at::Device device = q.device();
  for (int i = 0; i < reps + 2; ++i) {
    auto q1 = q.detach().requires_grad_(backward), k1 = k.detach().requires_grad_(backward);
    auto v1 = v.detach().requires_grad_(backward);
    duo::bench::sync(device);
    auto t0 = std::chrono::steady_clock::now();
    if (backward) {
      at::Tensor out = f(q1, k1, v1);
      out.backward(at::ones_like(out));
    } else {
      at::NoGradGuard no_grad;
      f(q1, k1, v1);
    }
    duo::bench::sync(device);
    if (i >= 2) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// SDPA with only the named CUDA backend allowed (process-wide switches, restored after).
Attention sdpa_only(const std::string& backend) {
  return [backend](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    auto& ctx = at::globalContext();
    const bool flash = ctx.userEnabledFlashSDP(), cudnn = ctx.userEnabledCuDNNSDP(), mem = ctx.userEnabledMemEfficientSDP();
    ctx.setSDPUseFlash(backend == "flash" || backend == "default");
    ctx.setSDPUseCuDNN(backend == "cudnn" || backend == "default");
    ctx.setSDPUseMemEfficient(backend == "mem-efficient" || backend == "default");
    at::Tensor out;
    try {
      const bool gqa = q.size(1) != k.size(1);
      out = at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, {}, gqa);
    } catch (...) {
      ctx.setSDPUseFlash(flash), ctx.setSDPUseCuDNN(cudnn), ctx.setSDPUseMemEfficient(mem);
      throw;
    }
    ctx.setSDPUseFlash(flash), ctx.setSDPUseCuDNN(cudnn), ctx.setSDPUseMemEfficient(mem);
    return out;
  };
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-bench-attention", [&]() -> int {
    CLI::App app{"Times one layer's full and streaming attention, forward and backward, on the GPU."};
    std::vector<int64_t> lengths{4096, 16384, 32768};
    int64_t heads = 32, kv_heads = 8, head_dim = 128, sink = 128, recent = 256, block_size = 128;
    int64_t dense_max = 32768;
    int reps = 5;
    double peak_tflops = 989;
    app.add_option("--lengths", lengths, "context lengths")->delimiter(',')->capture_default_str();
    app.add_option("--heads", heads, "query heads")->capture_default_str();
    app.add_option("--kv-heads", kv_heads, "KV heads")->capture_default_str();
    app.add_option("--head-dim", head_dim, "head dimension")->capture_default_str();
    app.add_option("--sink", sink, "streaming sink tokens")->capture_default_str();
    app.add_option("--recent", recent, "streaming recent tokens")->capture_default_str();
    app.add_option("--block-size", block_size, "block granularity's block")->capture_default_str();
    app.add_option("--reps", reps, "timed runs (median)")->capture_default_str();
    app.add_option("--dense-max", dense_max, "longest length for the dense-mask streaming attention")->capture_default_str();
    app.add_option("--peak-tflops", peak_tflops, "the GPU's dense bf16 peak (H100/H200 SXM: 989)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (!torch::cuda::is_available()) throw duo::Error("duo-bench-attention needs a CUDA device");

    const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
    const duo::StreamingWindow token{sink, recent, duo::StreamingGranularity::token, block_size};
    const duo::StreamingWindow block{sink, recent, duo::StreamingGranularity::block, block_size};
    struct Row {
      std::string name;
      Attention f;
      bool streaming;
      const duo::StreamingWindow* window;
    };
    const std::vector<Row> rows = {
        {"full: SDPA default", sdpa_only("default"), false, nullptr},
        {"full: SDPA flash", sdpa_only("flash"), false, nullptr},
        {"full: SDPA cuDNN", sdpa_only("cudnn"), false, nullptr},
        {"streaming token: split", [&](auto& q, auto& k, auto& v) { return duo::kernels::streaming_attention(q, k, v, token); },
         true, &token},
        {"streaming block: split", [&](auto& q, auto& k, auto& v) { return duo::kernels::streaming_attention(q, k, v, block); },
         true, &block},
        {"streaming token: dense mask",
         [&](auto& q, auto& k, auto& v) { return duo::kernels::streaming_attention_reference(q, k, v, token); }, true, &token},
    };
    std::printf("Hq %lld, Hkv %lld, D %lld, bf16; streaming sink %lld + recent %lld (block %lld); peak %.0f TFLOP/s\n",
                (long long)heads, (long long)kv_heads, (long long)head_dim, (long long)sink, (long long)recent,
                (long long)block_size, peak_tflops);
    std::printf("%-8s %-30s %10s %9s %7s %12s %9s %7s\n", "tokens", "attention", "fwd_ms", "TFLOP/s", "peak", "fwd+bwd_ms",
                "TFLOP/s", "peak");
    for (int64_t T : lengths) {
      at::manual_seed(T);
      auto q = at::randn({1, heads, T, head_dim}, opts), k = at::randn({1, kv_heads, T, head_dim}, opts);
      auto v = at::randn({1, kv_heads, T, head_dim}, opts);
      const auto pairs = [&](const duo::StreamingWindow* w) {
        return w ? duo::bench::window_pairs(*w, T) : duo::bench::causal_pairs(T);
      };
      for (const Row& r : rows) {
        if (r.name.find("dense") != std::string::npos && T > dense_max) continue;
        const double fwd_flops = 4.0 * double(heads * head_dim) * pairs(r.window);
        std::printf("%-8lld %-30s", (long long)T, r.name.c_str());
        try {
          const double f = time_ms(r.f, q, k, v, false, reps), fb = time_ms(r.f, q, k, v, true, reps);
          const double tf = fwd_flops / f / 1e9, tfb = 3.5 * fwd_flops / fb / 1e9;
          std::printf(" %10.3f %9.1f %6.1f%% %12.3f %9.1f %6.1f%%\n", f, tf, 100 * tf / peak_tflops, fb, tfb,
                      100 * tfb / peak_tflops);
        } catch (const std::exception& e) {
          std::string what = e.what();
          std::printf(" not available: %s\n", what.substr(0, what.find('\n')).c_str());
        }
        std::fflush(stdout);
      }
    }
    return 0;
  });
}
