// duo-bench-train-step: time one gate-training step (reference pass + gated pass + backward to
// the gates) of a model built from a config.json with random weights, at several context
// lengths and in both gate modes. Prints, per setting, the step time, tokens/s, the FLOPs the
// step needs and the model FLOPs utilisation they make of the GPU's peak, and the peak GPU
// memory; then the projected time of a full reference calibration (2000 steps over
// linspace(1000, 32000, 50)). With --pytorch, the same step as a PyTorch user writes it
// (benchmarks/train_step_pytorch.py: transformers' Llama, gates on SDPA outputs, an exact
// streaming mask) runs first on the same GPU, and every paper-mode row gets its speed ratio.
//
//   duo-bench-train-step --model-config models/shapes/llama3-8b/config.json \
//       --lengths 4096,16384,32768 --modes paper,reference --steps 2 \
//       --pytorch benchmarks/train_step_pytorch.py
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "attention_flops.h"
#include "device_memory.h"
#include "kernel_profile.h"
#include "model/llama.h"
#include "model/model_config.h"
#include "train/activation_offload.h"
#include "train/checkpoint_plan.h"
#include "train/distill_objective.h"
#include "util/error.h"

namespace {

// The FLOPs one step needs (multiply-adds count 2), without activation checkpointing's
// recomputation: the reference forward, the gated forward, and the backward from the loss to
// the gates — every layer's input gradient (the frozen weights get none), except layer 0's
// attention and q/k/v projections, below which no gate sits. Attention backward counts 2.5×
// its forward (flash: five matrix products instead of two).
struct StepFlops {
  double reference, gated, backward;
  double total() const { return reference + gated + backward; }
};
// The last layer's output is needed at the answer rows only (LlamaModel::layer_forward's rows_from):
// from the first of them, `tail` rows, it runs its output projection and MLP.
StepFlops step_flops(const duo::ModelConfig& c, int64_t T, int64_t tail, const duo::StreamingWindow& w,
                     duo::GateMode mode) {
  const double H = double(c.hidden_size), I = double(c.intermediate_size), D = double(c.head_dim);
  const double Hq = double(c.num_attention_heads), Hkv = double(c.num_key_value_heads), L = double(c.num_hidden_layers);
  const double qkv = 2 * H * (Hq + 2 * Hkv) * D * double(T), rest = (2 * Hq * D * H + 6 * H * I) * double(T);
  const double last_rest = rest * double(tail) / double(T);
  const double full = 4 * Hq * D * duo::bench::causal_pairs(T), stream = 4 * Hq * D * duo::bench::window_pairs(w, T);
  const double gated_attention = stream + (mode == duo::GateMode::paper ? full : 0);
  StepFlops f{};
  f.reference = L * (qkv + full) + (L - 1) * rest + last_rest;
  f.gated = L * (qkv + gated_attention) + (L - 1) * rest + last_rest;
  f.backward = (L - 1) * rest + last_rest + (L - 1) * (qkv + 2.5 * gated_attention);
  return f;
}

// The PyTorch baseline's JSON lines, by context length.
struct Baseline {
  double step_s, peak_gib;
};
std::map<int64_t, Baseline> run_pytorch(const std::string& python, const std::string& script,
                                        const std::string& config_path, const std::vector<int64_t>& lengths, int steps,
                                        const duo::StreamingWindow& w) {
  std::string list;
  for (int64_t T : lengths) list += (list.empty() ? "" : ",") + std::to_string(T);
  const std::string cmd = python + " " + script + " --model-config " + config_path + " --lengths " + list +
                          " --steps " + std::to_string(steps) + " --sink " + std::to_string(w.sink) + " --recent " +
                          std::to_string(w.recent);
  std::fprintf(stderr, "PyTorch baseline: %s\n", cmd.c_str());
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) throw duo::Error("cannot start the PyTorch baseline: " + cmd);
  std::map<int64_t, Baseline> out;
  std::array<char, 4096> line{};
  while (std::fgets(line.data(), line.size(), pipe.get())) {
    auto j = nlohmann::json::parse(line.data(), nullptr, false);
    if (j.is_object() && j.contains("tokens")) out[j["tokens"].get<int64_t>()] = {j["step_s"], j["peak_gib"]};
  }
  return out;
}

double peak_gib(const at::Device& device) {  // -1 where the device keeps no statistic
  const int64_t peak = duo::bench::peak_allocated_bytes(device);
  return peak < 0 ? -1.0 : duo::bench::gib(double(peak));
}

