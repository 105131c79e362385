// duo-bench-decode: KV-cache bytes, total GPU memory and decoding latency of a model shape with
// random weights, at long contexts, for several sparsities (fraction of KV heads streaming),
// through duo::Decoder, as duo-generate and the sweep decode. The cache is filled with random keys
// and values as if a prompt of that length had been prefilled; then `--steps` tokens are decoded
// one at a time, by default through DecodeGraph (the step captured once in a CUDA graph,
// attention by the decode kernel), with --cuda-graph false through the ordinary eager
// LlamaModel::forward. Prints one table with
// every ratio against sparsity 0 at the same length; in graph mode also the time of the
// attention alone (every layer's MixedKVCacheAttention step, captured and replayed the same way)
// and the KV bandwidth it reaches. --prefill-lengths first times chunked prefills of prompts of
// those lengths at each sparsity.
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
#include <functional>
#include <map>
#include <string>
#include <numeric>

#ifdef DUO_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "device_memory.h"
#include "kernels/decode_attention.h"
#include "kernels/decode_ops.h"
#include "kernels/launch_overlap.h"
#include "kernels/matvec.h"
#include "model/decode_graph.h"
#include "model/decoder.h"
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

#ifdef DUO_WITH_CUDA
// Milliseconds of one decode step's attention alone: every layer's device-position forward of
// the engine at position pos (random q, k, v), captured in a CUDA graph and replayed `reps`
// times between two events. Writes the cache at pos (harmless here: the keys are random).
double attention_ms(duo::MixedKVCacheAttention& engine, const duo::ModelConfig& cfg, int64_t pos,
                    const at::Device& device, int reps) {
  const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(device);
  const int64_t D = cfg.head_dim;
  auto q = at::randn({1, cfg.num_attention_heads, 1, D}, opts);
  auto k = at::randn({1, cfg.num_key_value_heads, 1, D}, opts), v = at::randn_like(k);
  auto position = at::full({1}, pos, at::TensorOptions().dtype(at::kLong).device(device));
  auto run = [&] {
    for (int layer = 0; layer < static_cast<int>(cfg.num_hidden_layers); ++layer) {
      duo::AttentionInput in{layer, q, k, v, pos};
      in.position = &position;
      engine.forward(in);
    }
  };
  const auto current = c10::cuda::getCurrentCUDAStream();
  auto side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(side);
  at::cuda::CUDAGraph graph;
  {
    const c10::cuda::CUDAStreamGuard guard(side);
    run();
    graph.capture_begin();
    run();
    graph.capture_end();
  }
  duo::bench::sync(device);
  at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
  graph.replay();
  start.record(current);
  for (int i = 0; i < reps; ++i) graph.replay();
  stop.record(current);
  duo::bench::sync(device);
  return start.elapsed_time(stop) / reps;
}

