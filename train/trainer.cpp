#include "trainer.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "activation_offload.h"
#include "checkpoint_plan.h"
#include "distill_objective.h"
#include "history/history_reader.h"
#include "history/history_writer.h"
#include "lr_schedule.h"
#include "model/llama.h"
#include "model/model_config.h"
#include "model/model_memory.h"
#include "synth/passkey.h"
#include "tokenizer/tokenizer.h"
#include "train_state.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo {
namespace {

std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested = true; }

at::Device resolve_device(DeviceChoice choice) {
  bool cuda = torch::cuda::is_available();
  if (choice == DeviceChoice::cuda && !cuda)
    throw Error("model.device is cuda, but no CUDA device is available (use cpu or auto)");
  if (choice == DeviceChoice::cpu || !cuda) return at::Device(at::kCPU);
  // Every step has another context length: without expandable segments the caching allocator's
  // blocks fragment, and a 256K-token step of an 8B model ran out of an H200's memory with 28 GiB
  // reserved but unused (experiments/train-step-h200.md). Read at the first allocation; a value
  // the user set is kept.
  setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", /*overwrite=*/0);
  return at::Device(at::kCUDA, 0);
}

at::ScalarType to_scalar_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::bf16: return at::kBFloat16;
    case Dtype::fp16: return at::kHalf;
    case Dtype::fp32: return at::kFloat;
  }
  return at::kFloat;
}

LlamaModel load_model(const TrainConfig& config, at::ScalarType dtype, at::Device device) {
  const std::filesystem::path dir = config.model.path;
  const ModelConfig declared = load_model_config(dir / "config.json");
  // The distillation loss compares hidden states: the LM head is never used, nor loaded.
  check_weights_fit(declared, dtype, device, dir / "config.json", /*with_lm_head=*/false);
  if (config.model.random_config)
    return LlamaModel::random(declared, config.model.seed, dtype, device, /*with_lm_head=*/false);
  return LlamaModel::load(dir, dtype, device, /*with_lm_head=*/false);
}

// Where a --resume continues, decided before the model loads: the step of checkpoint.pt, or
// nothing when there is no checkpoint and the history holds no steps yet (the run starts from step
// 0 and says so). History rows are never dropped without a word: rows past the checkpoint are
// announced (they are trained again), and steps a missing checkpoint would lose are an error.
std::optional<int64_t> plan_resume(const RunFiles& files) {
  namespace fs = std::filesystem;
  const bool has_history = fs::exists(files.history);
  const auto afresh = "; nothing was changed. Use a new --out to start afresh";
  if (!fs::exists(files.checkpoint)) {
    const int64_t rows = has_history ? HistoryReader(files.history).rows() : 0;
    if (rows > 0)
      throw Error(files.checkpoint, "missing, but " + files.history.filename().string() + " holds " +
                                        std::to_string(rows) + " steps, which cannot be continued without it" + afresh +
                                        ", or remove " + files.history.string() + " to train again from step 0");
    std::cerr << "duo-train: " << files.dir.string() << " has no checkpoint and "
              << (has_history ? "its history holds no steps yet" : "no history yet") << ": starting from step 0\n";
    return std::nullopt;
  }
  const int64_t step = read_train_state_steps(files.checkpoint);
  if (!has_history)
    throw Error(files.history, "missing, though " + files.checkpoint.filename().string() + " is at step " +
                                   std::to_string(step) + afresh);
  const HistoryReader history(files.history);
  const auto& steps = history.steps();
  if (step > 0 && (steps.empty() || steps.back() < step - 1))
    throw Error(files.history, (steps.empty() ? std::string("holds no steps") : "ends at step " + std::to_string(steps.back())) +
                                   ", but " + files.checkpoint.filename().string() + " is at step " +
                                   std::to_string(step) + ": steps would be missing" + afresh);
  const auto past = std::count_if(steps.begin(), steps.end(), [&](int64_t s) { return s >= step; });
  if (past > 0)
    std::cerr << "duo-train: " << files.history.filename().string() << " holds steps up to " << steps.back()
              << ", past the checkpoint at step " << step << ": those " << past
              << " rows are dropped and the steps trained again\n";
  return step;
}

