// The pretraining loop: next-token cross-entropy on every token (answer tokens weighted by
// data.answer_weight, the others by data.text_weight), AdamW with decoupled weight decay on matrices only, linear warm-up then
// cosine decay to min_lr_ratio·lr, global gradient-norm clipping. Weights and optimizer state
// stay fp32; with precision bf16 the matrix products and attention run in bf16 (autocast).
// Batches are built on a second thread while the device works on the current step.
#include "pretrain.h"

#include <ATen/autocast_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <future>
#include <sstream>
#include <thread>

#include "hf_checkpoint.h"
#include "mix.h"
#include "model/llama.h"
#include "passkey_eval.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/text_file.h"

namespace duo {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

double learning_rate(const PretrainConfig::Train& t, int64_t step, int64_t total) {
  if (step < t.warmup_steps) return t.lr * double(step + 1) / double(t.warmup_steps);
  const double span = std::max<int64_t>(1, total - t.warmup_steps);
  const double progress = std::min(1.0, double(step - t.warmup_steps) / span);
  return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

struct Batch {
  at::Tensor ids;     // [B, T] int64
  at::Tensor answer;  // [B, T] uint8: kAnswer, kAnswerFirst or 0
};

// Samples are built on several threads (each sample depends on its index alone), so that the
// host keeps up with a fast device.
Batch make_batch(const MixGenerator& mix, int64_t step, int64_t batch, int64_t context) {
  Batch b{at::empty({batch, context}, at::kLong), at::empty({batch, context}, at::kByte)};
  const int64_t threads = std::clamp<int64_t>(std::thread::hardware_concurrency() - 2, 1, 8);
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < threads; ++w)
    pool.emplace_back([&, w] {
      for (int64_t i = w; i < batch; i += threads) {
        const MixSample s = mix.sample(step * batch + i);
        std::copy(s.ids.begin(), s.ids.end(), b.ids[i].data_ptr<int64_t>());
        std::copy(s.answer.begin(), s.answer.end(), b.answer[i].data_ptr<uint8_t>());
      }
    });
  for (std::thread& t : pool) t.join();
  return b;
}

ModelConfig model_config(const PretrainConfig& c, const Tokenizer& tok) {
  ModelConfig m;
  m.architecture = Architecture::Llama;
  m.hidden_size = c.model.hidden_size;
  m.intermediate_size = c.model.intermediate_size;
  m.num_hidden_layers = c.model.num_layers;
  m.num_attention_heads = c.model.num_heads;
  m.num_key_value_heads = c.model.num_kv_heads;
  m.head_dim = c.model.head_dim;
  m.vocab_size = tok.vocab_size();
  m.rms_norm_eps = c.model.rms_norm_eps;
  m.rope_theta = c.model.rope_theta;
  m.max_position_embeddings = c.data.context;
  if (tok.bos_id()) m.bos_token_ids = {*tok.bos_id()};
  if (tok.eos_id()) m.eos_token_ids = {*tok.eos_id()};
  return m;
}

at::Device device_of(const PretrainConfig& c) {
  if (c.train.device == "cuda" && !at::hasCUDA())
    throw Error("train.device is cuda but no CUDA device is available (use --set train.device=cpu)");
  return c.train.device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

void write_eval_csv(const std::filesystem::path& csv, const std::vector<PasskeyAccuracy>& acc) {
  std::ostringstream out;
  out << "length,correct,total,accuracy\n";
  for (const PasskeyAccuracy& a : acc) out << a.length << "," << a.correct << "," << a.total << "," << a.accuracy() << "\n";
  write_text_file(csv, out.str());
}

}  // namespace

void evaluate_checkpoint(const PretrainConfig& config, const std::filesystem::path& dir,
                         const std::filesystem::path& csv) {
  const LlamaModel model = LlamaModel::load(dir, at::kFloat, device_of(config));
  const Tokenizer tok = Tokenizer::from_dir(dir);
  const auto [lo, hi] = std::minmax_element(config.eval.lengths.begin(), config.eval.lengths.end());
  const synth::PasskeyGenerator gen = make_passkey_generator(config, tok, config.eval.seed, *lo, *hi);
  std::printf("passkey accuracy of %s, full attention, %lld samples x %lld passkeys per length:\n",
              dir.string().c_str(), (long long)config.eval.samples, (long long)config.data.num_passkeys);
  const std::vector<PasskeyAccuracy> acc =
      passkey_accuracy(model, gen, config.eval.lengths, config.eval.samples, config.eval.batch);
  for (const PasskeyAccuracy& a : acc)
    std::printf("  length %6lld: %4lld / %4lld = %.1f%%\n", (long long)a.length, (long long)a.correct,
                (long long)a.total, 100.0 * a.accuracy());
  std::fflush(stdout);
  if (!csv.empty()) write_eval_csv(csv, acc);
}

void pretrain(PretrainConfig config, const std::filesystem::path& out) {
  const at::Device device = device_of(config);
  const PretrainConfig::Train& t = config.train;
  const int64_t T = config.data.context, B = t.batch;
  std::filesystem::create_directories(out);

  const Tokenizer tok = Tokenizer::from_dir(config.model.tokenizer);
  std::printf("duo-pretrain: reading and tokenizing the haystack...\n");
  std::fflush(stdout);
  const MixGenerator mix(config, tok);

  LlamaModel model = LlamaModel::random(model_config(config, tok), t.seed, at::kFloat, device);
  std::vector<at::Tensor> decay, no_decay, params;
  int64_t num_params = 0;
  for (auto& [name, w] : model.named_weights()) {
    w.requires_grad_(true);
    (w.dim() >= 2 ? decay : no_decay).push_back(w);  // norms' gains are not decayed
    params.push_back(w);
    num_params += w.numel();
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).weight_decay(t.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(t.lr).betas({t.beta1, t.beta2}).weight_decay(0.0)));
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(t.lr));
  std::printf("duo-pretrain: %lld parameters (%.2f M), %lld layers, context %lld, batch %lld, %s on %s\n",
              (long long)num_params, num_params / 1e6, (long long)config.model.num_layers, (long long)T, (long long)B,
              t.precision.c_str(), device.str().c_str());

  const bool bf16 = t.precision == "bf16";
  if (bf16) at::autocast::set_autocast_dtype(device.type(), at::kBFloat16);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  // Every output goes through write_text_file / append_text_file: a full disk stops the run with
  // one error naming the file instead of a checkpoint or curve silently cut short.
  const std::filesystem::path curve = out / "curve.csv";
  write_text_file(curve, "step,lr,loss,answer_loss,answer_accuracy,first_answer_token_accuracy,tokens_per_s\n");
  // pretrain.yaml records the plan (steps fixed, no budget), so that it reruns this schedule.
  auto save = [&](int64_t planned) {
    write_hf_checkpoint(out, model, config.model.tokenizer);
    PretrainConfig used = config;
    used.train.steps = planned;
    used.train.time_budget_s = 0;
    write_text_file(out / "pretrain.yaml", used.to_yaml());
  };

  // The plan: train.steps, or fewer if the measured step time says the budget would run out.
  int64_t total = t.steps;
  const int64_t measure_from = std::min<int64_t>(5, total), measure_to = std::min<int64_t>(25, total);
  auto clock = [] { return std::chrono::steady_clock::now(); };
  const auto t0 = clock();
  auto t_measure = t0, t_log = t0;

  // Sums over the current logging interval, kept on the device to avoid a sync per step.
  at::Tensor sum_loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
  at::Tensor sum_answer_loss = sum_loss.clone(), sum_answer_right = sum_loss.clone(), sum_answer = sum_loss.clone();
  at::Tensor sum_first_right = sum_loss.clone(), sum_first = sum_loss.clone();
  int64_t interval_steps = 0;

  std::future<Batch> next = std::async(std::launch::async, make_batch, std::cref(mix), 0, B, T);
  int64_t step = 0;
  for (; step < total && !g_stop; ++step) {
    Batch batch = next.get();
    if (step + 1 < total) next = std::async(std::launch::async, make_batch, std::cref(mix), step + 1, B, T);
    const double lr = learning_rate(t, step, total);
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);

    at::Tensor ids = batch.ids.to(device, /*non_blocking=*/true);
    at::Tensor answer_kind = batch.answer.to(device, true).narrow(1, 1, T - 1);
    at::Tensor answer = answer_kind > 0, answer_first = answer_kind == kAnswerFirst;
    at::Tensor inputs = ids.narrow(1, 0, T - 1), targets = ids.narrow(1, 1, T - 1);

    if (bf16) at::autocast::set_autocast_enabled(device.type(), true);
    FullAttention attn;
    at::Tensor logits = model.forward(inputs, attn).logits.to(at::kFloat);
    if (bf16) {
      at::autocast::set_autocast_enabled(device.type(), false);
      at::autocast::clear_cache();  // the bf16 copies of the weights go stale at the update
    }
    const int64_t V = logits.size(-1);
    at::Tensor token_loss = at::cross_entropy_loss(logits.reshape({-1, V}), targets.reshape({-1}), {},
                                                   at::Reduction::None).view_as(targets);
    at::Tensor weight = at::where(answer, config.data.answer_weight, config.data.text_weight).to(at::kFloat);
    at::Tensor loss = (token_loss * weight).sum() / weight.sum();
    optimizer.zero_grad();
    loss.backward();

    {  // clip the global gradient norm without a host sync
      at::NoGradGuard no_grad;
      std::vector<at::Tensor> norms;
      for (const at::Tensor& p : params) norms.push_back(p.grad().norm());
      at::Tensor total_norm = at::stack(norms).norm();
      at::Tensor scale = (t.grad_clip / (total_norm + 1e-6)).clamp_max(1.0);
      for (const at::Tensor& p : params) p.grad().mul_(scale);
    }
    optimizer.step();

    {
      at::NoGradGuard no_grad;
      at::Tensor a = answer.to(at::kDouble), f = answer_first.to(at::kDouble);
      at::Tensor right = (logits.argmax(-1) == targets).to(at::kDouble);
      sum_loss += token_loss.mean();
      sum_answer_loss += (token_loss * a).sum();
      sum_answer_right += (right * a).sum();
      sum_answer += a.sum();
      sum_first_right += (right * f).sum();
      sum_first += f.sum();
      ++interval_steps;
    }

    const int64_t done = step + 1;
    if (t.time_budget_s > 0 && (done == measure_from || done == measure_to)) {
      loss.item();  // waits for the device, so the clock measures finished steps
      if (done == measure_from) {
        t_measure = clock();
      } else {
        const double per_step = std::chrono::duration<double>(clock() - t_measure).count() / double(measure_to - measure_from);
        const double left = t.time_budget_s - std::chrono::duration<double>(clock() - t0).count();
        const int64_t fits = done + int64_t(std::max(0.0, left) / per_step);
        if (fits < total) total = std::max(done, fits);
        std::printf("duo-pretrain: %.3f s/step; %lld steps planned (train.time_budget_s %g, train.steps %lld)\n",
                    per_step, (long long)total, t.time_budget_s, (long long)t.steps);
      }
    }
    if (done % t.log_every == 0 || done == total) {
      const double n_answer = std::max(1.0, sum_answer.item<double>());
      const double l = sum_loss.item<double>() / double(interval_steps);
      const double al = sum_answer_loss.item<double>() / n_answer, aa = sum_answer_right.item<double>() / n_answer;
      const double fa = sum_first_right.item<double>() / std::max(1.0, sum_first.item<double>());
      const auto now = clock();
      const double dt = std::chrono::duration<double>(now - t_log).count();
      const double tok_s = double(interval_steps * B * (T - 1)) / dt;
      const double elapsed = std::chrono::duration<double>(now - t0).count();
      const double eta = elapsed / double(done) * double(total - done);
      std::printf("step %6lld/%lld  lr %.2e  loss %.4f  answer loss %.4f  answer acc %.3f  first %.3f  %.0f tok/s  ETA %s\n",
                  (long long)done, (long long)total, lr, l, al, aa, fa, tok_s, ProgressBar::format_duration(eta).c_str());
      std::fflush(stdout);
      std::ostringstream line;
      line << done << "," << lr << "," << l << "," << al << "," << aa << "," << fa << "," << tok_s << "\n";
      append_text_file(curve, line.str());
      for (at::Tensor* s : {&sum_loss, &sum_answer_loss, &sum_answer_right, &sum_answer, &sum_first_right, &sum_first})
        s->zero_();
      interval_steps = 0;
      t_log = now;
    }
    if (done % t.save_every == 0 && done < total) save(total);
  }
  if (next.valid()) next.wait();
  save(total);
  std::printf("duo-pretrain: %lld steps in %s; checkpoint in %s\n", (long long)step,
              ProgressBar::format_duration(std::chrono::duration<double>(clock() - t0).count()).c_str(),
              out.string().c_str());
  if (g_stop) {
    std::printf("duo-pretrain: stopped by a signal; skipping the passkey evaluation\n");
    return;
  }
  evaluate_checkpoint(config, out, out / "passkey_eval.csv");
}

}  // namespace duo