// decode_attention alone on a bf16 cache of `heads` KV heads × length keys (the model's head_dim
// and GQA group), each kernel variant, timed over 20 calls between events: the bandwidth the
// attention kernel reaches by itself.
void kernel_table(const duo::ModelConfig& cfg, const std::vector<int64_t>& lengths, const at::Device& device) {
  const int64_t D = cfg.head_dim, group = cfg.num_attention_heads / cfg.num_key_value_heads;
  const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(device);
  std::printf("decode_attention alone (bf16, D %lld, group %lld): variants 0 register loads, 1 cp.async pipeline, "
              "2 register loads + prefetch, 3 tensor cores\n",
              (long long)D, (long long)group);
  std::printf("%-8s %-6s %-8s %10s %10s\n", "length", "heads", "variant", "us/call", "TB/s");
  for (int64_t L : lengths) {
    for (int64_t heads : {cfg.num_key_value_heads, cfg.num_key_value_heads / 2}) {
      if (heads < 1) continue;
      auto k = at::randn({1, heads, L, D}, opts), v = at::randn({1, heads, L, D}, opts);
      auto q = at::randn({1, heads * group, 1, D}, opts), out = at::empty_like(q);
      auto length = at::full({1}, L, at::TensorOptions().dtype(at::kLong).device(device));
      for (int variant : {0, 1, 2, 3}) {
        duo::kernels::DecodeAttentionOptions opt;
        opt.variant = variant;
        for (int i = 0; i < 3; ++i) duo::kernels::decode_attention(out, q, k, v, length, opt);
        at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
        const auto stream = c10::cuda::getCurrentCUDAStream();
        start.record(stream);
        for (int i = 0; i < 20; ++i) duo::kernels::decode_attention(out, q, k, v, length, opt);
        stop.record(stream);
        duo::bench::sync(device);
        const double ms = start.elapsed_time(stop) / 20;
        const double bytes = 2.0 * double(k.nbytes());
        std::printf("%-8lld %-6lld %-8d %10.1f %10.2f\n", (long long)L, (long long)heads, variant, 1e3 * ms,
                    bytes / (ms * 1e9));
      }
    }
  }
  // The projections of one layer and the LM head: kernels/matvec.h against at::linear (cuBLAS).
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  const int64_t qdim = cfg.num_attention_heads * D, kvdim = cfg.num_key_value_heads * D;
  auto w = [&](int64_t n, int64_t k) { return at::randn({n, k}, opts) * 0.02; };
  auto wq = w(qdim, H), wk = w(kvdim, H), wv = w(kvdim, H), wo = w(H, qdim), wg = w(I, H), wu = w(I, H),
       wd = w(H, I), head = w(cfg.vocab_size, H);
  auto norm = at::ones({H}, opts);
  auto xh = at::randn({1, 1, H}, opts), xq = at::randn({1, 1, qdim}, opts), xi = at::randn({1, 1, I}, opts);
  auto time_us = [&](const std::function<void()>& f) {
    for (int i = 0; i < 3; ++i) f();
    at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
    const auto stream = c10::cuda::getCurrentCUDAStream();
    start.record(stream);
    for (int i = 0; i < 20; ++i) f();
    stop.record(stream);
    duo::bench::sync(device);
    return 1e3 * start.elapsed_time(stop) / 20;
  };
  struct Row {
    const char* name;
    double bytes;
    std::function<void()> fused, cublas;
  };
  const std::vector<Row> rows = {
      {"q,k,v", 2.0 * double(qdim + 2 * kvdim) * H,
       [&] { duo::kernels::matvec(xh, {{wq, {}}, {wk, {}}, {wv, {}}}); },
       [&] { at::linear(xh, wq), at::linear(xh, wk), at::linear(xh, wv); }},
      {"norm+q,k,v", 2.0 * double(qdim + 2 * kvdim) * H,
       [&] { duo::kernels::norm_matvec(xh, {xh, norm, 1e-5}, {{wq, {}}, {wk, {}}, {wv, {}}}); },
       [&] {
         auto y = duo::kernels::add_rms_norm(xh, xh, norm, 1e-5).y;
         at::linear(y, wq), at::linear(y, wk), at::linear(y, wv);
       }},
      {"o", 2.0 * double(H) * qdim, [&] { duo::kernels::matvec(xq, {{wo, {}}}); }, [&] { at::linear(xq, wo); }},
      {"gate,up+silu", 4.0 * double(I) * H, [&] { duo::kernels::matvec_swiglu(xh, {wg, {}}, {wu, {}}); },
       [&] { at::silu(at::linear(xh, wg)) * at::linear(xh, wu); }},
      {"down", 2.0 * double(H) * I, [&] { duo::kernels::matvec(xi, {{wd, {}}}); }, [&] { at::linear(xi, wd); }},
      {"lm_head", 2.0 * double(cfg.vocab_size) * H, [&] { duo::kernels::matvec(xh, {{head, {}}}); },
       [&] { at::linear(xh, head); }},
  };
  std::printf("%-14s %10s %10s %10s %10s\n", "matvec", "fused_us", "fused_TB/s", "cublas_us", "cublas_TB/s");
  double fused_layer = 0, cublas_layer = 0;
  for (const Row& r : rows) {
    const double f = time_us(r.fused), c = time_us(r.cublas);
    const std::string name = r.name;
    if (name != "lm_head" && name != "norm+q,k,v") fused_layer += f, cublas_layer += c;
    std::printf("%-14s %10.1f %10.2f %10.1f %10.2f\n", r.name, f, r.bytes / (f * 1e6), c, r.bytes / (c * 1e6));
  }
  std::printf("one layer's projections: fused %.1f us, cuBLAS (+ silu, mul) %.1f us\n", fused_layer, cublas_layer);
  std::fflush(stdout);
}
#endif

