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
  return std::to_string(checkpointed_layers) + " layers checkpointed, the rest keep their activations (a step with " +
         "every layer checkpointed peaks at " + format_bytes(checkpointed_peak_bytes) + ", each layer kept adds " +
         format_bytes(per_kept_layer_bytes) + ", " + format_bytes(usable_bytes) + " usable)";
}

#ifdef DUO_WITH_CUDA
namespace {

// Peak bytes the caching allocator handed out during one step with `checkpointed` layers
// checkpointed.
double trial_step_peak(const LlamaModel& model, ObjectiveOptions options, int checkpointed, const at::Tensor& ids,
                       const at::Tensor& mask) {
  const auto device = model.device();
  options.checkpointed_layers = checkpointed;
  auto gates = at::full({model.config().num_hidden_layers, model.config().num_key_value_heads}, 0.5,
                        at::TensorOptions().dtype(at::kFloat).device(device))
                   .requires_grad_(true);
  torch::cuda::synchronize(device.index());
  c10::cuda::CUDACachingAllocator::emptyCache();
  c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
  distill_objective(model, gates, ids, mask, options).total.backward();
  torch::cuda::synchronize(device.index());
  return double(c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].peak);
}

}  // namespace
#endif

CheckpointPlan plan_checkpointing(const LlamaModel& model, const ObjectiveOptions& options, int64_t context_length) {
  const int layers = static_cast<int>(model.config().num_hidden_layers);
  CheckpointPlan plan;
  plan.checkpointed_layers = layers;
#ifdef DUO_WITH_CUDA
  const auto device = model.device();
  if (!device.is_cuda() || !options.activation_checkpointing || layers < 2) return plan;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(20241001);
  const auto ids = at::randint(model.config().vocab_size, {1, context_length}, generator, at::kLong).to(device);
  auto mask = at::zeros({1, context_length}, at::kBool);
  mask.narrow(1, context_length - std::max<int64_t>(1, context_length / 16), std::max<int64_t>(1, context_length / 16))
      .fill_(true);
  mask = mask.to(device);

  plan.checkpointed_peak_bytes = trial_step_peak(model, options, layers, ids, mask);
  plan.per_kept_layer_bytes =
      std::max(1.0, trial_step_peak(model, options, layers - 1, ids, mask) - plan.checkpointed_peak_bytes);
  c10::cuda::CUDACachingAllocator::emptyCache();
  const double held = double(c10::cuda::CUDACachingAllocator::getDeviceStats(device.index()).allocated_bytes[0].current);
  plan.usable_bytes = 0.92 * (device_memory_bytes(device) + held);
  const double kept = std::floor((plan.usable_bytes - plan.checkpointed_peak_bytes) / plan.per_kept_layer_bytes);
  plan.checkpointed_layers = layers - static_cast<int>(std::clamp(kept, 0.0, double(layers)));
#else
  (void)options;
  (void)context_length;
#endif
  return plan;
}

}  // namespace duo
