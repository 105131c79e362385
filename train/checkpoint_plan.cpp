#include "checkpoint_plan.h"

#include <algorithm>
#include <cmath>

#include <torch/cuda.h>

#ifdef DUO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "model/model_memory.h"

namespace duo {

std::string CheckpointPlan::summary() const {
  if (per_kept_layer_bytes <= 0) return "every layer checkpointed";
  return std::to_string(checkpointed_layers) + " layers checkpointed, the rest keep their activations (a step " +
         "with only the top layer kept peaks at " + format_bytes(checkpointed_peak_bytes) + ", each further layer " +
         "kept adds " + format_bytes(per_kept_layer_bytes) + ", " + format_bytes(usable_bytes) + " usable)";
}

#ifdef DUO_WITH_CUDA
namespace {

struct TrialStep {
  double peak = 0;          // bytes the caching allocator handed out at most during the step
  double after_forward = 0;  // bytes held between the forward pass and the backward
};

TrialStep trial_step(const LlamaModel& model, ObjectiveOptions options, int checkpointed, const at::Tensor& ids,
                     const at::Tensor& mask) {
  const auto index = model.device().index();
  auto stats = [&] { return c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0]; };
  options.checkpointed_layers = checkpointed;
  auto gates = at::full({model.config().num_hidden_layers, model.config().num_key_value_heads}, 0.5,
                        at::TensorOptions().dtype(at::kFloat).device(model.device()))
                   .requires_grad_(true);
  torch::cuda::synchronize(index);
  c10::cuda::CUDACachingAllocator::emptyCache();
  c10::cuda::CUDACachingAllocator::resetPeakStats(index);
  TrialStep t;
  {
    Objective objective = distill_objective(model, gates, ids, mask, options);
    torch::cuda::synchronize(index);
    // Blocks a copy stream has used are freed at its next event check, which emptyCache makes.
    c10::cuda::CUDACachingAllocator::emptyCache();
    t.after_forward = double(stats().current);
    objective.total.backward();
  }
  torch::cuda::synchronize(index);
  t.peak = double(stats().peak);
  return t;
}

}  // namespace
#endif

CheckpointPlan plan_checkpointing(const LlamaModel& model, const ObjectiveOptions& options, int64_t context_length) {
  const int layers = static_cast<int>(model.config().num_hidden_layers);
  CheckpointPlan plan;
  plan.checkpointed_layers = layers;
#ifdef DUO_WITH_CUDA
  const auto device = model.device();
  if (!device.is_cuda() || !options.activation_checkpointing || layers < 3) return plan;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(20241001);
  const auto ids = at::randint(model.config().vocab_size, {1, context_length}, generator, at::kLong).to(device);
  const int64_t answer = std::max<int64_t>(1, context_length / 16);
  auto mask = at::zeros({1, context_length}, at::kBool);
  mask.narrow(1, context_length - answer, answer).fill_(true);
  mask = mask.to(device);

  // The top layer keeps its activations in both trials (it computes its MLP on the answer rows
  // only, so it is no measure of the others); the second keeps `probe` layers more. What they
  // hold between forward and backward grows by one kept layer's activations each, and the peak
  // of a step with n layers kept is that of the first trial plus n - 1 of them (a Llama-3-8B
  // step at 32K tokens on an H200: 27.4 GiB with no layer kept, 68.6 with 16, 114.3 with all).
  const int probe = std::min(2, layers - 2);
  const TrialStep top_only = trial_step(model, options, layers - 1, ids, mask);
  const TrialStep more = trial_step(model, options, layers - 1 - probe, ids, mask);
  plan.checkpointed_peak_bytes = top_only.peak;
  plan.per_kept_layer_bytes = std::max(1.0, (more.after_forward - top_only.after_forward) / probe);
  c10::cuda::CUDACachingAllocator::emptyCache();
  const double held = double(c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].current);
  plan.usable_bytes = 0.92 * (device_memory_bytes(device) + held);
  const double more_kept = std::floor((plan.usable_bytes - plan.checkpointed_peak_bytes) / plan.per_kept_layer_bytes);
  // The top layer is kept whenever any is: what it holds is in the first trial's peak.
  const int kept = plan.usable_bytes < plan.checkpointed_peak_bytes
                       ? 0
                       : 1 + static_cast<int>(std::clamp(more_kept, 0.0, double(layers - 1)));
  plan.checkpointed_layers = layers - kept;
#else
  (void)options;
  (void)context_length;
#endif
  return plan;
}

}  // namespace duo