// Least-squares a + b·T + c·T² through the measured (T, seconds); attention makes a step
// quadratic in its length.
std::array<double, 3> quadratic_fit(const std::vector<std::pair<double, double>>& pts) {
  double m[3][4] = {};
  for (auto [T, y] : pts) {
    const double x[3] = {1, T, T * T};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] += x[r] * x[c];
      m[r][3] += x[r] * y;
    }
  }
  for (int p = 0; p < 3; ++p)  // Gauss-Jordan; the points are few and well apart
    for (int r = 0; r < 3; ++r)
      if (r != p) {
        const double f = m[r][p] / m[p][p];
        for (int c = p; c < 4; ++c) m[r][c] -= f * m[p][c];
      }
  return {m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]};
}

}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-bench-train-step", [&]() -> int {
    CLI::App app{"Times gate-training steps of a random-weight model at real shapes."};
    std::string config_path, dtype_name = "bf16", device_name = "cuda", granularity = "token";
    std::string pytorch_script, python = "python3";
    std::vector<int64_t> lengths{4096};
    std::vector<std::string> modes{"paper", "reference"};
    int steps = 2, warmup = 1;
    int64_t sink = 128, recent = 256, block_size = 128, pytorch_max = 32768;
    bool checkpointing = true, offload = true;
    int64_t profile_length = 0;
    std::string checkpointed_layers = "all";
    int profile_rows = 25;
    double peak_tflops = 989;
    app.add_option("--model-config", config_path, "config.json of the model shape")->required();
    app.add_option("--lengths", lengths, "context lengths in tokens")->delimiter(',')->capture_default_str();
    app.add_option("--modes", modes,
                   "gate modes: paper, paper-keep (paper, keeping each layer's full attention from the forward pass "
                   "for its recomputation), reference")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--steps", steps, "timed steps per setting (the median is printed)")->capture_default_str();
    app.add_option("--warmup", warmup, "untimed steps before them")->capture_default_str();
    app.add_option("--dtype", dtype_name, "bf16, fp16 or fp32")->capture_default_str();
    app.add_option("--device", device_name, "cuda or cpu")->capture_default_str();
    app.add_option("--sink", sink, "streaming sink tokens")->capture_default_str();
    app.add_option("--recent", recent, "streaming recent tokens")->capture_default_str();
    app.add_option("--granularity", granularity, "streaming window: token or block")
        ->check(CLI::IsMember({"token", "block"}))
        ->capture_default_str();
    app.add_option("--block-size", block_size, "block granularity's block")->capture_default_str();
    app.add_option("--checkpointing", checkpointing, "activation checkpointing (true/false)")->capture_default_str();
    app.add_option("--checkpointed-layers", checkpointed_layers,
                   "with checkpointing: all, a number of layers from the bottom (the rest keep their activations), "
                   "or auto (as many as the GPU's memory needs, measured per length as duo-train does)")
        ->capture_default_str();
    app.add_option("--offload", offload,
                   "with checkpointing, park what the forward pass keeps for the backward in pinned host memory, "
                   "as duo-train does (true/false)")
        ->capture_default_str();
    app.add_option("--peak-tflops", peak_tflops, "the GPU's dense bf16 peak, for the utilisation (H100/H200 SXM: 989)")
        ->capture_default_str();
    app.add_option("--pytorch", pytorch_script, "also run this PyTorch baseline (benchmarks/train_step_pytorch.py) first");
    app.add_option("--python", python, "interpreter for --pytorch (with torch and transformers)")->capture_default_str();
    app.add_option("--pytorch-max-length", pytorch_max, "lengths beyond this skip the baseline (its dense mask is T² bytes)")
        ->capture_default_str();
    app.add_option("--profile", profile_length, "after the table, one step of this length (its first mode) under the "
                                                "profiler: GPU time by kernel");
    app.add_option("--profile-rows", profile_rows, "kernels --profile lists")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    const auto dtype = dtype_name == "bf16" ? at::kBFloat16 : dtype_name == "fp16" ? at::kHalf : at::kFloat;
    const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    const auto cfg = duo::load_model_config(config_path);
    const duo::StreamingWindow window{sink, recent,
                                      granularity == "token" ? duo::StreamingGranularity::token
                                                             : duo::StreamingGranularity::block,
                                      block_size};

    std::map<int64_t, Baseline> baseline;
    if (!pytorch_script.empty()) {
      std::vector<int64_t> short_lengths;
      for (int64_t T : lengths)
        if (T <= pytorch_max) short_lengths.push_back(T);
      if (!short_lengths.empty()) baseline = run_pytorch(python, pytorch_script, config_path, short_lengths, steps, window);
    }

    std::fprintf(stderr, "building %lld-layer model with random weights on %s...\n",
                 (long long)cfg.num_hidden_layers, device.str().c_str());
    const auto model = duo::LlamaModel::random(cfg, 0, dtype, device, /*with_lm_head=*/false);  // as duo-train
    const int64_t offload_bytes = offload ? duo::ActivationOffload::default_host_budget() : 0;
    std::printf("streaming window: sink %lld + recent %lld, %s granularity; activation checkpointing %s; "
                "offload to host %s (budget %.1f GiB)\n",
                (long long)sink, (long long)recent, granularity.c_str(), checkpointing ? "on" : "off",
                offload ? "on" : "off", duo::bench::gib(double(offload_bytes)));
    std::printf("%-8s %-10s %5s %9s %10s %10s %7s %9s %11s %11s %8s\n", "tokens", "mode", "ckpt", "step_s", "tokens/s",
                "TFLOP/step", "MFU", "peak_GiB", "pytorch_s", "pytorch_GiB", "speedup");
    std::map<std::string, std::vector<std::pair<double, double>>> measured;  // mode -> (T, step_s)
    std::function<void()> profile_step;
    std::string profile_what;
    for (int64_t T : lengths) {
      for (const auto& mode_name : modes) {
        duo::ObjectiveOptions opt;
        opt.window = window;
        opt.mode = mode_name == "reference" ? duo::GateMode::reference : duo::GateMode::paper;
        opt.activation_checkpointing = checkpointing;
        opt.keep_full_attention = mode_name == "paper-keep";
        opt.offload_host_bytes = offload_bytes;
        if (checkpointed_layers == "auto") {
          const duo::CheckpointPlan plan = duo::plan_checkpointing(model, opt, T);
          std::fprintf(stderr, "%lld tokens, %s: %s\n", (long long)T, mode_name.c_str(), plan.summary().c_str());
          opt.checkpointed_layers = plan.checkpointed_layers;
        } else if (checkpointed_layers != "all") {
          opt.checkpointed_layers = std::stoi(checkpointed_layers);
        }
        auto gates = at::full({cfg.num_hidden_layers, cfg.num_key_value_heads}, 0.5,
                              at::TensorOptions().dtype(at::kFloat).device(device))
                         .requires_grad_(true);
        at::manual_seed(T);
        auto ids = at::randint(0, cfg.vocab_size, {1, T}, at::TensorOptions().dtype(at::kLong)).to(device);
        auto mask = at::zeros({1, T}, at::kBool).to(device);
        const int64_t tail = T / 10;
        mask.slice(1, T - tail, T).fill_(true);  // the answer block: the last tenth

        // Captures by value (the tensors are shared), so that --profile can run it after the table.
        std::function<void()> step = [&model, device, gates, ids, mask, opt]() mutable {
          gates.mutable_grad() = at::Tensor();
          duo::distill_objective(model, gates, ids, mask, opt).total.backward();
          duo::bench::sync(device);
        };
        std::vector<double> times;
        duo::bench::reset_peak(device, /*release_cache=*/true);
        for (int i = 0; i < warmup + steps; ++i) {
          duo::bench::sync(device);
          auto t0 = std::chrono::steady_clock::now();
          step();
          if (i >= warmup) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        if (T == profile_length && !profile_step) {
          profile_step = step;  // run after the table, so that the profiler slows no timed step
          profile_what = std::to_string(T) + " tokens, " + mode_name;
        }
        std::sort(times.begin(), times.end());
        const double median = times[times.size() / 2];
        const double flops = step_flops(cfg, T, tail, window, opt.mode).total();
        measured[mode_name].push_back({double(T), median});
        std::printf("%-8lld %-10s %5d %9.3f %10.0f %10.1f %6.1f%% %9.1f", (long long)T, mode_name.c_str(),
                    checkpointing ? std::min<int>(opt.checkpointed_layers, int(cfg.num_hidden_layers)) : 0, median,
                    double(T) / median, flops / 1e12, 100 * flops / median / (peak_tflops * 1e12), peak_gib(device));
        auto b = baseline.find(T);
        if (b != baseline.end() && opt.mode == duo::GateMode::paper)  // the baseline's formula
          std::printf(" %11.3f %11.1f %7.2fx\n", b->second.step_s, b->second.peak_gib, b->second.step_s / median);
        else
          std::printf(" %11s %11s %8s\n", "-", "-", "-");
        std::fflush(stdout);
      }
    }

    // The reference calibration: 2000 steps, the context cycling through linspace(1000, 32000, 50).
    for (const auto& [mode_name, pts] : measured) {
      std::vector<std::pair<double, double>> fit_pts;
      for (auto p : pts)
        if (p.first <= 32768) fit_pts.push_back(p);
      if (fit_pts.size() < 3) continue;
      const auto [a, b, c] = quadratic_fit(fit_pts);
      double seconds = 0;
      for (int i = 0; i < 50; ++i) {
        const double T = 1000 + i * (32000.0 - 1000) / 49;
        seconds += (2000.0 / 50) * (a + b * T + c * T * T);
      }
      std::printf("projected full calibration (%s): %.2f h (2000 steps over linspace(1000, 32000, 50), step time "
                  "fitted as %.3g + %.3g*T + %.3g*T^2 s through the lengths up to 32K)\n",
                  mode_name.c_str(), seconds / 3600, a, b, c);
    }
    if (profile_step) {
      std::printf("profile of one step (%s):\n", profile_what.c_str());
      duo::bench::print_kernel_profile(profile_step, profile_rows);
    }
    return 0;
  });
}
