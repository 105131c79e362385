// duo-bench-decode: KV-cache bytes, total GPU memory and decoding latency of a model shape with
// random weights, at long contexts, for several sparsities (fraction of KV heads streaming),
// through MixedKVCacheAttention. The cache is filled with random keys and values as if a prompt
// of that length had been prefilled; then `--steps` tokens are decoded one at a time. Prints one
// table with every ratio against sparsity 0 at the same length.
//
//   duo-bench-decode --model-config models/shapes/llama3-8b/config.json \
//       --lengths 32768,131072,500000 --sparsities 0,0.5,0.75
#include <ATen/Context.h>
#include <CLI/CLI.hpp>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "device_memory.h"
#include "model/llama.h"
#include "model/mixed_kv_cache.h"
#include "model/model_config.h"
#include "util/error.h"

namespace {

using duo::bench::gib;
using duo::bench::peak_allocated_bytes;

// round(s * N) streaming KV heads, spread over the layers by a fixed shuffle.
duo::HeadPattern pattern_at(int64_t layers, int64_t kv_heads, double sparsity, int64_t sink, int64_t recent) {
  auto p = duo::HeadPattern::uniform(layers, kv_heads, true, sink, recent);
  std::vector<int64_t> order(layers * kv_heads);
  std::iota(order.begin(), order.end(), 0);
  // Deterministic interleave: every k-th head first, so streaming heads land in every layer.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return a % kv_heads < b % kv_heads; });
  const auto streaming = static_cast<size_t>(std::nearbyint(sparsity * double(order.size())));
  for (size_t i = 0; i < streaming; ++i) p.retrieval[order[i]] = 0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-bench-decode", [&]() -> int {
    CLI::App app{"Decoding latency and memory with a head pattern at long contexts (random weights)."};
    std::string config_path, device_name = "cuda";
    std::vector<int64_t> lengths{32768};
    std::vector<double> sparsities{0, 0.5, 0.75};
    int steps = 32;
    int64_t sink = 64, recent = 256;
    app.add_option("--model-config", config_path, "config.json of the model shape")->required();
    app.add_option("--lengths", lengths, "context lengths already in the cache")->delimiter(',');
    app.add_option("--sparsities", sparsities, "fractions of KV heads streaming")->delimiter(',');
    app.add_option("--steps", steps, "decoded tokens timed per setting (after 4 warm-up tokens)");
    app.add_option("--sink", sink, "streaming heads: sink tokens");
    app.add_option("--recent", recent, "streaming heads: recent tokens");
    app.add_option("--device", device_name, "cuda or cpu");
    bool model_only = false, cudnn_sdpa = false;
    app.add_option("--cudnn-sdpa", cudnn_sdpa, "let SDPA use its cuDNN backend (duo turns it off; true to compare)");
    app.add_flag("--model-only", model_only,
                 "also time one decode step with attention over the new token alone (no cache): the "
                 "cost of everything but reading the KV cache");
    CLI11_PARSE(app, argc, argv);

    const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    auto sync = [&] { duo::bench::sync(device); };
    const auto cfg = duo::load_model_config(config_path);
    const auto model = duo::LlamaModel::random(cfg, 0, at::kBFloat16, device);
    at::globalContext().setSDPUseCuDNN(cudnn_sdpa);  // after the model, which turns it off
    torch::NoGradGuard no_grad;
    duo::bench::reset_peak(device, /*release_cache=*/true);
    const int64_t weights = peak_allocated_bytes(device);

    if (model_only) {
      duo::FullAttention none;
      auto token = at::full({1, 1}, 1, at::TensorOptions().dtype(at::kLong).device(device));
      std::vector<double> times;
      for (int i = 0; i < steps + 4; ++i) {
        sync();
        auto t0 = std::chrono::steady_clock::now();
        model.forward(token, none, 0, /*logits=*/true);
        sync();
        if (i >= 4) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      std::printf("one token, no KV cache: %.2f ms\n", 1e3 * times[times.size() / 2]);
    }
    std::printf("%-8s %-8s %10s %10s %12s %10s %10s %11s\n", "length", "sparsity", "KV_GiB", "KV_ratio",
                "total_GiB", "mem_ratio", "ms/token", "speed_ratio");
    for (int64_t L : lengths) {
      std::map<double, std::tuple<double, double, double>> base;  // KV bytes, total bytes, ms
      for (double s : sparsities) {
        duo::bench::reset_peak(device, /*release_cache=*/true);
        double kv = 0, total = 0, ms = 0;
        {
          auto pattern = pattern_at(cfg.num_hidden_layers, cfg.num_key_value_heads, s, sink, recent);
          duo::MixedKVCacheAttention engine(pattern, 1, L + steps + 4, cfg.head_dim, at::kBFloat16, device);
          engine.fill_random(L);
          auto token = at::full({1, 1}, 1, at::TensorOptions().dtype(at::kLong).device(device));
          std::vector<double> times;
          for (int i = 0; i < steps + 4; ++i) {
            sync();
            auto t0 = std::chrono::steady_clock::now();
            auto logits = model.forward(token, engine, L + i, /*logits=*/true).logits;
            token = logits.select(1, 0).argmax(-1, /*keepdim=*/true);
            sync();
            if (i >= 4) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
          std::sort(times.begin(), times.end());
          ms = 1e3 * times[times.size() / 2];
          kv = double(engine.kv_bytes());
          total = double(peak_allocated_bytes(device));
        }
        if (base.empty()) base[s] = {kv, total, ms};
        auto [kv0, total0, ms0] = base.begin()->second;
        std::printf("%-8lld %-8.2f %10.2f %10.2f %12.2f %10.2f %10.2f %11.2f\n", (long long)L, s, gib(kv), kv0 / kv,
                    gib(total), total0 / total, ms, ms0 / ms);
        std::fflush(stdout);
      }
    }
    std::printf("weights alone: %.2f GiB; ratios are against the first sparsity at the same length\n", gib(double(weights)));
    return 0;
  });
}
