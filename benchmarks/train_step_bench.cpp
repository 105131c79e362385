// duo-bench-train-step: time one gate-training step (reference pass + gated pass + backward)
// of a model built from a config.json with random weights, at several context lengths and in
// both gate modes, and report the peak GPU memory of each. Prints one table.
//
//   duo-bench-train-step --model-config models/shapes/llama3-8b/config.json \
//       --lengths 4096,32768 --modes paper,reference --steps 3
#include <CLI/CLI.hpp>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "device_memory.h"
#include "model/llama.h"
#include "model/model_config.h"
#include "train/distill_objective.h"
#include "util/error.h"

using duo::bench::reset_peak;
using duo::bench::sync;

namespace {
double peak_gib(const at::Device& device) {  // -1 where the device keeps no statistic
  const int64_t peak = duo::bench::peak_allocated_bytes(device);
  return peak < 0 ? -1.0 : duo::bench::gib(double(peak));
}
}  // namespace

int main(int argc, char** argv) {
  return duo::run_main("duo-bench-train-step", [&]() -> int {
    CLI::App app{"Times gate-training steps of a random-weight model at real shapes."};
    std::string config_path, dtype_name = "bf16", device_name = "cuda";
    std::vector<int64_t> lengths{4096};
    std::vector<std::string> modes{"paper", "reference"};
    int steps = 3;
    int64_t sink = 128, recent = 256;
    bool checkpointing = true;
    app.add_option("--model-config", config_path, "config.json of the model shape")->required();
    app.add_option("--lengths", lengths, "context lengths in tokens")->delimiter(',');
    app.add_option("--modes", modes, "gate modes: paper, reference")->delimiter(',');
    app.add_option("--steps", steps, "timed steps per setting (after one warm-up step)");
    app.add_option("--dtype", dtype_name, "bf16, fp16 or fp32");
    app.add_option("--device", device_name, "cuda or cpu");
    app.add_option("--sink", sink, "streaming sink tokens");
    app.add_option("--recent", recent, "streaming recent tokens");
    app.add_option("--checkpointing", checkpointing, "activation checkpointing (true/false)");
    CLI11_PARSE(app, argc, argv);

    const auto dtype = dtype_name == "bf16" ? at::kBFloat16 : dtype_name == "fp16" ? at::kHalf : at::kFloat;
    const at::Device device = device_name == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    const auto cfg = duo::load_model_config(config_path);
    std::fprintf(stderr, "building %lld-layer model with random weights on %s...\n",
                 (long long)cfg.num_hidden_layers, device.str().c_str());
    const auto model = duo::LlamaModel::random(cfg, 0, dtype, device);

    std::printf("%-8s %-10s %12s %12s %14s\n", "tokens", "mode", "step_s", "tokens/s", "peak_mem_GiB");
    for (int64_t T : lengths) {
      for (const auto& mode_name : modes) {
        duo::ObjectiveOptions opt;
        opt.window = {sink, recent, duo::StreamingGranularity::token, 128};
        opt.mode = mode_name == "reference" ? duo::GateMode::reference : duo::GateMode::paper;
        opt.activation_checkpointing = checkpointing;
        auto gates = at::full({cfg.num_hidden_layers, cfg.num_key_value_heads}, 0.5,
                              at::TensorOptions().dtype(at::kFloat).device(device))
                         .requires_grad_(true);
        at::manual_seed(T);
        auto ids = at::randint(0, cfg.vocab_size, {1, T}, at::TensorOptions().dtype(at::kLong)).to(device);
        auto mask = at::zeros({1, T}, at::kBool).to(device);
        mask.slice(1, T - T / 10, T).fill_(true);  // the answer block: the last tenth

        std::vector<double> times;
        reset_peak(device, /*release_cache=*/false);
        for (int i = 0; i <= steps; ++i) {
          sync(device);
          auto t0 = std::chrono::steady_clock::now();
          gates.mutable_grad() = at::Tensor();
          auto loss = duo::distill_objective(model, gates, ids, mask, opt);
          loss.total.backward();
          sync(device);
          if (i > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(times.begin(), times.end());
        double median = times[times.size() / 2];
        std::printf("%-8lld %-10s %12.3f %12.0f %14.1f\n", (long long)T, mode_name.c_str(), median,
                    double(T) / median, peak_gib(device));
        std::fflush(stdout);
      }
    }
    return 0;
  });
}