// The longest sample must fit the positions the model was trained on (checked before the model
// loads): past max_position_embeddings a model runs on positions it never saw, and gates trained
// there describe that, not the model. A config.json without the key is not checked.
void check_context_fits(const TrainConfig& config, const std::string& config_source) {
  const std::filesystem::path model_config = std::filesystem::path(config.model.path) / "config.json";
  const int64_t limit = load_model_config(model_config).max_position_embeddings;
  if (limit > 0 && config.data.context_max > limit)
    throw Error("data.context_max is " + std::to_string(config.data.context_max) + " tokens (" + config_source +
                "), more than the model's max_position_embeddings of " + std::to_string(limit) + " (" +
                model_config.string() + "); lower data.context_max (and data.context_min) to at most " +
                std::to_string(limit));
}

}  // namespace

RunFiles::RunFiles(const std::filesystem::path& out_dir)
    : dir(out_dir),
      config(out_dir / "config.yaml"),
      history(out_dir / "history.h5"),
      checkpoint(out_dir / "checkpoint.pt") {}

int train(const TrainConfig& config, bool resume, const std::string& config_source) {
  if (config.model.path.empty())
    throw Error("model.path is empty: name a checkpoint directory in the config or with --model");
  RunFiles files(config.run.out);
  if (!resume && std::filesystem::exists(files.history))
    throw Error(files.dir, "already holds a run (history.h5); pass --resume to continue it, or "
                           "choose another --out");
  const std::optional<int64_t> resume_step = resume ? plan_resume(files) : std::nullopt;
  check_context_fits(config, config_source);
  std::filesystem::create_directories(files.dir);

  const auto device = resolve_device(config.model.device);
  const auto dtype = to_scalar_type(config.model.dtype);
  std::cerr << "duo-train: loading " << config.model.path
            << (config.model.random_config ? " (random weights)" : "") << " as "
            << to_string(config.model.dtype) << " on " << device.str() << "\n";
  const LlamaModel model = load_model(config, dtype, device);
  const ModelConfig& shape = model.config();
  const Tokenizer tokenizer = Tokenizer::from_dir(config.tokenizer_dir());
  const synth::PasskeyGenerator data(config.data, tokenizer);
  // Printed once everything it names has loaded, so a bad path gives just its one error line.
  if (!resume) std::cerr << "duo-train: resolved configuration\n" << config.to_yaml() << "\n";

  auto gates = at::full({shape.num_hidden_layers, shape.num_key_value_heads}, config.gates.init,
                        at::TensorOptions().dtype(at::kFloat).device(device))
                   .requires_grad_(true);
  torch::optim::AdamW optimizer(
      {gates}, torch::optim::AdamWOptions(config.optim.lr).weight_decay(config.optim.weight_decay));
  const LrSchedule schedule{config.optim.lr, config.run.steps, config.optim.warmup_frac,
                            config.optim.decay_frac, config.optim.min_lr_ratio};

  TrainState state{0, 0.0, gates};
  HistoryMeta meta;
  meta.config_yaml = config.to_yaml();
  meta.model_name = config.model.path;
  meta.architecture = std::string(architecture_name(shape.architecture));
  meta.num_layers = static_cast<int>(shape.num_hidden_layers);
  meta.num_heads = static_cast<int>(shape.num_attention_heads);
  meta.num_kv_heads = static_cast<int>(shape.num_key_value_heads);
  meta.head_dim = static_cast<int>(shape.head_dim);
  meta.sink = static_cast<int>(config.streaming.sink);
  meta.recent = static_cast<int>(config.streaming.recent);

  double wall_offset = 0;  // seconds the run had already taken before this process
  std::optional<HistoryWriter> history;
  if (resume_step) {
    load_train_state(files.checkpoint, state, optimizer);
    history.emplace(HistoryWriter::resume(files.history, state.steps_done));
    wall_offset = state.wall_time;
    std::cerr << "duo-train: resuming " << files.dir << " at step " << state.steps_done << "\n";
  } else {
    write_text_file(files.config, meta.config_yaml);
    // Replaces only a history plan_resume found empty (a fresh run refused an existing one).
    HistoryWriter::Options options;
    options.overwrite = resume;
    history.emplace(HistoryWriter::create(files.history, meta, options));
  }

  ObjectiveOptions objective;
  objective.window = config.streaming;
  objective.mode = config.gates.mode;
  objective.activation_checkpointing = config.run.activation_checkpointing;
  objective.keep_full_attention = config.run.keep_full_attention;
  // Read once: the pinned blocks a step takes stay cached for the next, so what the host has
  // available later no longer counts them.
  if (config.run.offload_activations && model.device().is_cuda())
    objective.offload_host_bytes = ActivationOffload::default_host_budget();
  if (objective.activation_checkpointing && config.run.checkpointed_layers == CheckpointedLayers::automatic &&
      device.is_cuda()) {
    std::cerr << "duo-train: measuring which layers need checkpointing (two trial steps of " << config.data.context_max
              << " tokens)\n";
    const CheckpointPlan plan = plan_checkpointing(model, objective, config.data.context_max);
    objective.checkpointed_layers = plan.checkpointed_layers;
    std::cerr << "duo-train: " << plan.summary() << "\n";
  }
  objective.reg_weight = config.optim.reg_weight;

  g_stop_requested = false;
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);

  const int64_t total = config.run.steps;
  ProgressBar bar("train", total, state.steps_done, "tok", config.run.log_every);
  const auto t0 = std::chrono::steady_clock::now();
  auto clamp_gates = [&] {
    torch::NoGradGuard no_grad;
    gates.clamp_(0.0, 1.0);
  };
  clamp_gates();
  int64_t step = state.steps_done;
  for (; step < total && !g_stop_requested; ++step) {
    const double lr = schedule.at(step);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

    // A step of batch B averages the objective over samples step*B .. step*B+B-1; samples of
    // different lengths run one after the other (gradient accumulation), as batch 1 does.
    const int64_t batch = config.run.batch;
    optimizer.zero_grad();
    double total_loss = 0, distill_loss = 0, reg_loss = 0;
    int64_t tokens = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const synth::PasskeySample sample = data.sample(step * batch + b);
      auto ids = at::tensor(sample.ids, at::kLong).to(device).unsqueeze(0);
      auto mask = at::tensor(sample.label_mask, at::kByte).to(device).to(at::kBool).unsqueeze(0);
      Objective loss = distill_objective(model, gates, ids, mask, objective);
      (loss.total / static_cast<double>(batch)).backward();
      total_loss += loss.total.item<double>() / batch;
      distill_loss += loss.distill.item<double>() / batch;
      reg_loss += loss.reg.item<double>() / batch;
      tokens += ids.size(1);
    }
    optimizer.step();
    clamp_gates();  // the reference clamps before every step; the next step sees these values

    StepRecord record;
    record.step = step;
    auto g = gates.detach().cpu().contiguous();
    record.gates.assign(g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
    record.loss_total = total_loss;
    record.loss_distill = distill_loss;
    record.loss_reg = reg_loss;
    record.lr = lr;
    record.tokens = tokens;
    record.wall_time =
        wall_offset + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    history->append(record);

    const int64_t done = step + 1;
    if (done % config.run.checkpoint_every == 0 || done == total) {
      state.steps_done = done;
      state.wall_time = record.wall_time;
      save_train_state(files.checkpoint, state, optimizer);
    }
    bar.update(done, tokens,
               {{"loss", format_number(record.loss_total)},
                {"distill", format_number(record.loss_distill)},
                {"reg", format_number(record.loss_reg)},
                {"lr", format_number(lr, 3)},
                {"tokens", std::to_string(tokens)}});
  }
  bar.finish();

  if (step < total) {
    state.steps_done = step;
    state.wall_time =
        wall_offset + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    save_train_state(files.checkpoint, state, optimizer);
    std::cerr << "duo-train: interrupted after step " << step << "; checkpoint saved. Continue with:\n"
              << "  duo-train --resume --out " << files.dir.string() << "\n";
    return 130;
  }
  std::cerr << "duo-train: done. History: " << files.history.string() << "\n"
            << "Next: duo-analyze summary " << files.history.string() << "\n";
  return 0;
}

}  // namespace duo