// Time to prefill a prompt of each length in chunks (Decoder::prefill: every chunk through the
// model and the pattern's cache, retrieval heads over everything before, streaming heads over
// their sink and recent tokens, as a deployment prefills) at each sparsity, with the ratio
// against the first sparsity. One timed prefill per setting after a short warm-up.
void prefill_table(const duo::LlamaModel& model, const duo::ModelConfig& cfg, const std::vector<int64_t>& lengths,
                   const std::vector<double>& sparsities, int64_t sink, int64_t recent, int64_t chunk,
                   at::Device device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  {  // kernels and allocator warmed up on two small chunks
    duo::Decoder warm(model, pattern_at(cfg.num_hidden_layers, cfg.num_key_value_heads, 0.5, sink, recent), 2048,
                      {.chunk = 1024});
    warm.prefill(at::randint(0, cfg.vocab_size, {1, 2048}, opts));
  }
  std::printf("prefill in chunks of %lld tokens\n", (long long)chunk);
  std::printf("%-8s %-8s %10s %10s %12s %11s\n", "length", "sparsity", "prefill_s", "tokens/s", "peak_GiB", "speed_ratio");
  for (int64_t L : lengths) {
    double first = 0;
    for (double s : sparsities) {
      duo::bench::reset_peak(device, /*release_cache=*/true);
      const at::Tensor ids = at::randint(0, cfg.vocab_size, {1, L}, opts);
      double seconds = 0;
      {
        duo::Decoder decoder(model, pattern_at(cfg.num_hidden_layers, cfg.num_key_value_heads, s, sink, recent), L,
                             {.chunk = chunk});
        duo::bench::sync(device);
        const auto t0 = std::chrono::steady_clock::now();
        decoder.prefill(ids);
        duo::bench::sync(device);
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      if (first == 0) first = seconds;
      std::printf("%-8lld %-8.2f %10.2f %10.0f %12.2f %11.2f\n", (long long)L, s, seconds, double(L) / seconds,
                  gib(double(peak_allocated_bytes(device))), first / seconds);
      std::fflush(stdout);
    }
  }
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
    std::vector<int64_t> prefill_lengths;
    int64_t prefill_chunk = 32768;
    bool prefill_only = false;
    app.add_option("--model-config", config_path, "config.json of the model shape")->required();
    app.add_option("--lengths", lengths, "context lengths already in the cache")->delimiter(',');
    app.add_option("--prefill-lengths", prefill_lengths,
                   "first time a chunked prefill of prompts of these lengths at each sparsity")
        ->delimiter(',');
    app.add_option("--prefill-chunk", prefill_chunk, "tokens per prefill chunk")->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
    app.add_flag("--prefill-only", prefill_only, "time the prefill table only, no decoding");
    app.add_option("--sparsities", sparsities, "fractions of KV heads streaming")->delimiter(',');
    app.add_option("--steps", steps, "decoded tokens timed per setting (after 4 warm-up tokens)");
    app.add_option("--sink", sink, "streaming heads: sink tokens");
    app.add_option("--recent", recent, "streaming heads: recent tokens");
    app.add_option("--device", device_name, "cuda or cpu");
    bool model_only = false;
#ifdef DUO_WITH_CUDA
    bool cuda_graph = true;
#else
    bool cuda_graph = false;
#endif
    app.add_option("--cuda-graph", cuda_graph,
                   "decode through DecodeGraph (one CUDA graph per step, the decode-attention kernel); false: "
                   "the eager LlamaModel::forward")
        ->capture_default_str();
    int attention_variant = -1;
    app.add_option("--attention-variant", attention_variant,
                   "decode-attention split kernel (kernels/decode_attention.h); -1: the built-in default");
    bool fused_matvec = true;
    app.add_option("--fused-matvec", fused_matvec,
                   "graph mode: projections through kernels/matvec.h (false: at::linear, cuBLAS)")
        ->capture_default_str();
    bool launch_overlap = true;
    app.add_option("--launch-overlap", launch_overlap,
                   "launch each decode kernel overlapped with the one before (kernels/launch_overlap.h); false: "
                   "ordinary stream order")
        ->capture_default_str();
    bool kernel_bench = false;
    app.add_flag("--kernel-bench", kernel_bench,
                 "first time the decode-attention kernel alone (each variant) on a cache of each length, "
                 "then each projection (fused matvec against cuBLAS)");
    app.add_flag("--model-only", model_only,
                 "also time one decode step with attention over the new token alone (no cache): the "
                 "cost of everything but reading the KV cache");
    CLI11_PARSE(app, argc, argv);

    const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    auto sync = [&] { duo::bench::sync(device); };
    const auto cfg = duo::load_model_config(config_path);
    const auto model = duo::LlamaModel::random(cfg, 0, at::kBFloat16, device);
    if (attention_variant >= 0) duo::kernels::set_decode_attention_default_variant(attention_variant);
    duo::kernels::set_launch_overlap(launch_overlap);
    if (cuda_graph && !duo::DecodeGraph::available(model)) {
      std::printf("CUDA graphs are not available here (build, device or shapes): decoding eagerly\n");
      cuda_graph = false;
    }
    std::printf("decode-attention variant %d; overlapped launches %s; ", duo::kernels::decode_attention_default_variant(),
                duo::kernels::launch_overlap() ? "on" : "off");
    std::printf("decode: %s\n", cuda_graph ? (fused_matvec ? "CUDA graph (DecodeGraph), decode-attention and matvec kernels"
                                                            : "CUDA graph (DecodeGraph), decode-attention kernel, cuBLAS projections")
                                           : "eager LlamaModel::forward");
    torch::NoGradGuard no_grad;
    duo::bench::reset_peak(device, /*release_cache=*/true);
    const int64_t weights = peak_allocated_bytes(device);

#ifdef DUO_WITH_CUDA
    if (kernel_bench && device.is_cuda()) {
      kernel_table(cfg, lengths, device);
      duo::bench::reset_peak(device, /*release_cache=*/true);
    }
#endif
    if (!prefill_lengths.empty()) {
      prefill_table(model, cfg, prefill_lengths, sparsities, sink, recent, prefill_chunk, device);
      duo::bench::reset_peak(device, /*release_cache=*/true);
    }
    if (prefill_only) return 0;
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
    std::printf("%-8s %-8s %10s %10s %12s %10s %10s %11s %9s %10s\n", "length", "sparsity", "KV_GiB", "KV_ratio",
                "total_GiB", "mem_ratio", "ms/token", "speed_ratio", "attn_ms", "attn_TB/s");
    for (int64_t L : lengths) {
      std::map<double, std::tuple<double, double, double>> base;  // KV bytes, total bytes, ms
      for (double s : sparsities) {
        duo::bench::reset_peak(device, /*release_cache=*/true);
        double kv = 0, total = 0, ms = 0, attn = -1;
        {
          auto pattern = pattern_at(cfg.num_hidden_layers, cfg.num_key_value_heads, s, sink, recent);
          duo::Decoder decoder(model, pattern, L + steps + 4, {.cuda_graph = cuda_graph, .fused_matvec = fused_matvec});
          duo::MixedKVCacheAttention& engine = decoder.cache();
          engine.fill_random(L);
          int64_t token = 1;
          std::vector<double> times;
          for (int i = 0; i < steps + 4; ++i) {
            sync();
            auto t0 = std::chrono::steady_clock::now();
            token = decoder.step(token).argmax(-1).item<int64_t>();
            if (i >= 4) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          }
          if (cuda_graph && decoder.graph()->replays() != steps + 3)
            std::printf("warning: %lld of %d steps replayed from the graph\n", (long long)decoder.graph()->replays(),
                        steps + 4);
          std::sort(times.begin(), times.end());
          ms = 1e3 * times[times.size() / 2];
          kv = double(engine.kv_bytes());
          total = double(peak_allocated_bytes(device));
#ifdef DUO_WITH_CUDA
          if (cuda_graph) attn = attention_ms(engine, cfg, L + steps + 3, device, 10);
#endif
        }
        if (base.empty()) base[s] = {kv, total, ms};
        auto [kv0, total0, ms0] = base.begin()->second;
        // KV bandwidth: the caches hold L + steps + 4 positions and attention at the position
        // timed (L + steps + 3) reads all of them, so the bytes read are kv_bytes().
        std::printf("%-8lld %-8.2f %10.2f %10.2f %12.2f %10.2f %10.2f %11.2f %9.2f %10.2f\n", (long long)L, s, gib(kv),
                    kv0 / kv, gib(total), total0 / total, ms, ms0 / ms, attn, attn > 0 ? kv / (attn * 1e9) : -1.0);
        std::fflush(stdout);
      }
    }
    std::printf("weights alone: %.2f GiB; ratios are against the first sparsity at the same length; attn_ms: the "
                "attention of all layers alone per step (-1: not measured, eager mode)\n",
                gib(double(weights)));
    return 0;
  });
}
